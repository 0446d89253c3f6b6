// `tt-download demo`: the whole path on one machine with nothing to set up. An embedded
// HTTPS server (HTTP/2 and HTTP/1.1) on 127.0.0.1 with a certificate from a CA generated in
// memory; a host in release mode that reaches it by name through `resolve` and trusts the CA
// through `tls.ca`; three downloads of different sizes, each checked by sha256.
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createSecureServer } from 'node:http2'
import type { Http2SecureServer } from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHost, DownloadError, now, phasesOf } from '../index.js'
import type { DownloadSuccess, Host, Profile } from '../index.js'
import { createCA, issueCert } from './certs.js'
import { fields, formatBytes, formatMs, profileFields, table } from './format.js'
import { progressView } from './progress.js'

export const DEMO_USAGE = `Usage: tt-download demo [--help]

Starts an HTTPS server on 127.0.0.1 with a certificate from a CA generated for this run,
downloads a few files from it through a host in release mode (domain list, fixed headers,
TLS against the generated CA), shows a progress bar per download on a terminal, prints each
result and its profile, and checks every stored file's sha256 against what was served.
Exit status: 0 when every download succeeded and matched, 1 otherwise.
`

const DEMO_HOST = 'demo.tt-download.test'

interface DemoFile {
  path: string
  contentType: string
  body: Buffer
  /** Where the host stores it; absent: a generated `ttfile://temp/...` name. */
  filePath?: string
}

export async function runDemo(): Promise<number> {
  const files = demoFiles()
  const ca = await createCA({ commonName: 'tt-download demo CA' })
  const leaf = await issueCert(ca, { hosts: [DEMO_HOST, '127.0.0.1'] })
  const server = await startServer(leaf, files)
  const dataDir = mkdtempSync(join(tmpdir(), 'tt-download-demo-'))
  let host: Host | undefined
  try {
    const origin = `https://${DEMO_HOST}:${server.port}`
    host = createHost({
      appId: 'ttdemo0123456789',
      env: 'release',
      domains: [origin],
      resolve: { [DEMO_HOST]: '127.0.0.1' },
      tls: { ca: ca.cert },
      // The demo's server is on this machine, which the egress policy refuses by default:
      // a user who trusts a loopback origin allows it explicitly, like this.
      egress: { allow: ['127.0.0.1/32'] },
      // No `proxy`: the demo never uses one (SPEC 10), whatever the environment says; its
      // server is on this machine, where a proxy could not reach it as 127.0.0.1.
      dataDir,
    })
    console.log(`tt-download demo: ${files.length} files at ${origin} (127.0.0.1, CA generated for this run)\n`)

    const rows: string[][] = []
    let ok = true
    for (const [index, file] of files.entries()) {
      const url = `${origin}${file.path}`
      console.log(`[${index + 1}/${files.length}] GET ${url}${file.filePath ? ` -> ${file.filePath}` : ''}`)
      const outcome = await downloadOne(host, url, file)
      ok &&= outcome.ok
      if (outcome.row !== undefined) rows.push(outcome.row)
      console.log()
    }

    if (rows.length > 0) {
      console.log('Profiles, ms (dns, connect = TCP, tls, first byte = request to head, transfer = body)')
      const columns = ['file', 'bytes', 'protocol', 'peer', 'reused', 'dns', 'connect', 'tls']
      console.log(table([...columns, 'first byte', 'transfer', 'queue->end', 'net type'], rows))
      console.log()
    }
    console.log(ok ? 'demo: all downloads succeeded and match what was served' : 'demo: FAILED')
    return ok ? 0 : 1
  } finally {
    await host?.close()
    await server.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function downloadOne(host: Host, url: string, file: DemoFile): Promise<{ ok: boolean; row?: string[] }> {
  const bar = progressView(file.path)
  let result: DownloadSuccess
  let finishedAt: number
  try {
    result = await host.download({
      url,
      header: { accept: '*/*' },
      ...(file.filePath === undefined ? {} : { filePath: file.filePath }),
      onProgress: (update) => bar.update(update),
    })
    finishedAt = now()
  } catch (error) {
    bar.stop()
    const shown = error instanceof DownloadError ? JSON.stringify(error.toJSON()) : String(error)
    console.log(`  fail  ${shown}`)
    return { ok: false }
  }
  bar.stop()

  const stored = result.tempFilePath ?? result.filePath
  const actual = sha256(readFileSync(host.realPath(stored)))
  const expected = sha256(file.body)
  const matches = actual === expected && result.dataLength === file.body.length
  const profile = result.profile
  console.log(
    fields([
      ['errMsg', result.errMsg],
      ['statusCode', String(result.statusCode)],
      [result.tempFilePath !== undefined ? 'tempFilePath' : 'filePath', stored],
      ['dataLength', `${result.dataLength} (${formatBytes(result.dataLength)})`],
      ['content-type', result.header['content-type'] ?? '(none)'],
      ['sha256', `${actual.slice(0, 16)}... ${matches ? 'matches the served file' : `MISMATCH: served ${expected}`}`],
      ...(profile === undefined ? [] : profileFields(profile, finishedAt)),
    ]),
  )
  return { ok: matches, ...(profile === undefined ? {} : { row: profileRow(file, result, profile) }) }
}

function profileRow(file: DemoFile, result: DownloadSuccess, p: Profile): string[] {
  const phases = phasesOf(p)
  return [
    file.path,
    String(result.dataLength),
    p.protocol,
    `${p.peerIP}:${p.port}`,
    p.socketReused ? 'yes' : 'no',
    formatMs(phases.dns),
    formatMs(phases.connect),
    formatMs(phases.tls),
    formatMs(phases.firstByte),
    formatMs(phases.transfer),
    formatMs(p.responseEnd - p.queueEnd),
    p.estimateNetType,
  ]
}

/** Deterministic contents, so a run can be compared with another by hash. */
function demoFiles(): DemoFile[] {
  const text = Buffer.alloc(1024)
  const line = 'tt-download demo: the quick brown fox jumps over the lazy dog.\n'
  for (let i = 0; i < text.length; i++) text[i] = line.charCodeAt(i % line.length)
  return [
    { path: '/notes.txt', contentType: 'text/plain; charset=utf-8', body: text },
    { path: '/archive.bin', contentType: 'application/octet-stream', body: patternBytes(256 * 1024, 1) },
    {
      path: '/large.bin',
      contentType: 'application/octet-stream',
      body: patternBytes(8 * 1024 * 1024, 2),
      filePath: 'ttfile://user/large.bin',
    },
  ]
}

/** xorshift32 bytes: incompressible enough to be a fair transfer, fixed by the seed. */
function patternBytes(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size)
  let x = (0x9e3779b9 ^ seed) >>> 0
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    if (i + 4 <= size) out.writeUInt32LE(x, i)
    else for (let j = i; j < size; j++) out[j] = (x >>> ((j - i) * 8)) & 0xff
  }
  return out
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

interface DemoServer {
  port: number
  close(): Promise<void>
}

/** HTTP/2 with HTTP/1.1 fallback on one TLS port; ALPN decides. */
async function startServer(cert: { cert: string; key: string }, files: DemoFile[]): Promise<DemoServer> {
  const byPath = new Map(files.map((file) => [file.path, file]))
  const options = { cert: cert.cert, key: cert.key, allowHTTP1: true }
  const server: Http2SecureServer = createSecureServer(options, (req, res) => {
    const file = byPath.get(new URL(req.url, 'https://demo.invalid').pathname)
    if (file === undefined || req.method !== 'GET') {
      res.writeHead(file === undefined ? 404 : 405, { 'content-type': 'text/plain' })
      res.end(file === undefined ? 'not found\n' : 'method not allowed\n')
      return
    }
    res.writeHead(200, { 'content-type': file.contentType, 'content-length': String(file.body.length) })
    res.end(file.body)
  })
  // The host's pool keeps connections open; close() ends them so the process can exit.
  const sockets = new Set<Socket>()
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const socket of sockets) socket.destroy()
      }),
  }
}
