// Starting a test server on loopback: one place for the listen/error dance every helper needs.
import { connect, type AddressInfo, type Server, type Socket } from 'node:net'

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

/** A socket connected to `host:port` within `ms`, or undefined (refused, or no answer: a blackhole). */
export function connectWithin(host: string, port: number, ms: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, host)
    const timer = setTimeout(() => {
      socket.destroy()
      resolve(undefined)
    }, ms)
    socket.once('connect', () => {
      clearTimeout(timer)
      resolve(socket)
    })
    socket.once('error', () => {
      clearTimeout(timer)
      socket.destroy()
      resolve(undefined)
    })
  })
}

/** Whether `host:port` accepts a connection within `ms` (the probe is closed at once). */
export async function connectsWithin(host: string, port: number, ms: number): Promise<boolean> {
  const socket = await connectWithin(host, port, ms)
  socket?.destroy()
  return socket !== undefined
}

/**
 * Fills the accept queue of a listener that never accepts (held-listener.ts, blackhole.ts)
 * with idle connections, pushed into `fillers` for the caller to close, until a probe connect
 * gets no answer within `probeMs`: then the kernel drops every further SYN. Throws when the
 * queue did not fill after `maxFillers` connections.
 */
export async function fillAcceptQueue(
  host: string,
  port: number,
  fillers: Socket[],
  { probeMs = 300, maxFillers = 8 } = {},
): Promise<void> {
  for (let i = 0; i < maxFillers; i++) {
    const socket = await connectWithin(host, port, probeMs)
    if (socket === undefined) return
    fillers.push(socket)
  }
  throw new Error(`the accept queue of ${host}:${port} did not fill after ${maxFillers} connections`)
}
