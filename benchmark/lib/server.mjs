// The server that is not the bottleneck: Debian's nginx, started by the bench on 127.0.0.1
// with one HTTP port, one HTTPS port whose ALPN offers http/1.1 only (no `http2`) and one
// HTTPS port with `http2` (ALPN offers h2, for the HTTP/2 grid), sendfile and keep-alive on, its own prefix, configuration, pid and logs in a temporary directory. Only
// the nginx started here is ever stopped, by the pid of the child process.
import { spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import { createRequire } from 'node:module'
import { existsSync, mkdirSync, writeFileSync, openSync, closeSync, statSync, writeSync } from 'node:fs'
import { randomFillSync } from 'node:crypto'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

const require = createRequire(import.meta.url)

export function findNginx() {
  for (const p of ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx', '/usr/local/bin/nginx']) {
    if (existsSync(p)) return p
  }
  const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' })
  return which.status === 0 ? which.stdout.trim() : undefined
}

/** nginx from Debian's packages, installed with apt-get when missing. */
export function ensureNginx(log) {
  let nginx = findNginx()
  if (nginx) return nginx
  log('nginx not found: apt-get update && apt-get install -y nginx')
  const sudo = process.getuid?.() === 0 ? [] : ['sudo']
  const run = (args) => {
    const r = spawnSync(sudo.length ? 'sudo' : args[0], sudo.length ? args : args.slice(1), {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    })
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed (exit ${r.status})`)
  }
  run(['apt-get', 'update'])
  run(['apt-get', 'install', '-y', '--no-install-recommends', 'nginx'])
  // The package's own service may have been started by the install; it listens on :80 only
  // and is not ours to stop. Ours runs on free ports with its own configuration.
  nginx = findNginx()
  if (!nginx) throw new Error('nginx still not found after apt-get install')
  return nginx
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

/** Writes `size` bytes of random data to `path` unless a file of that size is already there. */
export function ensureFile(path, size) {
  if (existsSync(path) && statSync(path).size === size) return
  const fd = openSync(path, 'w')
  const chunk = Buffer.alloc(Math.min(size, 4 << 20))
  let left = size
  while (left > 0) {
    const n = Math.min(left, chunk.length)
    randomFillSync(chunk, 0, n)
    writeSync(fd, chunk, 0, n)
    left -= n
  }
  closeSync(fd)
}

/**
 * Starts nginx serving `wwwDir`. Returns `{ httpBase, httpsBase, h2Base, caFile, stop() }`.
 * `root`: the repository root (for the CLI's certificate helpers in dist/cli/certs.js).
 */
export async function startNginx({ nginx, dir, wwwDir, root, log }) {
  mkdirSync(dir, { recursive: true })
  const { createCA, issueCert } = require(join(root, 'dist', 'cli', 'certs.js'))
  const ca = await createCA({ commonName: 'tt-download bench CA' })
  const leaf = await issueCert(ca, { hosts: ['127.0.0.1', 'localhost'] })
  const caFile = join(dir, 'ca.pem')
  writeFileSync(caFile, ca.cert)
  writeFileSync(join(dir, 'server.pem'), leaf.cert)
  writeFileSync(join(dir, 'server.key'), leaf.key, { mode: 0o600 })

  let lastError
  for (let attempt = 0; attempt < 5; attempt++) {
    const ports = [await freePort(), await freePort(), await freePort()]
    if (new Set(ports).size !== ports.length) continue
    const [httpPort, httpsPort, h2Port] = ports
    const conf = join(dir, 'nginx.conf')
    const version = nginxVersion(nginx)
    writeFileSync(conf, config({ dir, wwwDir, httpPort, httpsPort, h2Port, h2: h2Listen(version) }))
    const child = spawn(nginx, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log'), '-g', 'daemon off;'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    let exited = false
    child.on('exit', () => (exited = true))
    // Ready when every port accepts connections.
    for (let i = 0; i < 100 && !exited; i++) {
      if ((await canConnect(httpPort)) && (await canConnect(httpsPort)) && (await canConnect(h2Port))) {
        log(
          `nginx ${version} pid ${child.pid}: http://127.0.0.1:${httpPort} https://127.0.0.1:${httpsPort} https://127.0.0.1:${h2Port} (h2)`,
        )
        return {
          httpBase: `http://127.0.0.1:${httpPort}`,
          httpsBase: `https://127.0.0.1:${httpsPort}`,
          h2Base: `https://127.0.0.1:${h2Port}`,
          caFile,
          pid: child.pid,
          version,
          stop: () => stopChild(child),
        }
      }
      await sleep(50)
    }
    lastError = new Error(`nginx did not start: ${stderr.trim()}`)
    await stopChild(child)
  }
  throw lastError
}

/**
 * How this nginx turns HTTP/2 on for a server: 1.25.1 made the `http2` parameter of `listen`
 * deprecated in favour of the `http2 on;` directive, which older versions (Debian 12's 1.22)
 * do not know.
 */
export function h2Listen(version) {
  const [major, minor, patch] = version.split('.').map(Number)
  const directive = major > 1 || (major === 1 && (minor > 25 || (minor === 25 && patch >= 1)))
  return directive ? { param: '', directive: 'http2 on;' } : { param: ' http2', directive: '' }
}

function nginxVersion(nginx) {
  const r = spawnSync(nginx, ['-v'], { encoding: 'utf8' })
  const m = `${r.stderr}${r.stdout}`.match(/nginx\/(\S+)/)
  return m ? m[1] : 'unknown'
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = require('node:net').connect(port, '127.0.0.1')
    s.on('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.on('error', () => resolve(false))
  })
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM') // nginx: fast shutdown of the master and its workers
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await gone
  clearTimeout(timer)
}

function config({ dir, wwwDir, httpPort, httpsPort, h2Port, h2 }) {
  const tls = `ssl_certificate ${join(dir, 'server.pem')};
    ssl_certificate_key ${join(dir, 'server.key')};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    root ${wwwDir};`
  const user = process.getuid?.() === 0 ? 'user root root;' : ''
  return `# Generated by benchmark/lib/server.mjs
${user}
worker_processes auto;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events {
  worker_connections 4096;
}
http {
  access_log off;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 120s;
  keepalive_requests 1000000;
  open_file_cache max=64 inactive=120s;
  gzip off;
  etag off;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  server {
    listen 127.0.0.1:${httpPort} reuseport backlog=4096;
    root ${wwwDir};
  }
  server {
    # No "http2": the TLS handshake offers http/1.1 only in ALPN.
    listen 127.0.0.1:${httpsPort} ssl reuseport backlog=4096;
    ${tls}
  }
  server {
    # HTTP/2: ALPN offers h2, and one connection carries every download of a client. The
    # default of 128 concurrent streams is above the grid's largest concurrency (64);
    # keepalive_requests (above) also bounds the requests of one HTTP/2 connection.
    listen 127.0.0.1:${h2Port} ssl${h2.param} reuseport backlog=4096;
    ${h2.directive}
    ${tls}
  }
}
`
}
