// Servers for the policy, queue, host-state and engine-sharing specs: a raw TLS server that
// records request heads byte for byte (names in the case the client wrote them), a hold server
// that counts requests in flight on the server side, and an HTTPS server on port 443 for the
// domain-list port rule. All of them speak TLS with a certificate issued by the test CA, so
// release-mode hosts (https only) reach them through `resolve`.
import * as https from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import * as tls from 'node:tls'
import { issueCert, type Pem } from '../../src/cli/certs.js'
import { startContentServer, type ContentServer } from './content-server.js'
import { certKit, OTHER_HOST, TEST_HOST } from './tls.js'
import { listenLocal } from './listen.js'
import { readHead, trackServer } from './server.js'

/** A subdomain of TEST_HOST and the punycode form of `bücher.test`, both mapped by `POLICY_RESOLVE`. */
export const SUB_HOST = `cdn.${TEST_HOST}`
export const IDN_HOST = 'bücher.test'
export const IDN_ASCII = 'xn--bcher-kva.test'

/** Every name the policy leaf is valid for, mapped to loopback. */
export const POLICY_RESOLVE: Record<string, string> = {
  [TEST_HOST]: '127.0.0.1',
  [OTHER_HOST]: '127.0.0.1',
  [SUB_HOST]: '127.0.0.1',
  [IDN_ASCII]: '127.0.0.1',
}

let leaf: Promise<Pem> | undefined

/** Issued by the test CA for every name of POLICY_RESOLVE, `localhost` and 127.0.0.1. */
export function policyLeaf(): Promise<Pem> {
  leaf ??= certKit().then((kit) => issueCert(kit.ca, { hosts: [TEST_HOST, OTHER_HOST, SUB_HOST, IDN_ASCII, 'localhost', '127.0.0.1'] }))
  return leaf
}

interface Closable {
  close(): Promise<void>
}

/** `https://<hostname>:<port><path>`, TEST_HOST unless another of the leaf's names is given. */
function urlOn(port: number): (path: string, hostname?: string) => string {
  return (path, hostname = TEST_HOST) => `https://${hostname}:${port}${path}`
}

// ---------------------------------------------------------------------------------------------
// Raw TLS server: request heads exactly as written

export interface RawTlsServer extends Closable {
  readonly port: number
  /** `https://files.test:<port>` */
  url(path: string, hostname?: string): string
  /** Request heads as received (up to the blank line), in order. */
  readonly heads: string[]
  /** Header lines of the i-th head as [name, value], names in the case they were sent. */
  headerLines(i: number): [string, string][]
}

/**
 * Answers every request with `respond(socket, head)`, by default a 200 with the body `ok` and
 * `Connection: close`.
 */
export async function startRawTlsServer(
  respond: (socket: tls.TLSSocket, head: string) => void = (socket) =>
    socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'),
): Promise<RawTlsServer> {
  const cert = await policyLeaf()
  const heads: string[] = []
  const server = tls.createServer({ cert: cert.cert, key: cert.key, ALPNProtocols: ['http/1.1'] }, (socket) => {
    socket.on('error', () => {})
    readHead(socket, (head) => {
      socket.on('data', () => {})
      heads.push(head)
      respond(socket, head)
    })
  })
  const tracked = trackServer(server)
  server.on('tlsClientError', () => {})
  const port = await listenLocal(server)
  return {
    port,
    url: urlOn(port),
    heads,
    headerLines: (i) =>
      (heads[i] ?? '')
        .split('\r\n')
        .slice(1)
        .map((line) => {
          const colon = line.indexOf(':')
          return [line.slice(0, colon), line.slice(colon + 1).trim()] as [string, string]
        }),
    close: tracked.close,
  }
}

// ---------------------------------------------------------------------------------------------
// Hold server: requests in flight, counted on the server side

export interface Arrival {
  /** The path without the query. */
  path: string
  /** The `g` query parameter ('' when absent): which client group sent it. */
  group: string
  /** performance.now() when the request arrived. */
  at: number
}

export interface HoldServer extends Closable {
  readonly port: number
  url(path: string, hostname?: string): string
  /** Every request, in arrival order. */
  readonly arrivals: Arrival[]
  /** Paths of the requests that arrived, in order. */
  paths(): string[]
  /** Requests whose response has not ended or closed yet, now. */
  inFlight(group?: string): number
  /** The most requests (of a group, or of all) ever in flight at once. */
  maxInFlight(group?: string): number
  /** TCP connections accepted. */
  readonly connections: number
}

/**
 * HTTPS/1.1 server (HTTP/1.1 only via ALPN) on 127.0.0.1:
 *   /hold/<name>?ms=N[&g=G]  answers 200 with 16 bytes after N ms (default 200); a request counts
 *                            as in flight from its arrival until its response ends or the
 *                            client goes away
 *   /bytes/<n>[?g=G]         n bytes at once
 */
export async function startHoldServer(): Promise<HoldServer> {
  const cert = await policyLeaf()
  const arrivals: Arrival[] = []
  const current = new Map<string, number>()
  const max = new Map<string, number>()
  let connections = 0
  const ALL = '\0all'

  const enter = (group: string): void => {
    for (const key of [ALL, group]) {
      const n = (current.get(key) ?? 0) + 1
      current.set(key, n)
      max.set(key, Math.max(max.get(key) ?? 0, n))
    }
  }
  const leave = (group: string): void => {
    for (const key of [ALL, group]) current.set(key, (current.get(key) ?? 1) - 1)
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'https://x')
    const group = url.searchParams.get('g') ?? ''
    const parts = url.pathname.split('/').filter(Boolean)
    arrivals.push({ path: url.pathname, group, at: performance.now() })
    enter(group)
    let left = false
    res.on('close', () => {
      if (!left) leave(group)
      left = true
    })
    if (parts[0] === 'hold') {
      const ms = Number(url.searchParams.get('ms') ?? 200)
      tracked.later(Math.min(ms, 30_000), () => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 16 })
        res.end(Buffer.alloc(16, 7))
      })
      return
    }
    if (parts[0] === 'bytes') {
      const n = Math.min(Number(parts[1] ?? 0), 16 * 1024 * 1024)
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n })
      res.end(Buffer.alloc(n, 1))
      return
    }
    res.writeHead(404, { 'content-length': 0 })
    res.end()
  }

  const server = https.createServer({ cert: cert.cert, key: cert.key, ALPNProtocols: ['http/1.1'] }, handler)
  const tracked = trackServer(server)
  server.on('connection', () => connections++)
  server.on('tlsClientError', () => {})
  const port = await listenLocal(server)
  return {
    port,
    url: urlOn(port),
    arrivals,
    paths: () => arrivals.map((a) => a.path),
    inFlight: (group) => current.get(group ?? ALL) ?? 0,
    maxInFlight: (group) => max.get(group ?? ALL) ?? 0,
    get connections() {
      return connections
    },
    close: tracked.close,
  }
}

// ---------------------------------------------------------------------------------------------
// HTTPS on port 443

export interface Https443 extends Closable {
  /** The loopback address it listens on (map names to it with `resolve`). */
  readonly ip: string
  /** Paths requested, in order. */
  readonly paths: string[]
}

/**
 * An HTTPS server on <random 127.x.y.z>:443 answering 200 `ok` to everything but
 * `/relative-redirect`, or undefined when
 * port 443 cannot be bound here (not root, or taken).
 */
export async function startHttps443(): Promise<Https443 | undefined> {
  const cert = await policyLeaf()
  const paths: string[] = []
  for (let attempt = 0; attempt < 5; attempt++) {
    const ip = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`
    const server = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
      paths.push(req.url ?? '')
      // `/relative-redirect` answers a same-origin relative redirect to `/after-redirect`.
      if (req.url === '/relative-redirect') {
        res.writeHead(302, { location: '/after-redirect', 'content-length': 0 })
        res.end()
        return
      }
      res.writeHead(200, { 'content-length': 2 })
      res.end('ok')
    })
    const tracked = trackServer(server)
    server.on('tlsClientError', () => {})
    try {
      await listenLocal(server, 443, ip)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EADDRINUSE') continue
      return undefined
    }
    return { ip, paths, close: tracked.close }
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------

/** Polls `condition` every 10 ms; rejects after `timeoutMs` with `what` in the message. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** A content server (helpers/content-server.ts) at https://files.test:<port> with the policy leaf. */
export async function startPolicyContentServer(mode: 'https' | 'h2' | 'h2-only' = 'https'): Promise<ContentServer> {
  return startContentServer({ mode, cert: await policyLeaf(), hostname: TEST_HOST })
}
