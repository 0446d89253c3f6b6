// A TCP proxy on 127.0.0.1:0 in front of another local server, for the profile tests: it counts
// the exact bytes that cross it in each direction, per connection (so TLS records are counted
// as the wire carries them), and can hold the upstream's first flight for a while. In front of
// a TLS server that first flight is the ServerHello..Finished of the handshake, so holding it
// lengthens exactly the client's TLS handshake: the client's TCP connect completes at once (the
// proxy's kernel accepts it), and nothing after the handshake is delayed.
import * as net from 'node:net'
import { listenLocal } from './listen.js'
import { originOf, trackServer } from './server.js'

export interface ProxiedConnection {
  /** Bytes read from the client (and forwarded upstream). */
  fromClient: number
  /** Bytes written to the client (forwarded from upstream). */
  toClient: number
  /** Both sides are gone. */
  closed: boolean
}

export interface TcpProxyOptions {
  /** The local port the proxy forwards to (on 127.0.0.1). */
  targetPort: number
  /** Hold everything the upstream sends, from its first byte, for this long. Default 0. */
  holdFirstResponseMs?: number
  /** Scheme used by `url()`. Default 'https'. */
  scheme?: 'http' | 'https'
  /** Host name used by `url()`. Default 'files.test'. */
  hostname?: string
}

export interface TcpProxy {
  readonly port: number
  /** `scheme://hostname:port` */
  readonly origin: string
  url(path: string): string
  /** Every connection accepted, in order. */
  readonly connections: ProxiedConnection[]
  close(): Promise<void>
}

/** Upper bound for the hold, so a typo cannot park a test for minutes. */
const MAX_HOLD_MS = 10_000

export async function startTcpProxy(opts: TcpProxyOptions): Promise<TcpProxy> {
  const holdMs = Math.min(opts.holdFirstResponseMs ?? 0, MAX_HOLD_MS)
  const scheme = opts.scheme ?? 'https'
  const hostname = opts.hostname ?? 'files.test'
  const connections: ProxiedConnection[] = []

  const server = net.createServer((client) => {
    const record: ProxiedConnection = { fromClient: 0, toClient: 0, closed: false }
    connections.push(record)
    const upstream = net.connect(opts.targetPort, '127.0.0.1')
    tracked.track(upstream)
    // A reset on either side just ends the pair.
    client.on('error', () => {})
    upstream.on('error', () => {})
    client.setNoDelay(true)
    upstream.setNoDelay(true)

    // Upstream -> client, held from the first byte for holdMs when asked.
    let holding = holdMs > 0
    let released = holdMs === 0
    const held: Buffer[] = []
    let upstreamEnded = false
    const toClient = (chunk: Buffer) => {
      record.toClient += chunk.length
      if (!client.write(chunk)) {
        upstream.pause()
        client.once('drain', () => upstream.resume())
      }
    }
    const release = () => {
      released = true
      for (const chunk of held.splice(0)) toClient(chunk)
      if (upstreamEnded) client.end()
    }
    upstream.on('data', (chunk: Buffer) => {
      if (released) return toClient(chunk)
      held.push(chunk)
      if (holding) {
        holding = false
        tracked.later(holdMs, release)
      }
    })
    upstream.on('end', () => {
      upstreamEnded = true
      if (released) client.end()
    })

    // Client -> upstream, at once (net buffers writes while the upstream connects).
    client.on('data', (chunk: Buffer) => {
      record.fromClient += chunk.length
      if (!upstream.write(chunk)) {
        client.pause()
        upstream.once('drain', () => client.resume())
      }
    })
    client.on('end', () => upstream.end())

    let open = 2
    const onClose = () => {
      if (--open === 0) record.closed = true
      client.destroy()
      upstream.destroy()
    }
    client.on('close', onClose)
    upstream.on('close', onClose)
  })
  const tracked = trackServer(server)

  const port = await listenLocal(server)
  return {
    port,
    ...originOf(scheme, hostname, port),
    connections,
    close: tracked.close,
  }
}
