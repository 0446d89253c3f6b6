// The `tt-download` command (SPEC 9, and the CLI rows of SPEC 10) run as a real process from
// src/ against local servers: exit status 0/1/2, the JSON documents of `get` and `bench`, the
// stored file at the printed path, and bad usage rejected before anything is downloaded.
//
// Every child gets an explicit environment without proxy variables (`--proxy env` is the
// default, so a proxy set on the test machine would otherwise carry the downloads), and every
// run against a server here passes `--allow 127.0.0.0/8`: the egress policy refuses loopback.
import test from 'ava'
import type { ExecutionContext } from 'ava'
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative, sep } from 'node:path'
import { expectedSha256, sha256File } from './helpers/bytes.js'
import { startContentServer } from './helpers/content-server.js'
import { listFiles, makeTmpDir } from './helpers/fs.js'
import { closeAfter } from './helpers/server.js'
import { refusedPort } from './helpers/raw-servers.js'
import { describeRun, ROOT, runCli } from './helpers/run.js'
import type { Ran } from './helpers/run.js'
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

/** The loopback range every run against a server of this file allows. */
const ALLOW_LOOPBACK = ['--allow', '127.0.0.0/8']

const PROXY_VARIABLE = /^(https?|all|no)_proxy$/i

/** This process's environment without any proxy variable, plus `extra`. */
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) if (!PROXY_VARIABLE.test(name)) env[name] = value
  return { ...env, ...extra }
}

/** `tt-download <args>` in `cliEnv(extra)`. */
function cli(t: ExecutionContext, args: string[], extra?: Record<string, string>): Promise<Ran> {
  return runCli(t, args, { env: cliEnv(extra) })
}

test('get --json over HTTPS in release (--domain, --ca, --resolve): exit 0, success object, file at realPath', async (t) => {
  const server = closeAfter(t, await startTlsServer('h2'))
  const dir = await dataDir(t)
  const url = server.url('/bytes/150000')
  const ran = await cli(t, [
    'get',
    url,
    '--json',
    '--env',
    'release',
    '--domain',
    server.origin,
    '--ca',
    await caFile(t),
    '--resolve',
    `${TEST_HOST}:127.0.0.1`,
    '--data-dir',
    dir,
    '--timeout',
    '20000',
    ...ALLOW_LOOPBACK,
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
  const ran = await cli(t, ['get', server.url('/bytes/4096'), '--data-dir', dir, '--file-path', 'ttfile://user/x.bin', ...ALLOW_LOOPBACK])
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
  const ran = await cli(t, ['get', server.url('/bytes/1000'), '--json', ...ALLOW_LOOPBACK])
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
  const ran = await cli(t, [
    'get',
    server.url('/bytes/100'),
    '--json',
    '--resolve',
    `${TEST_HOST}:127.0.0.1`,
    '--data-dir',
    dir,
    ...ALLOW_LOOPBACK,
  ])
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
  const ran = await cli(t, ['get', url, '--domain', 'http://elsewhere.test', '--data-dir', await dataDir(t), ...ALLOW_LOOPBACK])
  t.is(ran.code, 1, describeRun(ran))
  t.regex(ran.stdout, /^fail\n/)
  t.true(ran.stdout.includes(`downloadFile:fail url not in domain list, url == ${url}`), ran.stdout)
  t.regex(ran.stdout, /errNo\s+121501/)
  t.regex(ran.stdout, /errorType\s+D/)
})

test('get in release refuses http (121599, exit 1): --env reaches the host', async (t) => {
  const ran = await cli(t, ['get', 'http://127.0.0.1:9/x', '--env', 'release', '--json', '--data-dir', await dataDir(t)])
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
  { name: 'bench: --keep without --data-dir', args: ['bench', 'http://x.test/', '--keep'], message: /--keep needs --data-dir/ },
  {
    name: 'bench: bad --env',
    args: ['bench', 'http://x.test/', '--env', 'dev', '--json'],
    message: /--env must be test or release/,
  },
  {
    name: 'get: --resolve with an address that is not one',
    args: ['get', 'http://x.test/', '--resolve', 'x.test:127.0.0.1,nope'],
    message: /--resolve must be host:ip\[,ip\.\.\.\], got 'x\.test:127\.0\.0\.1,nope'/,
  },
  {
    name: 'get: --resolve with an empty address after a comma',
    args: ['get', 'http://x.test/', '--resolve', 'x.test:127.0.0.1,'],
    message: /--resolve must be host:ip/,
  },
  {
    name: 'get: --resolve naming one host twice',
    args: ['get', 'http://x.test/', '--resolve', 'x.test:127.0.0.1', '--resolve', 'X.test:127.0.0.2'],
    message: /--resolve: 'X\.test' given twice; give all its addresses in one --resolve X\.test:ip,ip/,
  },
  {
    name: 'get: --allow that is not an address or CIDR',
    args: ['get', 'http://x.test/', '--allow', 'localhost'],
    message: /--allow must be an IP address or CIDR .*"localhost"/,
  },
  {
    name: 'get: --allow with a prefix too long for its family',
    args: ['get', 'http://x.test/', '--allow', '127.0.0.1/33'],
    message: /--allow must be an IP address or CIDR .*prefix too long/,
  },
  {
    name: 'get: --allow with host bits set',
    args: ['get', 'http://x.test/', '--allow', '10.0.0.1/8'],
    message: /--allow must be an IP address or CIDR .*host bits/,
  },
  { name: 'get: --allow without a value', args: ['get', 'http://x.test/', '--allow'], message: /--allow <value>' argument missing/ },
  {
    name: 'get: --proxy https://',
    args: ['get', 'http://x.test/', '--proxy', 'https://proxy.test:3128'],
    message: /--proxy must be http:\/\/\[user:password@\]host\[:port\], env or none, got 'https:\/\/proxy\.test:3128'/,
  },
  {
    name: 'get: --proxy socks5://',
    args: ['get', 'http://x.test/', '--proxy', 'socks5://proxy.test:1080'],
    message: /--proxy must be http:\/\/.*, env or none/,
  },
  {
    name: 'get: --proxy with a path',
    args: ['get', 'http://x.test/', '--proxy', 'http://proxy.test:3128/path'],
    message: /--proxy must be http:\/\/.*, env or none/,
  },
  {
    name: 'get: --proxy that is neither a URL, env nor none',
    args: ['get', 'http://x.test/', '--proxy', 'direct'],
    message: /--proxy must be http:\/\/.*, env or none, got 'direct'/,
  },
  {
    name: 'bench: --allow that is not an address or CIDR',
    args: ['bench', 'http://x.test/', '--allow', '127.0.0.0/8x'],
    message: /--allow must be an IP address or CIDR/,
  },
  {
    name: 'bench: bad --proxy',
    args: ['bench', 'http://x.test/', '--proxy', 'ftp://proxy.test'],
    message: /--proxy must be http:\/\/.*, env or none/,
  },
  { name: 'bench: bad --resolve', args: ['bench', 'http://x.test/', '--resolve', ':127.0.0.1'], message: /--resolve must be host:ip/ },
  { name: 'demo: extra argument', args: ['demo', 'now'], message: /unexpected argument 'now'/ },
  { name: 'demo: unknown option', args: ['demo', '--json'], message: /Unknown option '--json'/ },
]

for (const { name, args, message } of badUsage) {
  test(`bad usage exits 2 with a message on stderr and nothing on stdout: ${name}`, async (t) => {
    const ran = await cli(t, args)
    t.is(ran.code, 2, describeRun(ran))
    t.regex(ran.stderr, message)
    t.regex(ran.stderr, /Usage: tt-download/, 'the usage follows the message')
    t.is(ran.stdout, '')
  })
}

for (const args of [['--help'], ['-h'], ['demo', '--help'], ['get', '--help'], ['bench', '--help'], ['get', '-h']]) {
  test(`${args.join(' ')} prints the usage on stdout and exits 0`, async (t) => {
    const ran = await cli(t, args)
    t.is(ran.code, 0, describeRun(ran))
    const command = args.length > 1 ? `${args[0]} ` : ''
    t.true(ran.stdout.startsWith(`Usage: tt-download ${command}`), ran.stdout)
    t.is(ran.stderr, '')
  })
}

test('get --help wins over a missing <url>', async (t) => {
  const ran = await cli(t, ['get', '--json', '--help'])
  t.is(ran.code, 0, describeRun(ran))
  t.regex(ran.stdout, /^Usage: tt-download get <url>/)
})

test('bench --json: one object with count, concurrency, throughput, latency percentiles and phase medians', async (t) => {
  const server = closeAfter(t, await startTlsServer('https'))
  const dir = await dataDir(t)
  const ran = await cli(t, [
    'bench',
    server.url('/bytes/20000'),
    '-n',
    '6',
    '-c',
    '2',
    '--json',
    '--ca',
    await caFile(t),
    '--resolve',
    `${TEST_HOST}:127.0.0.1`,
    '--env',
    'release',
    '--domain',
    server.origin,
    '--data-dir',
    dir,
    ...ALLOW_LOOPBACK,
  ])
  t.is(ran.code, 0, describeRun(ran))
  const lines = ran.stdout.trimEnd().split('\n')
  t.is(lines.length, 1, 'one JSON document')
  const doc = JSON.parse(lines[0]!)
  t.is(doc.count, 6)
  t.is(doc.concurrency, 2)
  t.is(doc.proxy, null, 'no proxy variable, so direct')
  t.is(doc.failed, 0)
  t.deepEqual(doc.failedByErrNo, {})
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
  t.deepEqual(await listFiles(join(dir, 'temp')), [], 'bench removes the stored files once the timed window has closed')
})

test('bench --keep leaves every stored file in --data-dir', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const dir = await dataDir(t)
  const ran = await cli(t, [
    'bench',
    server.url('/bytes/3000'),
    '-n',
    '5',
    '-c',
    '2',
    '--keep',
    '--json',
    '--data-dir',
    dir,
    ...ALLOW_LOOPBACK,
  ])
  t.is(ran.code, 0, describeRun(ran))
  const kept = await listFiles(join(dir, 'temp'))
  t.is(kept.length, 5, kept.join(', '))
})

test('bench without --json: the readable report; exit 1 when downloads fail', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const ok = await cli(t, ['bench', server.url('/bytes/1000'), '-n', '3', ...ALLOW_LOOPBACK])
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

  const failed = await cli(t, [
    'bench',
    server.url('/bytes/1000'),
    '-n',
    '2',
    '--domain',
    'http://elsewhere.test',
    '--json',
    ...ALLOW_LOOPBACK,
  ])
  t.is(failed.code, 1, describeRun(failed))
  const doc = JSON.parse(failed.stdout)
  t.is(doc.failed, 2)
  t.deepEqual(doc.failedByErrNo, { 121501: 2 })
  t.deepEqual(doc.latencyMs, { p50: null, p90: null, p99: null })
  t.regex(failed.stderr, /2 of 2 failed, first: downloadFile:fail url not in domain list/)
})

test('bad usage never echoes proxy credentials', async (t) => {
  const ran = await cli(t, ['get', 'http://x.test/', '--proxy', 'https://alice:s3cret@proxy.test:3128'])
  t.is(ran.code, 2, describeRun(ran))
  t.regex(ran.stderr, /--proxy must be http:\/\/\[user:password@\]host\[:port\], env or none/)
  t.false(ran.stderr.includes('s3cret') || ran.stderr.includes('alice'), ran.stderr)
})

test('a malformed proxy variable is bad usage naming the variable (read as --proxy env)', async (t) => {
  const ran = await cli(t, ['get', 'http://x.test/', '--json'], { http_proxy: 'socks5://proxy.test:1080' })
  t.is(ran.code, 2, describeRun(ran))
  t.regex(ran.stderr, /http_proxy/)
  t.is(ran.stdout, '')
})

test('--proxy none goes direct whatever the proxy variables say, and names no proxy', async (t) => {
  const origin = closeAfter(t, await startContentServer({ mode: 'http' }))
  const deadProxy = `http://127.0.0.1:${await refusedPort()}`
  const env = { http_proxy: deadProxy, https_proxy: deadProxy }
  const got = await cli(
    t,
    ['get', origin.url('/bytes/100'), '--json', '--proxy', 'none', ...ALLOW_LOOPBACK, '--data-dir', await dataDir(t)],
    env,
  )
  t.is(got.code, 0, describeRun(got))
  t.is(got.stderr, '', 'no proxy notice')
  t.is(JSON.parse(got.stdout).dataLength, 100)

  const benched = await cli(t, ['bench', origin.url('/bytes/100'), '-n', '2', '--json', '--proxy', 'none', ...ALLOW_LOOPBACK], env)
  t.is(benched.code, 0, describeRun(benched))
  t.is(JSON.parse(benched.stdout).proxy, null)
  t.is(origin.requestsTo('/bytes/').length, 3, 'every download reached the origin itself')
})

test('no_proxy excludes a host from the proxy of --proxy env: direct, and no notice', async (t) => {
  const origin = closeAfter(t, await startContentServer({ mode: 'http' }))
  const deadProxy = `http://127.0.0.1:${await refusedPort()}`
  const ran = await cli(t, ['bench', origin.url('/bytes/100'), '-n', '1', '--json', ...ALLOW_LOOPBACK], {
    http_proxy: deadProxy,
    no_proxy: 'example.test, 127.0.0.1',
  })
  t.is(ran.code, 0, describeRun(ran))
  t.is(ran.stderr, '')
  t.is(JSON.parse(ran.stdout).proxy, null)
})

// The content server answers absolute-form requests (`GET http://origin.test/bytes/100`) as
// it answers its own paths, so it stands in for an HTTP proxy and records what reached it. The
// origin's name resolves nowhere but at the "proxy": the download can only succeed through it.
test('a proxy from the environment is named on stderr (never its credentials) and carries the download', async (t) => {
  const proxy = closeAfter(t, await startContentServer({ mode: 'http' }))
  const env = { http_proxy: `http://alice:s3cret@127.0.0.1:${proxy.port}` }
  const ran = await cli(t, ['get', 'http://origin.test/bytes/100', '--json', ...ALLOW_LOOPBACK, '--data-dir', await dataDir(t)], env)
  t.is(ran.stderr, `tt-download get: through the proxy 127.0.0.1:${proxy.port} (from the environment, with credentials)\n`)
  t.false(ran.stderr.includes('s3cret') || ran.stderr.includes('alice'))
  t.is(ran.code, 0, describeRun(ran))
  t.is(JSON.parse(ran.stdout).dataLength, 100)
  const seen = proxy.requests[0]
  t.is(seen?.path, 'http://origin.test/bytes/100', 'absolute form, to the proxy')
  t.is(seen?.headers['proxy-authorization'], `Basic ${Buffer.from('alice:s3cret').toString('base64')}`)
})

test('bench --proxy URL: the notice on stderr and "proxy": "<host:port>" in --json', async (t) => {
  const proxy = closeAfter(t, await startContentServer({ mode: 'http' }))
  const ran = await cli(t, [
    'bench',
    'http://origin.test/bytes/1000',
    '-n',
    '3',
    '--json',
    '--proxy',
    `http://127.0.0.1:${proxy.port}`,
    ...ALLOW_LOOPBACK,
  ])
  t.is(ran.stderr, `tt-download bench: through the proxy 127.0.0.1:${proxy.port} (from --proxy)\n`)
  t.is(ran.code, 0, describeRun(ran))
  const doc = JSON.parse(ran.stdout)
  t.is(doc.proxy, `127.0.0.1:${proxy.port}`)
  t.is(doc.failed, 0)
  t.is(proxy.requestsTo('http://origin.test/').length, 3)
})

test('--resolve host:ip,ip gives the host several addresses', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const ran = await cli(t, [
    'get',
    `http://a.test:${server.port}/bytes/100`,
    '--json',
    '--resolve',
    'a.test:127.0.0.1,127.0.0.2',
    ...ALLOW_LOOPBACK,
    '--data-dir',
    await dataDir(t),
  ])
  t.is(ran.code, 0, describeRun(ran))
  const doc = JSON.parse(ran.stdout)
  t.is(doc.dataLength, 100)
  t.is(doc.profile.peerIP, '127.0.0.1', 'the first address, which answers')
})

test('a download the egress policy refused: stderr names the address and the --allow that admits it', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const ran = await cli(t, ['get', server.url('/bytes/100'), '--json', '--data-dir', await dataDir(t)])
  t.is(ran.code, 1, describeRun(ran))
  t.deepEqual(JSON.parse(ran.stdout), {
    errMsg: 'downloadFile:fail connection error: address not allowed',
    errNo: 121526,
    errorCode: 121526,
    errorType: 'U',
  })
  t.regex(ran.stderr, /the egress policy refused 127\.0\.0\.1 /)
  t.true(ran.stderr.includes('--allow 127.0.0.1/32 would allow it'), ran.stderr)
  t.is(server.connections, 0, 'nothing was sent to the refused address')

  const benched = await cli(t, ['bench', server.url('/bytes/100'), '-n', '2', '--json'])
  t.is(benched.code, 1, describeRun(benched))
  t.deepEqual(JSON.parse(benched.stdout).failedByErrNo, { 121526: 2 })
  t.true(benched.stderr.includes('tt-download bench: --allow 127.0.0.1/32 would allow it'), benched.stderr)
  t.is(server.connections, 0)
})

test('demo never uses a proxy, whatever the proxy variables say', async (t) => {
  const deadProxy = `http://127.0.0.1:${await refusedPort()}`
  const ran = await cli(t, ['demo'], { http_proxy: deadProxy, https_proxy: deadProxy, HTTPS_PROXY: deadProxy })
  t.is(ran.code, 0, describeRun(ran))
  t.regex(ran.stdout, /demo: all downloads succeeded/)
})

test('the CLI reaches the library only through index.ts, as a user would', async (t) => {
  const cliDir = join(ROOT, 'src', 'cli')
  const below: string[] = []
  for (const file of await readdir(cliDir)) {
    const source = await readFile(join(cliDir, file), 'utf8')
    for (const [, target] of source.matchAll(/from '(\.\.\/[^']+)'/g)) if (target !== '../index.js') below.push(`${file}: ${target}`)
  }
  t.deepEqual(below, [])
})
