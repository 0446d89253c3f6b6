// HTTP proxies for the SPEC 11 tests: Debian's real `tinyproxy` for the happy paths (CONNECT
// tunnels and absolute-form requests as a deployed proxy handles them), and a scripted proxy on
// node:net for everything a real proxy does only when misconfigured: refusing a tunnel with a
// chosen status, asking for credentials, closing or answering garbage before the tunnel is up,
// or saying nothing at all. Both listen on loopback only and are stopped in teardown.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import * as net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DaemonStartError, ensureBinary, freePort, startDaemon, type DebianBinary } from './daemon.js'
import { listenLocal } from './listen.js'
import { readHead, trackServer } from './server.js'

// ---------------------------------------------------------------------------------------------
// tinyproxy

export interface TinyproxyOptions {
  /**
   * `BasicAuth user password` (tinyproxy >= 1.10): requests without them get 407. tinyproxy's
   * config accepts only letters, digits, '-', '.' and '_' in both.
   */
  auth?: { user: string; password: string }
}

export interface Tinyproxy {
  readonly port: number
  /** `http://127.0.0.1:<port>` (with `user:password@` when `auth` was given, percent-encoded). */
  readonly url: string
  /** The process id of the tinyproxy started for this test. */
  readonly pid: number
  /** What tinyproxy logged so far (stdout and stderr, bounded). */
  log(): string
  stop(): Promise<void>
}

const TINYPROXY: DebianBinary = {
  pkg: 'tinyproxy',
  name: 'tinyproxy',
  candidates: ['/usr/bin/tinyproxy', '/usr/sbin/tinyproxy'],
  neededBy: 'the proxy tests',
}

/** The path of the tinyproxy binary, installed when missing (see daemon.ts). */
export function ensureTinyproxy(): Promise<string> {
  return ensureBinary(TINYPROXY)
}

/**
 * The config of a test's own tinyproxy. What matters:
 * - `Listen 127.0.0.1` and the chosen `Port`: loopback only.
 * - No `ConnectPort` line: tinyproxy then allows CONNECT to every port (Debian's stock config
 *   allows only 443 and 563, and the test origins listen on ephemeral ports).
 * - No `Allow` line: every client (all of them on loopback) may use it.
 * - No `LogFile`, no `Syslog`, no `PidFile`: in the foreground (`-d`) tinyproxy logs to stdout,
 *   so after it drops privileges (as root it switches to `User`/`Group`) it needs to write no
 *   file at all; the test knows its PID from the spawn.
 * - `User nobody` / `Group nogroup` when running as root: said explicitly, not left to the
 *   build's defaults.
 * - `BasicAuth user password` when asked.
 */
export function tinyproxyConfig(port: number, opts: TinyproxyOptions = {}): string {
  const lines = [
    `Port ${port}`,
    'Listen 127.0.0.1',
    'Timeout 60',
    'MaxClients 64',
    'LogLevel Info',
    // (The Via header is on by default: absolute-form requests reach the origin with
    // `Via: 1.1 <hostname> (tinyproxy/1.11.1)`, so a test can tell they went through it.)
  ]
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    lines.push('User nobody', 'Group nogroup')
  }
  if (opts.auth !== undefined) {
    // tinyproxy's config grammar takes only [-a-z0-9._] here (conf.c: ALNUM); anything else is
    // "Syntax error" and tinyproxy does not start.
    for (const part of [opts.auth.user, opts.auth.password]) {
      if (!/^[-a-z0-9._]+$/i.test(part)) {
        throw new TypeError(`tinyproxy BasicAuth: ${JSON.stringify(part)} may only use letters, digits, '-', '.' and '_'`)
      }
    }
    lines.push(`BasicAuth ${opts.auth.user} ${opts.auth.password}`)
  }
  return lines.join('\n') + '\n'
}

/**
 * Starts `tinyproxy -d -c <own config>` on 127.0.0.1 at a free port, waits until it accepts
 * connections, and returns it; `stop()` signals that PID (SIGTERM, then SIGKILL) and waits for
 * it to exit. Register `stop` in the test's teardown (`closeAfter` does not apply: use
 * `t.teardown(() => proxy.stop())`).
 */
export async function startTinyproxy(opts: TinyproxyOptions = {}): Promise<Tinyproxy> {
  const binary = await ensureTinyproxy()
  const dir = await mkdtemp(join(tmpdir(), 'tt-download-tinyproxy-'))
  // tinyproxy reads its config before it drops privileges; the directory stays root-only.
  await chmod(dir, 0o700)
  let lastError: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    const configPath = join(dir, 'tinyproxy.conf')
    await writeFile(configPath, tinyproxyConfig(port, opts))
    try {
      const daemon = await startDaemon({
        label: 'tinyproxy',
        binary,
        args: ['-d', '-c', configPath],
        ports: [port],
        dir,
      })
      const credentials = opts.auth === undefined ? '' : `${encodeURIComponent(opts.auth.user)}:${encodeURIComponent(opts.auth.password)}@`
      return { port, url: `http://${credentials}127.0.0.1:${port}`, pid: daemon.pid, log: daemon.log, stop: daemon.stop }
    } catch (error) {
      lastError = error
      // The port may have been taken between freePort() and tinyproxy's bind: only then try again.
      if (!(error instanceof DaemonStartError && error.portClash)) break
    }
  }
  await rm(dir, { recursive: true, force: true })
  throw lastError
}

// ---------------------------------------------------------------------------------------------
// Scripted proxy

/**
 * What the scripted proxy does with a request once its head arrived:
 * - `'forward'`: CONNECT: dial the target, answer `200 Connection established` and tunnel;
 *   absolute form: dial the target, send the request in origin form with `Connection: close`
 *   and relay the answer, then close;
 * - `'close'`: close the connection (FIN) without answering a byte;
 * - `'garbage'`: answer bytes that are not HTTP, then close;
 * - `'silent'`: keep the connection open and never answer;
 * - a number: answer that status (empty body, `Connection: close`) and close.
 */
export type ProxyAnswer = 'forward' | 'close' | 'garbage' | 'silent' | number

export interface ScriptedProxyBehaviour {
  /** For every request (default `'forward'`). */
  answer?: ProxyAnswer
  /** For CONNECT requests; overrides `answer`. */
  connect?: ProxyAnswer
  /** For absolute-form requests; overrides `answer`. */
  absolute?: ProxyAnswer
  /**
   * Answer `407` (with `Proxy-Authenticate: Basic`) to every request that does not carry
   * `Proxy-Authorization: Basic base64(user:password)`; checked before `answer`.
   */
  auth?: { user: string; password: string }
  /**
   * Where the proxy itself resolves names when forwarding (name -> IP); IP literals are dialled
   * as they are; any other name gets `502`. The proxy never asks DNS.
   */
  hosts?: Record<string, string>
  /** The loopback address to listen on (default 127.0.0.1). */
  listenHost?: string
}

export interface ProxyRequest {
  /** 1-based number of the accepted connection that carried it. */
  connection: number
  method: string
  /** The request-target as received: `host:port` for CONNECT, the absolute URL otherwise. */
  target: string
  /** The request line, e.g. `CONNECT files.test:443 HTTP/1.1`. */
  line: string
  /** Header fields, names lower-case; repeated ones joined with ', '. */
  headers: Record<string, string>
  /** The head as received, up to (not including) the blank line. */
  head: string
  /** What the proxy did: the answer applied (`407` for an auth refusal, `502` for a bad target). */
  answered: ProxyAnswer
}

export interface ScriptedProxy {
  readonly host: string
  readonly port: number
  /** `http://<host>:<port>` */
  readonly url: string
  /** The proxy URL with credentials, percent-encoded: `http://user:pa%40ss@host:port`. */
  urlWith(user: string, password: string): string
  /** TCP connections accepted. */
  readonly connections: number
  /** Every request head received, in order. */
  readonly requests: ProxyRequest[]
  /** The CONNECT requests' targets, in order. */
  connectTargets(): string[]
  /** The absolute-form requests' targets, in order. */
  absoluteTargets(): string[]
  close(): Promise<void>
}

const GARBAGE = 'SSH-2.0-OpenSSH_9.6 not an HTTP proxy\r\n\x00\x01\x02\xff garbage\r\n\r\n'

function parseHead(head: string): { method: string; target: string; line: string; headers: Record<string, string> } {
  const lines = head.split('\r\n')
  const line = lines[0] ?? ''
  const [method = '', target = ''] = line.split(' ')
  const headers: Record<string, string> = {}
  for (const field of lines.slice(1)) {
    const colon = field.indexOf(':')
    if (colon <= 0) continue
    const name = field.slice(0, colon).trim().toLowerCase()
    const value = field.slice(colon + 1).trim()
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
  }
  return { method, target, line, headers }
}

/** `host:port` or `[v6]:port` -> [host, port]; undefined when malformed. */
function splitAuthority(authority: string): [string, number] | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(authority)
  if (match === null) return undefined
  const port = Number(match[3])
  if (port < 1 || port > 65535) return undefined
  return [(match[1] ?? match[2])!, port]
}

function statusText(status: number): string {
  const texts: Record<number, string> = {
    200: 'OK',
    400: 'Bad Request',
    403: 'Forbidden',
    407: 'Proxy Authentication Required',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
  }
  return texts[status] ?? 'Status'
}

export async function startScriptedProxy(behaviour: ScriptedProxyBehaviour = {}): Promise<ScriptedProxy> {
  const listenHost = behaviour.listenHost ?? '127.0.0.1'
  const hosts = new Map(Object.entries(behaviour.hosts ?? {}).map(([k, v]) => [k.toLowerCase(), v]))
  const expectedAuth =
    behaviour.auth === undefined
      ? undefined
      : `Basic ${Buffer.from(`${behaviour.auth.user}:${behaviour.auth.password}`, 'utf8').toString('base64')}`
  const requests: ProxyRequest[] = []
  let connections = 0

  const answerStatus = (socket: net.Socket, status: number) => {
    const extra = status === 407 ? 'Proxy-Authenticate: Basic realm="tt-download test proxy"\r\n' : ''
    socket.end(`HTTP/1.1 ${status} ${statusText(status)}\r\n${extra}Content-Length: 0\r\nConnection: close\r\n\r\n`)
  }

  /** The address to dial for a target host: IP literals as they are, names from `hosts`. */
  const addressOf = (host: string): string | undefined => {
    if (net.isIP(host) !== 0) return host
    return hosts.get(host.toLowerCase())
  }

  const dial = (ip: string, port: number, onConnect: (upstream: net.Socket) => void, onError: () => void) => {
    if (tracked.closed) return onError()
    const upstream = net.connect({ host: ip, port })
    tracked.track(upstream)
    upstream.on('error', () => {}) // a reset on either side just ends the pair
    upstream.setNoDelay(true)
    let connected = false
    upstream.once('connect', () => {
      connected = true
      onConnect(upstream)
    })
    upstream.once('error', () => {
      if (!connected) onError()
    })
  }

  const pipePair = (client: net.Socket, upstream: net.Socket) => {
    client.pipe(upstream)
    upstream.pipe(client)
    const destroyBoth = () => {
      client.destroy()
      upstream.destroy()
    }
    client.once('close', destroyBoth)
    upstream.once('close', destroyBoth)
  }

  const handle = (client: net.Socket, head: string, rest: Buffer, connection: number) => {
    const parsed = parseHead(head)
    const isConnect = parsed.method.toUpperCase() === 'CONNECT'
    const isAbsolute = !isConnect && /^[a-z][a-z0-9+.-]*:\/\//i.test(parsed.target)
    let answer: ProxyAnswer = (isConnect ? behaviour.connect : isAbsolute ? behaviour.absolute : undefined) ?? behaviour.answer ?? 'forward'
    if (expectedAuth !== undefined && parsed.headers['proxy-authorization'] !== expectedAuth) answer = 407
    if (answer === 'forward' && !isConnect && !isAbsolute) answer = 400
    const record: ProxyRequest = { connection, ...parsed, head, answered: answer }
    requests.push(record)

    if (answer === 'silent') return
    if (answer === 'close') return void client.end()
    if (answer === 'garbage') return void client.end(GARBAGE, 'latin1')
    if (typeof answer === 'number') return answerStatus(client, answer)

    const refuse = () => {
      record.answered = 502
      if (!client.destroyed) answerStatus(client, 502)
    }
    if (isConnect) {
      const authority = splitAuthority(parsed.target)
      const ip = authority && addressOf(authority[0])
      if (authority === undefined || ip === undefined) return refuse()
      client.pause()
      dial(
        ip,
        authority[1],
        (upstream) => {
          client.write('HTTP/1.1 200 Connection established\r\n\r\n')
          if (rest.length > 0) upstream.write(rest)
          pipePair(client, upstream)
          client.resume()
        },
        refuse,
      )
      return
    }

    // Absolute form: one request per connection, relayed in origin form.
    let url: URL
    try {
      url = new URL(parsed.target)
    } catch {
      return refuse()
    }
    const host = url.hostname.replace(/^\[|\]$/g, '')
    const ip = url.protocol === 'http:' ? addressOf(host) : undefined
    if (ip === undefined) return refuse()
    const port = url.port === '' ? 80 : Number(url.port)
    const dropped = new Set(['proxy-authorization', 'proxy-connection', 'connection', 'keep-alive'])
    const fields = head
      .split('\r\n')
      .slice(1)
      .filter((field) => !dropped.has(field.slice(0, field.indexOf(':')).trim().toLowerCase()))
    const originHead = [`${parsed.method} ${url.pathname}${url.search} HTTP/1.1`, ...fields, 'Connection: close']
    client.pause()
    dial(
      ip,
      port,
      (upstream) => {
        upstream.write(originHead.join('\r\n') + '\r\n\r\n')
        if (rest.length > 0) upstream.write(rest)
        pipePair(client, upstream)
        client.resume()
      },
      refuse,
    )
  }

  const server = net.createServer((client) => {
    const connection = ++connections
    client.on('error', () => {})
    client.setNoDelay(true)
    readHead(client, (head, rest) => {
      handle(client, head, rest, connection)
      // Whatever else arrives on a connection that is not forwarded is read and dropped.
      if (client.listenerCount('data') === 0 && !client.isPaused()) client.on('data', () => {})
    })
  })
  const tracked = trackServer(server)

  const port = await listenLocal(server, 0, listenHost)
  const hostInUrl = net.isIPv6(listenHost) ? `[${listenHost}]` : listenHost
  const url = `http://${hostInUrl}:${port}`
  return {
    host: listenHost,
    port,
    url,
    urlWith: (user, password) => `http://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${hostInUrl}:${port}`,
    get connections() {
      return connections
    },
    requests,
    connectTargets: () => requests.filter((r) => r.method.toUpperCase() === 'CONNECT').map((r) => r.target),
    absoluteTargets: () => requests.filter((r) => r.method.toUpperCase() !== 'CONNECT').map((r) => r.target),
    close: tracked.close,
  }
}
