// The `tt-download` command (SPEC 9, and the CLI rows of SPEC 10) run as a real process from
// src/ against local servers: exit status 0/1/2, the JSON documents of `get` and `bench`, the
// stored file at the printed path, and bad usage rejected before anything is downloaded.
import test from 'ava'
import type { ExecutionContext } from 'ava'
import { rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative, sep } from 'node:path'
import { expectedSha256, sha256File } from './helpers/bytes.js'
import { startContentServer } from './helpers/content-server.js'
import { listFiles, makeTmpDir } from './helpers/fs.js'
import { closeAfter } from './helpers/host.js'
import { describeRun, runCli } from './helpers/run.js'
import { certKit, startTlsServer, TEST_HOST } from './helpers/tls.js'

/** The test CA as a PEM file for `--ca`, in a directory removed at teardown. */
async function caFile(t: ExecutionContext): Promise<string> {
  const tmp = await makeTmpDir('tt-download-cli-ca-')
  t.teardown(() => tmp.cleanup())
  const file = join(tmp.dir, 'ca.pem')
  await writeFile(file, (await certKit()).ca.cert)
  return file
}

async function dataDir(t: ExecutionContext): Promise<string> {
  const tmp = await makeTmpDir('tt-download-cli-data-')
  t.teardown(() => tmp.cleanup())
  return tmp.dir
}

const PHASES = ['dns', 'connect', 'tls', 'firstByte', 'transfer']

test('get --json over HTTPS in release (--domain, --ca, --resolve): exit 0, success object, file at realPath', async (t) => {
  const server = closeAfter(t, await startTlsServer('h2'))
  const dir = await dataDir(t)
  const url = server.url('/bytes/150000')
  const ran = await runCli(t, [
    'get', url, '--json', '--env', 'release', '--domain', server.origin, '--ca', await caFile(t),
    '--resolve', `${TEST_HOST}:127.0.0.1`, '--data-dir', dir, '--timeout', '20000',
  ])
  t.is(ran.code, 0, describeRun(ran))
  t.is(ran.stderr, '', 'no progress or noise when stderr is not a terminal')
  const lines = ran.stdout.trimEnd().split('\n')
  t.is(lines.length, 1, 'one JSON document')
  const doc = JSON.parse(lines[0]!)
  t.is(doc.errMsg, 'downloadFile:ok')
  t.is(doc.statusCode, 200)
  t.is(doc.dataLength, 150000)
  t.regex(doc.tempFilePath, /^ttfile:\/\/temp\/[0-9a-f]{32}(\.[a-z0-9]+)?$/)
  t.is(doc.header['content-length'], '150000')
  t.is(doc.profile.protocol, 'h2')
  t.is(doc.profile.peerIP, '127.0.0.1')
  t.true(doc.profile.sslConnectionEnd > doc.profile.sslConnectionStart)
  t.is(doc.realPath, join(dir, 'temp', doc.tempFilePath.slice('ttfile://temp/'.length)))
  t.is(await sha256File(doc.realPath), expectedSha256(150000))
})

test('get without --json: readable success, the real path alone on the last line; --file-path saves under user/', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const dir = await dataDir(t)
  const ran = await runCli(t, ['get', server.url('/bytes/4096'), '--data-dir', dir, '--file-path', 'ttfile://user/x.bin'])
  t.is(ran.code, 0, describeRun(ran))
  t.regex(ran.stdout, /^success\n/)
  t.regex(ran.stdout, /errMsg\s+downloadFile:ok/)
  t.regex(ran.stdout, /filePath\s+ttfile:\/\/user\/x\.bin/)
  t.regex(ran.stdout, /phases\s+dns [\d.]+, connect [\d.]+, tls [\d.]+, first byte [\d.]+, transfer [\d.]+ \(ms\)/)
  const last = ran.stdout.trimEnd().split('\n').at(-1)!
  t.is(last, join(dir, 'user', 'x.bin'))
  t.is(await sha256File(last), expectedSha256(4096))
})

test('get without --data-dir keeps the temporary data dir that holds the file, and prints where', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const ran = await runCli(t, ['get', server.url('/bytes/1000'), '--json'])
  t.is(ran.code, 0, describeRun(ran))
  const doc = JSON.parse(ran.stdout)
  const root = dirname(dirname(doc.realPath))
  const name = relative(tmpdir(), root)
  t.true(name.startsWith('tt-download-get-') && !name.includes(sep), root)
  if (name.startsWith('tt-download-get-')) t.teardown(() => rm(root, { recursive: true, force: true }))
  t.is(doc.realPath, join(root, 'temp', doc.tempFilePath.slice('ttfile://temp/'.length)))
  t.is(await sha256File(doc.realPath), expectedSha256(1000))
})

test('get fail: exit 1 and the fail object (untrusted certificate without --ca: 121528)', async (t) => {
  const server = closeAfter(t, await startTlsServer('https'))
  const dir = await dataDir(t)
  const ran = await runCli(t, ['get', server.url('/bytes/100'), '--json', '--resolve', `${TEST_HOST}:127.0.0.1`, '--data-dir', dir])
  t.is(ran.code, 1, describeRun(ran))
  t.deepEqual(JSON.parse(ran.stdout), {
    errMsg: 'downloadFile:fail certificate error',
    errNo: 121528,
    errorCode: 121528,
    errorType: 'D',
  })
  t.deepEqual(await listFiles(join(dir, 'temp')), [], 'nothing stored')
})

test('get fail without --json: exit 1, readable fail object; domains are checked once --domain is given (121501)', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const url = server.url('/bytes/100')
  const ran = await runCli(t, ['get', url, '--domain', 'http://elsewhere.test', '--data-dir', await dataDir(t)])
  t.is(ran.code, 1, describeRun(ran))
  t.regex(ran.stdout, /^fail\n/)
  t.true(ran.stdout.includes(`downloadFile:fail url not in domain list, url == ${url}`), ran.stdout)
  t.regex(ran.stdout, /errNo\s+121501/)
  t.regex(ran.stdout, /errorType\s+D/)
})

test('get in release refuses http (121599, exit 1): --env reaches the host', async (t) => {
  const ran = await runCli(t, ['get', 'http://127.0.0.1:9/x', '--env', 'release', '--json', '--data-dir', await dataDir(t)])
  t.is(ran.code, 1, describeRun(ran))
  t.is(JSON.parse(ran.stdout).errNo, 121599)
})

const badUsage: { name: string; args: string[]; message: RegExp }[] = [
  { name: 'no command', args: [], message: /missing <command>/ },
  { name: 'unknown command', args: ['fetch', 'http://x.test/'], message: /unknown command 'fetch'/ },
  { name: 'get: unknown option', args: ['get', 'http://x.test/', '--bogus'], message: /Unknown option '--bogus'/ },
  { name: 'get: missing <url>', args: ['get'], message: /missing <url>/ },
  {
    name: 'get: extra <url>',
    args: ['get', 'http://x.test/a', 'http://x.test/b'],
    message: /unexpected argument 'http:\/\/x\.test\/b'/,
  },
  {
    name: 'get: missing option value',
    args: ['get', 'http://x.test/', '--file-path'],
    message: /--file-path <value>' argument missing/,
  },
  {
    name: 'get: option value that looks like an option',
    args: ['get', '--env', '--json', 'http://x.test/'],
    message: /'--env' argument is ambiguous/,
  },
  {
    name: 'get: bad --env',
    args: ['get', 'http://x.test/', '--env', 'prod'],
    message: /--env must be test or release, got 'prod'/,
  },
  { name: 'get: bad --resolve', args: ['get', 'http://x.test/', '--resolve', 'x.test'], message: /--resolve must be host:ip/ },
  { name: 'get: bad --timeout', args: ['get', 'http://x.test/', '--timeout', '1s'], message: /--timeout must be a whole number/ },
  {
    name: 'get: unreadable --ca',
    args: ['get', 'http://x.test/', '--ca', '/nonexistent/ca.pem'],
    message: /--ca: cannot read/,
  },
  { name: 'get: malformed --domain', args: ['get', 'http://x.test/', '--domain', 'x.test'], message: /createHost: domains entry/ },
  { name: 'bench: missing <url>', args: ['bench', '-n', '2'], message: /missing <url>/ },
  { name: 'bench: extra <url>', args: ['bench', 'http://x.test/a', 'b'], message: /unexpected argument 'b'/ },
  { name: 'bench: unknown option', args: ['bench', 'http://x.test/', '--timeout', '5'], message: /Unknown option '--timeout'/ },
  { name: 'bench: missing -n value', args: ['bench', 'http://x.test/', '-n'], message: /-n, --count <value>' argument missing/ },
  { name: 'bench: bad -n', args: ['bench', 'http://x.test/', '-n', '0'], message: /--count must be a whole number/ },
  { name: 'bench: bad -c', args: ['bench', 'http://x.test/', '-c', '2.5'], message: /--concurrency must be a whole number/ },
  {
    name: 'bench: bad --env',
    args: ['bench', 'http://x.test/', '--env', 'dev', '--json'],
    message: /--env must be test or release/,
  },
  { name: 'demo: extra argument', args: ['demo', 'now'], message: /unexpected argument 'now'/ },
  { name: 'demo: unknown option', args: ['demo', '--json'], message: /Unknown option '--json'/ },
]

for (const { name, args, message } of badUsage) {
  test(`bad usage exits 2 with a message on stderr and nothing on stdout: ${name}`, async (t) => {
    const ran = await runCli(t, args)
    t.is(ran.code, 2, describeRun(ran))
    t.regex(ran.stderr, message)
    t.regex(ran.stderr, /Usage: tt-download/, 'the usage follows the message')
    t.is(ran.stdout, '')
  })
}

for (const args of [['--help'], ['-h'], ['demo', '--help'], ['get', '--help'], ['bench', '--help'], ['get', '-h']]) {
  test(`${args.join(' ')} prints the usage on stdout and exits 0`, async (t) => {
    const ran = await runCli(t, args)
    t.is(ran.code, 0, describeRun(ran))
    const command = args.length > 1 ? `${args[0]} ` : ''
    t.true(ran.stdout.startsWith(`Usage: tt-download ${command}`), ran.stdout)
    t.is(ran.stderr, '')
  })
}

test('get --help wins over a missing <url>', async (t) => {
  const ran = await runCli(t, ['get', '--json', '--help'])
  t.is(ran.code, 0, describeRun(ran))
  t.regex(ran.stdout, /^Usage: tt-download get <url>/)
})

test('bench --json: one object with count, concurrency, throughput, latency percentiles and phase medians', async (t) => {
  const server = closeAfter(t, await startTlsServer('https'))
  const dir = await dataDir(t)
  const ran = await runCli(t, [
    'bench', server.url('/bytes/20000'), '-n', '6', '-c', '2', '--json', '--ca', await caFile(t),
    '--resolve', `${TEST_HOST}:127.0.0.1`, '--env', 'release', '--domain', server.origin, '--data-dir', dir,
  ])
  t.is(ran.code, 0, describeRun(ran))
  const lines = ran.stdout.trimEnd().split('\n')
  t.is(lines.length, 1, 'one JSON document')
  const doc = JSON.parse(lines[0]!)
  t.is(doc.count, 6)
  t.is(doc.concurrency, 2)
  t.is(doc.failed, 0)
  t.is(doc.bytes, 6 * 20000)
  for (const key of ['downloadsPerSec', 'mbPerSec']) {
    t.true(Number.isFinite(doc[key]) && doc[key] > 0, `${key} = ${doc[key]}`)
  }
  t.deepEqual(Object.keys(doc.latencyMs).sort(), ['p50', 'p90', 'p99'])
  const { p50, p90, p99 } = doc.latencyMs
  t.true(Number.isFinite(p50) && p50 > 0 && p50 <= p90 && p90 <= p99, JSON.stringify(doc.latencyMs))
  t.deepEqual(Object.keys(doc.phasesMs).sort(), [...PHASES].sort())
  for (const phase of PHASES) {
    t.true(Number.isFinite(doc.phasesMs[phase]) && doc.phasesMs[phase] >= 0, `${phase} = ${doc.phasesMs[phase]}`)
  }
  t.true(doc.phasesMs.transfer > 0 && doc.phasesMs.firstByte > 0)
  // MB = 10^6 bytes: the two rates agree on 20000 bytes a download (both rounded to 0.001).
  t.true(Math.abs(doc.mbPerSec / doc.downloadsPerSec / (20000 / 1e6) - 1) < 0.01, `${doc.mbPerSec} / ${doc.downloadsPerSec}`)
  t.deepEqual(await listFiles(join(dir, 'temp')), [], 'bench deletes each file once measured')
})

test('bench without --json: the readable report; exit 1 when downloads fail', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const ok = await runCli(t, ['bench', server.url('/bytes/1000'), '-n', '3'])
  t.is(ok.code, 0, describeRun(ok))
  const lines = [
    /succeeded\s+3 of 3/,
    /downloads\/s\s+[\d.]+/,
    /MB\/s\s+[\d.]+ \(10\^6 bytes\)/,
    /latency ms\s+p50 [\d.]+, p90 [\d.]+, p99 [\d.]+/,
  ]
  for (const label of lines) {
    t.regex(ok.stdout, label)
  }
  t.regex(ok.stdout, /dns\s+connect\s+tls\s+first byte\s+transfer/)

  const failed = await runCli(t, ['bench', server.url('/bytes/1000'), '-n', '2', '--domain', 'http://elsewhere.test', '--json'])
  t.is(failed.code, 1, describeRun(failed))
  const doc = JSON.parse(failed.stdout)
  t.is(doc.failed, 2)
  t.deepEqual(doc.latencyMs, { p50: null, p90: null, p99: null })
  t.regex(failed.stderr, /2 of 2 failed, first: downloadFile:fail url not in domain list/)
})
