// Misbehaving servers on raw TCP (node:net), for the failures a real network produces: a reset
// in the middle of a body, a stall, a body shorter than promised, garbage instead of HTTP, plain
// text on a port the client believes speaks TLS, and a port where nothing listens.
import * as net from 'node:net'
import { patternBytes } from './bytes.js'
import { listenLocal } from './listen.js'
import { originOf, readHead, trackServer } from './server.js'

export interface RawServer {
  readonly port: number
  /** `scheme://hostname:port` */
  readonly origin: string
  url(path?: string): string
  /** TCP connections accepted. */
  readonly connections: number
  /** Request heads received (everything up to the blank line), in order. */
  readonly requests: string[]
  close(): Promise<void>
}

export interface RawServerOptions {
  /** Scheme used by `url()`; the server itself never speaks TLS. Default 'http'. */
  scheme?: 'http' | 'https'
  /** Host name used by `url()`. Default '127.0.0.1'. */
  hostname?: string
  /** Wait for a complete request head before acting (default true); false: act on connect. */
  waitForRequest?: boolean
}

export interface RawContext {
  /** setTimeout that close() cancels. */
  later(ms: number, fn: () => void): void
}

/** What the server does with a connection once the request head arrived (or at once). */
export type RawBehaviour = (socket: net.Socket, head: string, ctx: RawContext) => void

export async function startRawServer(behaviour: RawBehaviour, opts: RawServerOptions = {}): Promise<RawServer> {
  const scheme = opts.scheme ?? 'http'
  const hostname = opts.hostname ?? '127.0.0.1'
  const waitForRequest = opts.waitForRequest ?? true
  const requests: string[] = []
  let connections = 0
  const server = net.createServer((socket) => {
    connections++
    socket.on('error', () => {}) // resets from the client side are part of the game
    if (!waitForRequest) {
      socket.on('data', () => {}) // drain whatever the client sends
      behaviour(socket, '', tracked)
      return
    }
    readHead(socket, (head) => {
      socket.on('data', () => {})
      requests.push(head)
      behaviour(socket, head, tracked)
    })
  })
  const tracked = trackServer(server)

  const port = await listenLocal(server)
  return {
    port,
    ...originOf(scheme, hostname, port),
    get connections() {
      return connections
    },
    requests,
    close: tracked.close,
  }
}

function responseHead(contentLength: number | null, extra: Record<string, string> = {}): string {
  const lines = ['HTTP/1.1 200 OK', 'Content-Type: application/octet-stream']
  if (contentLength !== null) lines.push(`Content-Length: ${contentLength}`)
  for (const [k, v] of Object.entries(extra)) lines.push(`${k}: ${v}`)
  return lines.join('\r\n') + '\r\n\r\n'
}

export interface PartialBodyOptions {
  /** Content-Length promised in the head. Default 100000. */
  contentLength?: number
  /** Body bytes sent: patternBytes(sendBytes), a prefix of the promised body. Default 1000. */
  sendBytes?: number
  /** Delay from the last byte sent to the reset/close (the client reads the head). Default 100. */
  afterMs?: number
}

/** Sends a head promising `contentLength` bytes, `sendBytes` of them, then resets (RST). */
export function startResetMidBodyServer(opts: PartialBodyOptions & RawServerOptions = {}): Promise<RawServer> {
  const contentLength = opts.contentLength ?? 100_000
  const sendBytes = Math.min(opts.sendBytes ?? 1000, contentLength)
  return startRawServer((socket, _head, ctx) => {
    socket.write(responseHead(contentLength))
    socket.write(patternBytes(sendBytes), () => {
      ctx.later(opts.afterMs ?? 100, () => socket.resetAndDestroy())
    })
  }, opts)
}

/** Sends a head promising `contentLength` bytes, `sendBytes` of them, then closes cleanly (FIN). */
export function startShortBodyServer(opts: PartialBodyOptions & RawServerOptions = {}): Promise<RawServer> {
  const contentLength = opts.contentLength ?? 100_000
  const sendBytes = Math.min(opts.sendBytes ?? 1000, contentLength)
  return startRawServer((socket, _head, ctx) => {
    socket.write(responseHead(contentLength))
    socket.write(patternBytes(sendBytes), () => {
      ctx.later(opts.afterMs ?? 100, () => socket.end())
    })
  }, opts)
}

export interface StallOptions {
  /** Send a response head first (default true); false: accept the request and say nothing. */
  head?: boolean
  /** Content-Length of the head; null for none (body runs to the close). Default 100000. */
  contentLength?: number | null
  /** Body bytes sent before the stall. Default 0. */
  sendBytes?: number
}

/** Answers with a head (and maybe a few bytes), then stalls until close(). */
export function startStallServer(opts: StallOptions & RawServerOptions = {}): Promise<RawServer> {
  const contentLength = opts.contentLength === undefined ? 100_000 : opts.contentLength
  const sendBytes = opts.sendBytes ?? 0
  return startRawServer((socket) => {
    if (opts.head === false) return
    socket.write(responseHead(contentLength))
    if (sendBytes > 0) socket.write(patternBytes(sendBytes))
  }, opts)
}

/** Answers a request with bytes that are not HTTP, then closes. */
export function startGarbageServer(opts: RawServerOptions = {}): Promise<RawServer> {
  return startRawServer((socket) => {
    socket.end('SSH-2.0-OpenSSH_9.6 this is not an HTTP response\r\n\r\n\x00\x01\x02garbage')
  }, opts)
}

/**
 * Plain text on the port an https URL points at: whatever the client sends first (a TLS
 * ClientHello), the answer is a plain HTTP/1.1 400 and a close, as a plain-HTTP server would do.
 */
export function startPlainTextOnTlsServer(opts: Omit<RawServerOptions, 'scheme'> = {}): Promise<RawServer> {
  return startRawServer(
    (socket) => {
      socket.once('data', () => {
        socket.end(
          'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 32\r\n' +
            'Connection: close\r\n\r\nThis port speaks plain HTTP.\r\n\r\n',
        )
      })
    },
    { hostname: 'files.test', ...opts, scheme: 'https', waitForRequest: false },
  )
}

/** Resets every connection as soon as the request head arrived (no response byte at all). */
export function startResetBeforeResponseServer(opts: RawServerOptions = {}): Promise<RawServer> {
  return startRawServer((socket) => socket.resetAndDestroy(), opts)
}

/** Closes every connection cleanly once the request head arrived (no response byte at all). */
export function startCloseBeforeResponseServer(opts: RawServerOptions = {}): Promise<RawServer> {
  return startRawServer((socket) => socket.end(), opts)
}

/**
 * A loopback port where nothing listens (connection refused): bound once to get a free port,
 * then closed. Another process could take it in between; on a test machine that is rare enough.
 */
export async function refusedPort(): Promise<number> {
  const server = net.createServer()
  const port = await listenLocal(server)
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
