// Starting a test server on loopback: one place for the listen/error dance every helper needs.
import type { AddressInfo, Server } from 'node:net'

/** Listens on `host:port` (port 0: any free one) and resolves with the bound port. */
export function listenLocal(server: Server, port = 0, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}
