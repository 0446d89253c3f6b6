// A plain HTTP/1.1 server on raw TCP (node:net) that counts, per connection, every byte it read
// from and wrote to the socket, and notes the totals when each response was written: the
// server-side truth for `sentBytesCount` / `receivedBytesCount`. It answers one request at a
// time per connection (keep-alive), in arrival order.
//
// Routes (GET, no request body):
//   /bytes/<n>[?delayMs=D][&close=1]  waits D ms, then 200 with n bytes of patternBytes(n) and
//                                     Content-Length; close=1 adds `Connection: close` and
//                                     closes the connection after the body
//   /hop/<k>[?delayMs=D]              k > 0: waits D ms, then 302 to /hop/<k-1> (same query),
//                                     Content-Length 0; /hop/0 is /bytes/1024 without delay
//   anything else                     404
import * as net from 'node:net'
import { patternBytes } from './bytes.js'
import { listenLocal } from './listen.js'
import { MAX_HEAD, originOf, trackServer } from './server.js'

export interface CountedRequest {
  /** Request line target. */
  path: string
  /** Socket totals of the connection right after this response's last byte was written. */
  readAtEnd: number
  writtenAtEnd: number
}

export interface CountedConnection {
  read: number
  written: number
  requests: CountedRequest[]
}

export interface CountingServer {
  readonly port: number
  readonly origin: string
  url(path: string): string
  /** Every connection accepted, in order. */
  readonly connections: CountedConnection[]
  /** Bytes read and written for request `index` of `conn`: since the previous response ended. */
  bytesOf(conn: CountedConnection, index: number): { read: number; written: number }
  /** Destroys every open connection (the server keeps listening). */
  dropConnections(): void
  close(): Promise<void>
}

const MAX_HOPS = 20
const MAX_BODY = 16 * 1024 * 1024
const MAX_DELAY_MS = 10_000

export async function startCountingServer(opts: { hostname?: string } = {}): Promise<CountingServer> {
  const hostname = opts.hostname ?? '127.0.0.1'
  const connections: CountedConnection[] = []

  const server = net.createServer((socket) => {
    const conn: CountedConnection = { read: 0, written: 0, requests: [] }
    connections.push(conn)
    socket.setNoDelay(true)
    socket.on('error', () => {})

    let buffered = Buffer.alloc(0)
    let busy = false
    const write = (data: Buffer) => {
      conn.written += data.length
      socket.write(data)
    }
    const next = () => {
      if (busy || socket.destroyed) return
      const end = buffered.indexOf('\r\n\r\n')
      if (end === -1) {
        if (buffered.length > MAX_HEAD) socket.destroy()
        return
      }
      const head = buffered.subarray(0, end).toString('latin1')
      buffered = buffered.subarray(end + 4)
      busy = true
      const target = head.split('\r\n')[0]!.split(' ')[1] ?? '/'
      const url = new URL(target, 'http://x')
      const delayMs = Math.min(delayOf(url), MAX_DELAY_MS)
      const respond = () => {
        const close = answer(url, write)
        conn.requests.push({ path: target, readAtEnd: conn.read, writtenAtEnd: conn.written })
        busy = false
        if (close) socket.end()
        else next()
      }
      if (delayMs > 0) tracked.later(delayMs, respond)
      else respond()
    }
    socket.on('data', (chunk: Buffer) => {
      conn.read += chunk.length
      buffered = Buffer.concat([buffered, chunk])
      next()
    })
  })
  const tracked = trackServer(server)

  const port = await listenLocal(server)
  return {
    port,
    ...originOf('http', hostname, port),
    connections,
    bytesOf(conn, index) {
      const request = conn.requests[index]
      if (request === undefined) throw new RangeError(`no request ${index} on that connection`)
      const before = conn.requests[index - 1]
      return {
        read: request.readAtEnd - (before?.readAtEnd ?? 0),
        written: request.writtenAtEnd - (before?.writtenAtEnd ?? 0),
      }
    },
    dropConnections: tracked.dropConnections,
    close: tracked.close,
  }
}

/** How long to wait before answering: `delayMs`, except for the last hop of a chain. */
function delayOf(url: URL): number {
  if (url.pathname === '/hop/0') return 0
  const ms = Number(url.searchParams.get('delayMs') ?? 0)
  return Number.isFinite(ms) && ms > 0 ? ms : 0
}

/** Writes the response for one request; true when the connection closes after it. */
function answer(url: URL, write: (data: Buffer) => void): boolean {
  const parts = url.pathname.split('/').filter(Boolean)
  const n = Number(parts[1])
  if (parts[0] === 'bytes' && Number.isInteger(n) && n >= 0 && n <= MAX_BODY) {
    const close = url.searchParams.get('close') === '1'
    const lines = ['HTTP/1.1 200 OK', 'Content-Type: application/octet-stream', `Content-Length: ${n}`]
    if (close) lines.push('Connection: close')
    write(Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), patternBytes(n)]))
    return close
  }
  if (parts[0] === 'hop' && Number.isInteger(n) && n >= 0 && n <= MAX_HOPS) {
    if (n === 0) return answer(new URL('/bytes/1024', 'http://x'), write)
    const location = `/hop/${n - 1}${url.search}`
    const head = `HTTP/1.1 302 Found\r\nLocation: ${location}\r\nContent-Length: 0\r\n\r\n`
    write(Buffer.from(head, 'latin1'))
    return false
  }
  const body = 'not found'
  write(Buffer.from(`HTTP/1.1 404 Not Found\r\nContent-Length: ${body.length}\r\n\r\n${body}`))
  return false
}
