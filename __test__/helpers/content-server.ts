// A well-behaved content server on 127.0.0.1:0, over plain HTTP/1.1, HTTPS (HTTP/1.1 only via
// ALPN) or HTTPS with HTTP/2 (node:http2; 'h2' also accepts HTTP/1.1, 'h2-only' does not). It
// records every request (headers included) and counts the TCP connections it accepted, so tests
// can assert server-side facts.
//
// Routes (every body deterministic, see bytes.ts):
//   /bytes/<n>[?seed=S]            n bytes of patternBytes(n, S), Content-Length, octet-stream
//   /chunked/<n>[?seed=S]          the same bytes without Content-Length (chunked on HTTP/1.1)
//   /redirect/<k>[?status=302]     a chain of k redirects ending at /bytes/1024 (k = 0: the bytes)
//   /redirect-to?url=U[&status=302] one redirect to U
//   /slow/<n>?delayMs=D&chunks=C&headerDelayMs=H[&seed=S][&length=0]
//                                  waits H ms, sends the head (Content-Length n unless length=0),
//                                  then C chunks of the n bytes, waiting D ms before each
//                                  (defaults: D 1000, C 1, H 0)
//   /hang                          never answers
//   /headers                       the request headers as a JSON object
//   /status/<code>                 that status, body `status <code>` (none for 204/304)
//   /named[?filename=report.pdf]   Content-Disposition attachment with that filename
//   /file.<ext>, /files/<any>[?type=T][&filename=F]
//                                  64 bytes, Content-Type T (default octet-stream), and with F
//                                  a Content-Disposition filename: to rank extension sources
//   /typed[?type=image/png]        64 bytes with only a Content-Type
//   /response-headers?k=v&k=v2     200, every query pair set as a response header (repeats kept)
//   /gzip                          a gzip-compressed text with Content-Encoding: gzip
//   anything else                  404
import * as http from 'node:http'
import * as https from 'node:https'
import * as http2 from 'node:http2'
import { gzipSync } from 'node:zlib'
import type { Pem } from '../../src/cli/certs.js'
import { patternBytes } from './bytes.js'
import { listenLocal } from './listen.js'
import { originOf, type Tracked, trackServer } from './server.js'

export type ContentMode = 'http' | 'https' | 'h2' | 'h2-only'

export interface RecordedRequest {
  method: string
  /** Path and query as requested (`:path` on HTTP/2). */
  path: string
  /** Request headers, names lower-case (HTTP/2 pseudo-headers included). */
  headers: http.IncomingHttpHeaders
  /** '1.1' or '2.0'. */
  httpVersion: string
  /** Which connection carried it: 1 for the first connection that sent a request, and so on. */
  connectionId: number
}

export interface ContentServerOptions {
  mode?: ContentMode
  /** Certificate and key for the TLS modes. */
  cert?: Pem
  /** Host name used by `url()`: default '127.0.0.1' for http, 'files.test' for TLS modes. */
  hostname?: string
  /**
   * HTTP/2 modes: Node's per-session memory limit in MiB (default 10). Past it, Node refuses
   * new streams with RST_STREAM ENHANCE_YOUR_CALM; the soak's many concurrent streams on one
   * connection need more.
   */
  maxSessionMemory?: number
  /** The loopback address to listen on (default 127.0.0.1), e.g. '::1' or '127.0.0.2'. */
  listenHost?: string
  /** The port to listen on (default 0: any free one). */
  listenPort?: number
  /**
   * Plain-HTTP mode: the largest request head Node accepts, bytes (Node's default 16 KiB,
   * past which it answers 431). The header-size tests send heads of 64 KiB and more.
   */
  maxHeaderSize?: number
}

export interface ContentServer {
  readonly mode: ContentMode
  readonly port: number
  /** `scheme://hostname:port` */
  readonly origin: string
  /** Absolute URL of `path` on this server (`path` starts with '/'). */
  url(path: string): string
  /** Every request seen, in arrival order. */
  readonly requests: RecordedRequest[]
  /** Requests whose path (without query) starts with `prefix`. */
  requestsTo(prefix: string): RecordedRequest[]
  /** TCP connections accepted. */
  readonly connections: number
  /** Responses whose body was cut off because the client went away. */
  readonly aborted: number
  close(): Promise<void>
}

type Req = http.IncomingMessage | http2.Http2ServerRequest
type Res = http.ServerResponse | http2.Http2ServerResponse

const SMALL_BODY = 64
const WRITE_CHUNK = 64 * 1024
// Bounds for every loop and length a route accepts, so a typo cannot hang a test machine.
const MAX_LENGTH = 512 * 1024 * 1024
const MAX_CHUNKS = 10_000
const MAX_REDIRECTS = 100

export async function startContentServer(opts: ContentServerOptions = {}): Promise<ContentServer> {
  const mode = opts.mode ?? 'http'
  const tlsMode = mode !== 'http'
  if (tlsMode && !opts.cert) throw new TypeError(`startContentServer: mode ${mode} needs a cert`)
  const hostname = opts.hostname ?? (tlsMode ? 'files.test' : '127.0.0.1')
  const scheme = tlsMode ? 'https' : 'http'

  const requests: RecordedRequest[] = []
  const connectionIds = new WeakMap<object, number>()
  let nextConnectionId = 1
  let connections = 0
  let aborted = 0
  // Assigned once the server exists; routes run only after that.
  let tracked!: Tracked

  // After close() the promise never settles: the route stops where it waits.
  const sleep = (ms: number) => new Promise<void>((resolve) => tracked.later(ms, resolve))

  const connectionOf = (req: Req): number => {
    const key: object = 'stream' in req ? (req.stream.session ?? req.stream) : req.socket
    let id = connectionIds.get(key)
    if (id === undefined) {
      id = nextConnectionId++
      connectionIds.set(key, id)
    }
    return id
  }

  // Responses whose client went away (or that finished): writing stops there.
  const closedResponses = new WeakSet<Res>()
  const gone = (res: Res) => tracked.closed || closedResponses.has(res)

  const handler = (req: Req, res: Res) => {
    res.on('close', () => closedResponses.add(res))
    requests.push({
      method: req.method ?? '',
      path: req.url ?? '',
      headers: { ...req.headers },
      httpVersion: req.httpVersion,
      connectionId: connectionOf(req),
    })
    route(req, res).catch((err: unknown) => {
      // A route failing is a bug in the helper: answer 500 if still possible, and say why.
      console.error('content server route failed:', err)
      if (!res.headersSent) {
        res.statusCode = 500
        res.end(String(err))
      } else if ('stream' in res) {
        res.stream.destroy()
      } else {
        res.destroy()
      }
    })
  }

  /** Writes `body` in pieces, respecting backpressure; false if the client went away. */
  const writeBody = async (res: Res, body: Buffer, pieces = 1, delayMs = 0): Promise<boolean> => {
    const count = Math.max(1, Math.min(pieces, MAX_CHUNKS))
    const per = Math.ceil(body.length / count)
    for (let i = 0; i < count; i++) {
      if (delayMs > 0) await sleep(delayMs)
      if (gone(res)) return false
      const piece = body.subarray(i * per, Math.min(body.length, (i + 1) * per))
      for (let off = 0; off < piece.length; off += WRITE_CHUNK) {
        if (gone(res)) return false
        const ok = (res as http.ServerResponse).write(piece.subarray(off, off + WRITE_CHUNK))
        if (!ok && (gone(res) || !(await drained(res)))) return false
      }
    }
    return true
  }

  const finish = async (res: Res, body: Buffer, pieces = 1, delayMs = 0) => {
    if (await writeBody(res, body, pieces, delayMs)) {
      res.end()
    } else {
      aborted++
    }
  }

  const isHttp1 = (req: Req) => !req.httpVersion.startsWith('2')

  const route = async (req: Req, res: Res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const q = url.searchParams
    const parts = url.pathname.split('/').filter(Boolean)
    const seed = intParam(q.get('seed'), 1)
    const head = parts[0] ?? ''
    const arg = parts[1]

    if (head === 'bytes' && arg !== undefined) {
      const n = lengthArg(arg)
      const body = patternBytes(n, seed)
      res.writeHead(200, binaryHead(n))
      return finish(res, body)
    }
    if (head === 'chunked' && arg !== undefined) {
      const n = lengthArg(arg)
      const body = patternBytes(n, seed)
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/octet-stream' }
      // Node would add Content-Length to a body written by end() alone; say chunked outright.
      // HTTP/2 has no transfer codings: there, no Content-Length is enough.
      if (isHttp1(req)) headers['transfer-encoding'] = 'chunked'
      res.writeHead(200, headers)
      return finish(res, body, 4)
    }
    if (head === 'redirect' && arg !== undefined) {
      const k = Math.min(intParam(arg, 0), MAX_REDIRECTS)
      if (k <= 0) {
        const body = patternBytes(1024, seed)
        res.writeHead(200, binaryHead(1024))
        return finish(res, body)
      }
      const status = intParam(q.get('status'), 302)
      const location = k === 1 ? '/bytes/1024' : `/redirect/${k - 1}${url.search}`
      res.writeHead(status, { location, 'content-length': '0' })
      return void res.end()
    }
    if (head === 'redirect-to') {
      const status = intParam(q.get('status'), 302)
      res.writeHead(status, { location: q.get('url') ?? '/', 'content-length': '0' })
      return void res.end()
    }
    if (head === 'slow' && arg !== undefined) {
      const n = lengthArg(arg)
      const delayMs = intParam(q.get('delayMs'), 1000)
      const chunks = intParam(q.get('chunks'), 1)
      const headerDelayMs = intParam(q.get('headerDelayMs'), 0)
      if (headerDelayMs > 0) await sleep(headerDelayMs)
      if (gone(res)) return
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/octet-stream' }
      if (q.get('length') !== '0') headers['content-length'] = String(n)
      else if (isHttp1(req)) headers['transfer-encoding'] = 'chunked'
      res.writeHead(200, headers)
      flushHead(res)
      return finish(res, patternBytes(n, seed), chunks, delayMs)
    }
    if (head === 'hang') {
      return // the response stays open until the client or close() ends it
    }
    if (head === 'headers') {
      const body = Buffer.from(JSON.stringify(req.headers))
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length })
      return void res.end(body)
    }
    if (head === 'status' && arg !== undefined) {
      const code = intParam(arg, 200)
      if (code < 200 || code > 599) throw new RangeError(`/status: unsupported code ${code}`)
      if (code === 204 || code === 304) {
        res.writeHead(code)
        return void res.end()
      }
      const body = Buffer.from(`status ${code}`)
      res.writeHead(code, { 'content-type': 'text/plain', 'content-length': String(body.length) })
      return void res.end(body)
    }
    if (head === 'named') {
      const filename = q.get('filename') ?? 'report.pdf'
      const body = patternBytes(SMALL_BODY, seed)
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-disposition': `attachment; filename="${filename}"`,
        'content-length': String(body.length),
      })
      return void res.end(body)
    }
    const fileLike = parts.length === 1 && /^file\.[A-Za-z0-9]+$/.test(head)
    if (fileLike || (head === 'files' && arg !== undefined)) {
      const body = patternBytes(SMALL_BODY, seed)
      const headers: http.OutgoingHttpHeaders = {
        'content-type': q.get('type') ?? 'application/octet-stream',
        'content-length': String(body.length),
      }
      const filename = q.get('filename')
      if (filename !== null) headers['content-disposition'] = `attachment; filename="${filename}"`
      res.writeHead(200, headers)
      return void res.end(body)
    }
    if (head === 'typed') {
      const body = patternBytes(SMALL_BODY, seed)
      const type = q.get('type') ?? 'image/png'
      res.writeHead(200, { 'content-type': type, 'content-length': body.length })
      return void res.end(body)
    }
    if (head === 'response-headers') {
      const headers: Record<string, string[]> = {}
      for (const [k, v] of q) (headers[k.toLowerCase()] ??= []).push(v)
      const body = Buffer.from('headers set')
      for (const [k, v] of Object.entries(headers)) res.setHeader(k, v.length === 1 ? v[0]! : v)
      res.setHeader('content-length', String(body.length))
      res.writeHead(200)
      return void res.end(body)
    }
    if (head === 'gzip') {
      const body = gzipSync(Buffer.from('tt-download stores bytes as received\n'.repeat(64)))
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-encoding': 'gzip',
        'content-length': String(body.length),
      })
      return void res.end(body)
    }
    const body = Buffer.from('not found')
    res.writeHead(404, { 'content-type': 'text/plain', 'content-length': String(body.length) })
    res.end(body)
  }

  let server: http.Server | https.Server | http2.Http2SecureServer
  if (mode === 'http') {
    server = http.createServer(opts.maxHeaderSize === undefined ? {} : { maxHeaderSize: opts.maxHeaderSize }, handler)
  } else if (mode === 'https') {
    const { cert, key } = opts.cert!
    server = https.createServer({ cert, key, ALPNProtocols: ['http/1.1'] }, handler)
  } else {
    server = http2.createSecureServer(
      {
        cert: opts.cert!.cert,
        key: opts.cert!.key,
        allowHTTP1: mode === 'h2',
        ...(opts.maxSessionMemory === undefined ? {} : { maxSessionMemory: opts.maxSessionMemory }),
      },
      handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
    )
  }
  tracked = trackServer(server)
  server.on('connection', () => connections++)
  // TLS handshakes that fail (an untrusted certificate, plain text) are expected in tests.
  server.on('tlsClientError', () => {})
  server.on('sessionError', () => {})

  const port = await listenLocal(server, opts.listenPort ?? 0, opts.listenHost ?? '127.0.0.1')
  return {
    mode,
    port,
    ...originOf(scheme, hostname, port),
    requests,
    requestsTo: (prefix: string) => requests.filter((r) => r.path.split('?')[0]!.startsWith(prefix)),
    get connections() {
      return connections
    },
    get aborted() {
      return aborted
    },
    close: tracked.close,
  }
}

function binaryHead(length: number): http.OutgoingHttpHeaders {
  return { 'content-type': 'application/octet-stream', 'content-length': length }
}

function intParam(value: string | null | undefined, fallback: number): number {
  if (value === null || value === undefined || value === '') return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`bad integer parameter ${value}`)
  return n
}

function lengthArg(value: string): number {
  const n = intParam(value, 0)
  if (n > MAX_LENGTH) throw new RangeError(`length ${n} over the helper's bound`)
  return n
}

function flushHead(res: Res) {
  // HTTP/1.1 sends the head now; HTTP/2's compat layer sends it on writeHead already.
  if ('flushHeaders' in res && typeof res.flushHeaders === 'function') res.flushHeaders()
}

function drained(res: Res): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = () => {
      cleanup()
      resolve(true)
    }
    const onClose = () => {
      cleanup()
      resolve(false)
    }
    const cleanup = () => {
      res.off('drain', onDrain)
      res.off('close', onClose)
    }
    res.on('drain', onDrain)
    res.on('close', onClose)
  })
}
