// undici 7 `stream()` through an Agent, the body written to a file stream. The HTTP/2 grid
// (job.http '2'): `allowH2` and one connection per origin, which multiplexes every download
// (undici's default of 100 streams per connection is above the grid's concurrencies).
import { Agent, buildConnector, stream } from 'undici'
import { createWriteStream, readFileSync } from 'node:fs'
import { once } from 'node:events'
import { join } from 'node:path'

export default async function setup(job) {
  const secure = job.url.startsWith('https:')
  const h2 = job.http === '2'
  // The protocol each connection negotiated (ALPN), by a connector that wraps undici's own:
  // stream() does not say which protocol carried a response.
  const protocols = {}
  let connections = 0
  const connector = buildConnector({ ...(secure ? { ca: readFileSync(job.caFile, 'utf8') } : {}), allowH2: h2 })
  const connect = (options, callback) =>
    connector(options, (error, socket) => {
      if (!error) {
        connections++
        const protocol = secure ? socket.alpnProtocol || 'http/1.1' : 'http/1.1'
        protocols[protocol] = (protocols[protocol] ?? 0) + 1
      }
      callback(error, socket)
    })
  const dispatcher = new Agent({ connections: h2 ? 1 : job.concurrency, allowH2: h2, connect })
  const one = async (i) => {
    let file
    await stream(job.url, { method: 'GET', dispatcher }, ({ statusCode }) => {
      if (statusCode !== 200) throw new Error(`status ${statusCode}`)
      file = createWriteStream(join(job.outDir, `${i}.bin`))
      return file
    })
    // stream() resolves once the writable finished; wait for the descriptor to be closed too.
    if (!file.closed) await once(file, 'close')
  }
  // undici counts connections, not downloads, by protocol.
  return { one, extra: () => ({ protocols, connections, protocolUnit: 'connection' }), close: () => dispatcher.close() }
}
