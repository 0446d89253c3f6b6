// Third-party web servers for the interop tests: Debian's Apache httpd (mod_http2, mod_ssl) and
// nginx (http2), each from a config of the test's own in a temp directory, on 127.0.0.1 at free
// ports, serving files the test wrote, stopped by their PID (daemon.ts). Apache logs every
// request with mod_logio's `%I %O`: the server's own count of the bytes each HTTP/1.1 request
// and response took on the wire, TLS records and handshake included.
import { createHash, randomBytes } from 'node:crypto'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DaemonStartError, ensureBinary, freePort, startDaemon, type Daemon } from './daemon.js'
import { certKit } from './tls.js'

export interface ServedFile {
  /** URL path, e.g. `/f-1024.bin`. */
  path: string
  size: number
  sha256: string
}

export interface WebServer {
  readonly label: string
  readonly pid: number
  /** Serves h2 and HTTP/1.1 (ALPN) over TLS. */
  readonly tlsPort: number
  readonly files: ServedFile[]
  stop(): Promise<void>
}

export interface Apache extends WebServer {
  /** Serves HTTP/1.1 in the clear. */
  readonly plainPort: number
  /** Serves only HTTP/1.1 over TLS (ALPN offers no h2). */
  readonly tlsH1Port: number
  /**
   * The access log lines whose target is in `targets`, waiting (bounded) until all of them are
   * written: Apache logs a request after its response went out, so possibly after the client
   * had it all.
   */
  logOf(targets: string[]): Promise<AccessLine[]>
}

/** One line of Apache's access log in the `witness` format. */
export interface AccessLine {
  /** The client port of the connection, as Apache saw it. */
  remotePort: number
  /** Requests that came before this one on its connection (`%k`): 0 for the first. */
  keepalives: number
  /** `HTTP/1.1` or `HTTP/2.0`. */
  protocol: string
  /** `%I`, `%O`: bytes received and sent for this request, as mod_logio counts them. */
  received: number
  sent: number
  /** Path and query. */
  target: string
}

const APACHE_BINARY = {
  pkg: 'apache2',
  name: 'apache2',
  candidates: ['/usr/sbin/apache2'],
  neededBy: 'the interop tests',
}
const NGINX_BINARY = {
  pkg: 'nginx',
  name: 'nginx',
  candidates: ['/usr/sbin/nginx'],
  neededBy: 'the interop tests',
}
const APACHE_MODULES = '/usr/lib/apache2/modules'
const START_ATTEMPTS = 3
const LOG_WAIT_MS = 10_000
/** Connections stay open past any test's pauses, so reuse is never cut short by a timeout. */
const KEEPALIVE_S = 120

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
/** As root both servers switch their workers to this user (Debian's own default). */
const WORKER_USER = 'www-data'

/** Writes one file of random bytes per size into a directory the server's workers may read. */
export async function writeDocroot(sizes: number[]): Promise<{ dir: string; files: ServedFile[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'tt-download-docroot-'))
  await chmod(dir, 0o755)
  const files: ServedFile[] = []
  for (const size of sizes) {
    const body = randomBytes(size)
    const path = `/f-${size}.bin`
    await writeFile(join(dir, path), body, { mode: 0o644 })
    files.push({ path, size, sha256: createHash('sha256').update(body).digest('hex') })
  }
  return { dir, files }
}

async function writeCerts(dir: string): Promise<{ cert: string; key: string }> {
  const { leaf } = await certKit()
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  await writeFile(cert, leaf.cert)
  // Read by the server's master process before it drops privileges.
  await writeFile(key, leaf.key, { mode: 0o600 })
  return { cert, key }
}

function apacheConfig(
  dir: string,
  docroot: string,
  tls: { cert: string; key: string },
  ports: { tls: number; tlsH1: number; plain: number },
): string {
  const modules = ['mpm_event', 'authz_core', 'socache_shmcb', 'ssl', 'http2']
  return [
    ...modules.map((m) => `LoadModule ${m}_module ${APACHE_MODULES}/mod_${m}.so`),
    `ServerName 127.0.0.1`,
    `PidFile ${dir}/apache2.pid`,
    `DefaultRuntimeDir ${dir}`,
    // Semaphores need no file the workers could not open after the switch of user.
    `Mutex posixsem default`,
    `ErrorLog ${dir}/error.log`,
    `LogLevel warn`,
    ...(isRoot ? [`User ${WORKER_USER}`, `Group ${WORKER_USER}`] : []),
    // One process with enough threads for a burst of 64 HTTP/1.1 connections.
    `StartServers 1`,
    `ServerLimit 2`,
    `ThreadsPerChild 100`,
    `MaxRequestWorkers 200`,
    `KeepAlive On`,
    `KeepAliveTimeout ${KEEPALIVE_S}`,
    `MaxKeepAliveRequests 0`,
    `H2MaxSessionStreams 128`,
    `Listen 127.0.0.1:${ports.tls}`,
    `Listen 127.0.0.1:${ports.tlsH1}`,
    `Listen 127.0.0.1:${ports.plain}`,
    `SSLSessionCache shmcb:${dir}/ssl_scache(512000)`,
    `DocumentRoot ${docroot}`,
    `<Directory ${docroot}>`,
    `  Require all granted`,
    `</Directory>`,
    `LogFormat "%{remote}p\\t%k\\t%H\\t%I\\t%O\\t%U%q" witness`,
    `CustomLog ${dir}/access.log witness`,
    `<VirtualHost 127.0.0.1:${ports.tls}>`,
    `  SSLEngine on`,
    `  SSLCertificateFile ${tls.cert}`,
    `  SSLCertificateKeyFile ${tls.key}`,
    `  Protocols h2 http/1.1`,
    `</VirtualHost>`,
    `<VirtualHost 127.0.0.1:${ports.tlsH1}>`,
    `  SSLEngine on`,
    `  SSLCertificateFile ${tls.cert}`,
    `  SSLCertificateKeyFile ${tls.key}`,
    `  Protocols http/1.1`,
    `</VirtualHost>`,
    `<VirtualHost 127.0.0.1:${ports.plain}>`,
    `  Protocols http/1.1`,
    `</VirtualHost>`,
    '',
  ].join('\n')
}

function parseAccessLine(line: string): AccessLine | undefined {
  const fields = line.split('\t')
  if (fields.length !== 6) return undefined
  return {
    remotePort: Number(fields[0]),
    keepalives: Number(fields[1]),
    protocol: fields[2]!,
    received: Number(fields[3]),
    sent: Number(fields[4]),
    target: fields[5]!,
  }
}

/**
 * Runs `attempt` in a fresh directory until it starts, at most START_ATTEMPTS times: a port
 * freePort() found can be taken before the server binds it. The docroot goes when all failed.
 */
async function startRetrying<T>(prefix: string, docroot: string, attempt: (dir: string) => Promise<T>): Promise<T> {
  let lastError: unknown
  for (let i = 0; i < START_ATTEMPTS; i++) {
    const dir = await mkdtemp(join(tmpdir(), prefix))
    try {
      return await attempt(dir)
    } catch (error) {
      lastError = await withLog(error, join(dir, 'error.log'))
      await rm(dir, { recursive: true, force: true })
      if (!(error instanceof DaemonStartError && error.portClash)) break
    }
  }
  await rm(docroot, { recursive: true, force: true })
  throw lastError
}

/** Starts Debian's apache2 in the foreground (`-DFOREGROUND`) from its own config. */
export async function startApache(sizes: number[]): Promise<Apache> {
  const binary = await ensureBinary(APACHE_BINARY)
  const docroot = await writeDocroot(sizes)
  return startRetrying('tt-download-apache-', docroot.dir, async (dir) => {
    const tls = await writeCerts(dir)
    const ports = { tls: await freePort(), tlsH1: await freePort(), plain: await freePort() }
    const config = join(dir, 'apache2.conf')
    await writeFile(config, apacheConfig(dir, docroot.dir, tls, ports))
    const daemon = await startDaemon({
      label: 'apache2',
      binary,
      args: ['-f', config, '-DFOREGROUND'],
      ports: [ports.tls, ports.tlsH1, ports.plain],
      dir,
    })
    const accessLog = join(dir, 'access.log')
    return {
      label: 'apache',
      pid: daemon.pid,
      tlsPort: ports.tls,
      plainPort: ports.plain,
      tlsH1Port: ports.tlsH1,
      files: docroot.files,
      logOf: (targets: string[]) => waitForLines(accessLog, targets, daemon),
      stop: () => stopBoth(daemon, docroot.dir),
    }
  })
}

async function waitForLines(path: string, targets: string[], daemon: Daemon): Promise<AccessLine[]> {
  const wanted = new Set(targets)
  const deadline = performance.now() + LOG_WAIT_MS
  for (;;) {
    const text = await readFile(path, 'utf8').catch(() => '')
    const lines = text
      .split('\n')
      .map(parseAccessLine)
      .filter((line): line is AccessLine => line !== undefined && wanted.has(line.target))
    if (lines.length >= wanted.size) return lines
    if (performance.now() > deadline) {
      throw new Error(`apache logged ${lines.length} of ${wanted.size} requests within ${LOG_WAIT_MS} ms:\n${daemon.log()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function withLog(error: unknown, errorLog: string): Promise<unknown> {
  const log = await readFile(errorLog, 'utf8').catch(() => '')
  if (error instanceof Error && log !== '') error.message += `\nerror log:\n${log}`
  return error
}

async function stopBoth(daemon: Daemon, docroot: string): Promise<void> {
  await daemon.stop()
  await rm(docroot, { recursive: true, force: true })
}

function nginxConfig(dir: string, docroot: string, tls: { cert: string; key: string }, port: number): string {
  return [
    `daemon off;`,
    `worker_processes 1;`,
    ...(isRoot ? [`user ${WORKER_USER};`] : []),
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    `events { worker_connections 1024; }`,
    `http {`,
    `  access_log off;`,
    // Every path nginx may write under its own directory, none under /var.
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
    `  keepalive_timeout ${KEEPALIVE_S}s;`,
    `  keepalive_requests 100000;`,
    `  http2_max_concurrent_streams 128;`,
    `  server {`,
    // nginx 1.22 (Debian 12) only knows the listen parameter; later ones still accept it.
    `    listen 127.0.0.1:${port} ssl http2;`,
    `    ssl_certificate ${tls.cert};`,
    `    ssl_certificate_key ${tls.key};`,
    `    root ${docroot};`,
    `  }`,
    `}`,
    '',
  ].join('\n')
}

/** Starts Debian's nginx (`daemon off`, its own prefix, config and error log). */
export async function startNginx(sizes: number[]): Promise<WebServer> {
  const binary = await ensureBinary(NGINX_BINARY)
  const docroot = await writeDocroot(sizes)
  return startRetrying('tt-download-nginx-', docroot.dir, async (dir) => {
    const tls = await writeCerts(dir)
    const port = await freePort()
    const config = join(dir, 'nginx.conf')
    await writeFile(config, nginxConfig(dir, docroot.dir, tls, port))
    const daemon = await startDaemon({
      label: 'nginx',
      binary,
      args: ['-p', `${dir}/`, '-c', config, '-e', `${dir}/error.log`],
      ports: [port],
      dir,
    })
    return { label: 'nginx', pid: daemon.pid, tlsPort: port, files: docroot.files, stop: () => stopBoth(daemon, docroot.dir) }
  })
}
