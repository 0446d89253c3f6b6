// SPEC 11 "IP policy" and "Connecting (Happy Eyeballs)", proven by what reached a server: a
// refused destination fails 121526 `connection error: address not allowed` and the server
// counted zero accepted connections; an allowed one reached it. Every server here is on
// loopback (127.0.0.0/8 or ::1) and started by the test; no test dials any other address, even
// when the policy under test is broken (refused private ranges are exercised with loopback
// addresses only, which the default list refuses just the same).
import test, { type ExecutionContext } from 'ava'
import * as net from 'node:net'
import { createHost, DownloadError, type EgressConfig, type Host, type HostConfig } from '../src/index.js'
import { assertFailedRun, assertNoLeftovers, assertSucceededRun } from './helpers/assert.js'
import { socketsTo, startBlackhole, TCP_SYN_SENT, type Blackhole } from './helpers/blackhole.js'
import { startContentServer, type ContentServer } from './helpers/content-server.js'
import { makeTmpDir } from './helpers/fs.js'
import { makeHost } from './helpers/hosts.js'
import { record } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'
import { connectsWithin } from './helpers/listen.js'
import { refusedPort } from './helpers/raw-servers.js'
import { certKit, TEST_HOST } from './helpers/tls.js'

const NOT_ALLOWED = [121526, 'connection error: address not allowed', 'U'] as const
const LOOPBACK = { allow: ['127.0.0.0/8', '::1/128'] }

/**
 * makeHost (helpers/host.ts) with no egress config unless the test gives one: whatever
 * default the shared helper adopts, "no egress" here means the SPEC's default policy.
 */
function hostWith(t: ExecutionContext, overrides: Partial<HostConfig> = {}): ReturnType<typeof makeHost> {
  return makeHost(t, { egress: undefined, ...overrides })
}

// ---------------------------------------------------------------------------------------------
// Servers

/** An HTTPS content server for files.test (the kit's leaf) listening on `listenHost`. */
async function httpsServer(t: ExecutionContext, listenHost = '127.0.0.1', listenPort?: number): Promise<ContentServer> {
  const kit = await certKit()
  return closeAfter(t, await startContentServer({ mode: 'https', cert: kit.leaf, hostname: TEST_HOST, listenHost, listenPort }))
}

/** A plain HTTP content server listening on `listenHost`; `url()` uses files.test. */
async function httpServer(t: ExecutionContext, listenHost = '127.0.0.1', listenPort?: number): Promise<ContentServer> {
  return closeAfter(t, await startContentServer({ mode: 'http', hostname: TEST_HOST, listenHost, listenPort }))
}

function isAddrInUse(error: unknown): boolean {
  return /EADDRINUSE/.test(String((error as NodeJS.ErrnoException)?.code ?? error))
}

/**
 * Two plain HTTP servers on the same port, one on each loopback address: a name that `resolve`
 * maps to both reaches one or the other on the URL's single port.
 */
async function serversOnOnePort(
  t: ExecutionContext,
  first: string,
  second: string,
): Promise<{ port: number; a: ContentServer; b: ContentServer }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const a = await startContentServer({ mode: 'http', hostname: TEST_HOST, listenHost: first })
    try {
      const b = await startContentServer({ mode: 'http', hostname: TEST_HOST, listenHost: second, listenPort: a.port })
      closeAfter(t, a)
      closeAfter(t, b)
      return { port: a.port, a, b }
    } catch (error) {
      await a.close()
      if (!isAddrInUse(error)) throw error
    }
  }
  throw new Error(`no port free on both ${first} and ${second} after 5 attempts`)
}

/** A blackholed `blackholeHost:P` and a serving plain HTTP server on `serverHost:P`. */
async function blackholeBesideServer(
  t: ExecutionContext,
  blackholeHost: string,
  serverHost: string,
): Promise<{ port: number; blackhole: Blackhole; server: ContentServer }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const blackhole = await startBlackhole({ host: blackholeHost })
    try {
      const server = await startContentServer({
        mode: 'http',
        hostname: TEST_HOST,
        listenHost: serverHost,
        listenPort: blackhole.port,
      })
      closeAfter(t, server)
      closeAfter(t, blackhole)
      return { port: blackhole.port, blackhole, server }
    } catch (error) {
      await blackhole.close()
      if (!isAddrInUse(error)) throw error
    }
  }
  throw new Error(`no port free on both ${blackholeHost} and ${serverHost} after 5 attempts`)
}

function noEvents(t: ExecutionContext, run: ReturnType<typeof record>): void {
  t.false(
    run.events.some((e) => e.type === 'headers' || e.type === 'progress'),
    'no headers or progress event for a refused destination',
  )
}

/** The release-mode host of the brief: domain listed and checked, files.test mapped to `ip`. */
function releaseConfig(port: number, ip: string): Partial<HostConfig> {
  return {
    env: 'release',
    checkDomain: true,
    domains: [`https://${TEST_HOST}:${port}`],
    resolve: { [TEST_HOST]: ip },
  }
}

// ---------------------------------------------------------------------------------------------
// Refused by default, whatever env and the domain list say

test('release, checkDomain on, the domain listed, files.test resolved to 127.0.0.1, no egress: 121526 address not allowed and the server saw no connection', async (t) => {
  const server = await httpsServer(t)
  const { host, dataDir } = await hostWith(t, releaseConfig(server.port, '127.0.0.1'))
  const run = record(host, { url: server.url('/bytes/100') })
  await run.done
  assertFailedRun(t, run, ...NOT_ALLOWED)
  noEvents(t, run)
  t.is(server.connections, 0, 'no connection reached the server')
  await assertNoLeftovers(t, dataDir)
})

test('the same release host with egress.allow 127.0.0.0/8 reaches that server (the refusal above is the policy)', async (t) => {
  const server = await httpsServer(t)
  const { host } = await hostWith(t, { ...releaseConfig(server.port, '127.0.0.1'), egress: { allow: ['127.0.0.0/8'] } })
  const run = record(host, { url: server.url('/bytes/100') })
  await run.done
  const res = assertSucceededRun(t, run)
  t.is(res.statusCode, 200)
  t.is(res.profile?.peerIP, '127.0.0.1')
  t.is(server.connections, 1)
})

test('release, the domain listed, files.test resolved to ::1, no egress: 121526 address not allowed and the server on [::1] saw no connection', async (t) => {
  const server = await httpsServer(t, '::1')
  const { host, dataDir } = await hostWith(t, releaseConfig(server.port, '::1'))
  const run = record(host, { url: server.url('/bytes/100') })
  await run.done
  assertFailedRun(t, run, ...NOT_ALLOWED)
  noEvents(t, run)
  t.is(server.connections, 0)
  await assertNoLeftovers(t, dataDir)
})

test('the same ::1 host with egress.allow ::1/128 reaches the server on [::1]', async (t) => {
  const server = await httpsServer(t, '::1')
  const { host } = await hostWith(t, { ...releaseConfig(server.port, '::1'), egress: { allow: ['::1/128'] } })
  const run = record(host, { url: server.url('/bytes/100') })
  await run.done
  const res = assertSucceededRun(t, run)
  t.is(res.profile?.peerIP, '::1')
  t.is(server.connections, 1)
})

test("env 'test' over plain http, files.test resolved to 127.0.0.1, no egress: refused, no connection", async (t) => {
  const server = await httpServer(t)
  const { host } = await hostWith(t, { env: 'test', resolve: { [TEST_HOST]: '127.0.0.1' } })
  const run = record(host, { url: server.url('/bytes/100') })
  await run.done
  assertFailedRun(t, run, ...NOT_ALLOWED)
  noEvents(t, run)
  t.is(server.connections, 0)
})

test('release with checkDomain: false, files.test resolved to 127.0.0.1, no egress: refused, no connection', async (t) => {
  const server = await httpsServer(t)
  const { host } = await hostWith(t, { env: 'release', checkDomain: false, resolve: { [TEST_HOST]: '127.0.0.1' } })
  const run = record(host, { url: server.url('/bytes/100') })
  await run.done
  assertFailedRun(t, run, ...NOT_ALLOWED)
  t.is(server.connections, 0)
})

for (const [what, url] of [
  ['an IPv4 literal URL (127.0.0.1)', (port: number) => `http://127.0.0.1:${port}/bytes/100`],
  ['localhost', (port: number) => `http://localhost:${port}/bytes/100`],
  ['a mapped IPv6 literal (::ffff:127.0.0.1)', (port: number) => `http://[::ffff:127.0.0.1]:${port}/bytes/100`],
  ['a hex IPv4 literal (0x7f000001)', (port: number) => `http://0x7f000001:${port}/bytes/100`],
] as const) {
  test(`${what}, no egress: refused, no connection`, async (t) => {
    const server = await httpServer(t)
    const { host } = await hostWith(t)
    const run = record(host, { url: url(server.port) })
    await run.done
    assertFailedRun(t, run, ...NOT_ALLOWED)
    noEvents(t, run)
    t.is(server.connections, 0)
  })
}

test('a refused open port and a refused closed port give the same fail object (the policy is no port scanner)', async (t) => {
  const open = await httpServer(t)
  const closedPort = await refusedPort()
  const { host } = await hostWith(t)
  const toOpen = record(host, { url: `http://127.0.0.1:${open.port}/bytes/100` })
  const toClosed = record(host, { url: `http://127.0.0.1:${closedPort}/bytes/100` })
  await Promise.all([toOpen.done, toClosed.done])
  assertFailedRun(t, toOpen, ...NOT_ALLOWED)
  assertFailedRun(t, toClosed, ...NOT_ALLOWED)
  t.deepEqual(toOpen.fail, toClosed.fail)
  t.is(open.connections, 0)
})

test('the fail object of a refusal has no `refused` field and names no address; neither does the DownloadError of download()', async (t) => {
  const server = await httpServer(t, '127.0.0.3')
  const { host } = await hostWith(t, { resolve: { [TEST_HOST]: '127.0.0.3' } })
  const run = record(host, { url: server.url('/bytes/100') })
  await run.done
  assertFailedRun(t, run, ...NOT_ALLOWED)
  t.deepEqual(Object.keys(run.fail ?? {}).sort(), ['errMsg', 'errNo', 'errorCode', 'errorType'])
  t.false(JSON.stringify(run.fail).includes('127.0.0.3'), 'the fail object does not name the address')
  t.false(JSON.stringify(run.complete).includes('127.0.0.3'), 'neither does complete')

  const error = await t.throwsAsync(host.download({ url: server.url('/bytes/100') }), { instanceOf: DownloadError })
  t.is(error?.errMsg, 'downloadFile:fail connection error: address not allowed')
  t.is(error?.errNo, 121526)
  t.false('refused' in (error ?? {}), 'no refused field on the DownloadError')
  t.false(String(error?.message).includes('127.0.0.3'))
  t.false(JSON.stringify(error).includes('127.0.0.3'))
  t.is(server.connections, 0)
})

// ---------------------------------------------------------------------------------------------
// Redirect hops are checked too

for (const [what, target] of [
  ['http://0x7f000001 (127.0.0.1 spelled in hex)', (port: number) => `http://0x7f000001:${port}/bytes/100`],
  ['http://127.0.0.1', (port: number) => `http://127.0.0.1:${port}/bytes/100`],
  ['a name resolved to 127.0.0.1', (port: number) => `http://${TEST_HOST}:${port}/bytes/100`],
] as const) {
  test(`a redirect from an allowed origin (egress.allow 127.0.0.2/32) to ${what} is refused; the target saw no connection`, async (t) => {
    const first = await httpServer(t, '127.0.0.2')
    const second = await httpServer(t, '127.0.0.1')
    const { host, dataDir } = await hostWith(t, {
      resolve: { [TEST_HOST]: '127.0.0.1' },
      egress: { allow: ['127.0.0.2/32'] },
    })
    const location = target(second.port)
    const run = record(host, {
      url: `http://127.0.0.2:${first.port}/redirect-to?url=${encodeURIComponent(location)}`,
    })
    await run.done
    assertFailedRun(t, run, ...NOT_ALLOWED)
    t.is(first.requestsTo('/redirect-to').length, 1, 'the allowed first hop was requested')
    t.is(second.connections, 0, 'the refused hop never reached its server')
    await assertNoLeftovers(t, dataDir)
  })
}

test('the same redirect to http://0x7f000001 is followed when egress.allow covers 127.0.0.0/8', async (t) => {
  const first = await httpServer(t, '127.0.0.2')
  const second = await httpServer(t, '127.0.0.1')
  const { host } = await hostWith(t, { egress: { allow: ['127.0.0.0/8'] } })
  const location = `http://0x7f000001:${second.port}/bytes/100`
  const run = record(host, { url: `http://127.0.0.2:${first.port}/redirect-to?url=${encodeURIComponent(location)}` })
  await run.done
  const res = assertSucceededRun(t, run)
  t.is(res.dataLength, 100)
  t.is(res.profile?.redirectCount, 1)
  t.is(second.connections, 1)
})

// ---------------------------------------------------------------------------------------------
// allow, deny, allowPrivate

test("egress.allow ['127.0.0.0/8'] allows 127.0.0.1", async (t) => {
  const server = await httpServer(t)
  const { host } = await hostWith(t, { egress: { allow: ['127.0.0.0/8'] } })
  const run = record(host, { url: `http://127.0.0.1:${server.port}/bytes/100` })
  await run.done
  assertSucceededRun(t, run)
  t.is(server.connections, 1)
})

test('egress.allowPrivate: true allows loopback', async (t) => {
  const server = await httpServer(t)
  const { host } = await hostWith(t, { egress: { allowPrivate: true } })
  const run = record(host, { url: `http://127.0.0.1:${server.port}/bytes/100` })
  await run.done
  assertSucceededRun(t, run)
  t.is(server.connections, 1)
})

test('egress.deny refuses an address that allowPrivate: true would allow', async (t) => {
  const server = await httpServer(t)
  const { host } = await hostWith(t, { egress: { allowPrivate: true, deny: ['127.0.0.1'] } })
  const run = record(host, { url: `http://127.0.0.1:${server.port}/bytes/100` })
  await run.done
  assertFailedRun(t, run, ...NOT_ALLOWED)
  t.is(server.connections, 0)
})

test('egress.allow wins over egress.deny', async (t) => {
  const server = await httpServer(t)
  const { host } = await hostWith(t, { egress: { allow: ['127.0.0.1/32'], deny: ['127.0.0.0/8'] } })
  const run = record(host, { url: `http://127.0.0.1:${server.port}/bytes/100` })
  await run.done
  assertSucceededRun(t, run)
  t.is(server.connections, 1)
})

test('a mapped address is folded before the check: allow 127.0.0.1/32 allows http://[::ffff:127.0.0.1]', async (t) => {
  const server = await httpServer(t)
  const { host } = await hostWith(t, { egress: { allow: ['127.0.0.1/32'] } })
  const run = record(host, { url: `http://[::ffff:127.0.0.1]:${server.port}/bytes/100` })
  await run.done
  assertSucceededRun(t, run)
  t.is(server.connections, 1)
})

test('entries are folded too: allow ::ffff:127.0.0.1 allows 127.0.0.1, deny ::ffff:127.0.0.1 refuses it', async (t) => {
  const server = await httpServer(t)
  const allowing = await hostWith(t, { egress: { allow: ['::ffff:127.0.0.1'] } })
  const allowed = record(allowing.host, { url: `http://127.0.0.1:${server.port}/bytes/100` })
  await allowed.done
  assertSucceededRun(t, allowed)
  t.is(server.connections, 1)

  const denying = await hostWith(t, { egress: { allowPrivate: true, deny: ['::ffff:127.0.0.1'] } })
  const denied = record(denying.host, { url: `http://127.0.0.1:${server.port}/bytes/100` })
  await denied.done
  assertFailedRun(t, denied, ...NOT_ALLOWED)
  t.is(server.connections, 1, 'the denied download added no connection')
})

// ---------------------------------------------------------------------------------------------
// A name with several addresses: only the allowed ones are tried

const ONE_OF_TWO: [string, EgressConfig][] = [
  ["allow ['127.0.0.1/32'] (127.0.0.3 stays refused as loopback)", { allow: ['127.0.0.1/32'] }],
  ["allowPrivate with deny ['127.0.0.3']", { allowPrivate: true, deny: ['127.0.0.3'] }],
]
for (const [what, egress] of ONE_OF_TWO) {
  test(`resolve [127.0.0.3, 127.0.0.1] with ${what}: only 127.0.0.1 is dialled`, async (t) => {
    const { port, a: refused, b: allowed } = await serversOnOnePort(t, '127.0.0.3', '127.0.0.1')
    const { host } = await hostWith(t, { resolve: { [TEST_HOST]: ['127.0.0.3', '127.0.0.1'] }, egress })
    const run = record(host, { url: `http://${TEST_HOST}:${port}/bytes/100` })
    await run.done
    const res = assertSucceededRun(t, run)
    t.is(res.profile?.peerIP, '127.0.0.1')
    t.is(refused.connections, 0, 'the refused address was never dialled')
    t.is(allowed.connections, 1)
  })
}

test('resolve [127.0.0.3, 127.0.0.1] with no egress: every address refused, 121526 address not allowed, neither server dialled', async (t) => {
  const { port, a, b } = await serversOnOnePort(t, '127.0.0.3', '127.0.0.1')
  const { host } = await hostWith(t, { resolve: { [TEST_HOST]: ['127.0.0.3', '127.0.0.1'] } })
  const run = record(host, { url: `http://${TEST_HOST}:${port}/bytes/100` })
  await run.done
  assertFailedRun(t, run, ...NOT_ALLOWED)
  t.is(a.connections, 0)
  t.is(b.connections, 0)
})

// ---------------------------------------------------------------------------------------------
// Malformed egress and resolve: createHost throws a TypeError

/** createHost(config) must throw a TypeError; a host it created anyway is closed. */
async function assertCreateHostThrows(t: ExecutionContext, config: Partial<HostConfig>, label: string): Promise<void> {
  const tmp = await makeTmpDir()
  t.teardown(() => tmp.cleanup())
  let host: Host | undefined
  t.throws(
    () => {
      host = createHost({ appId: 'tt0123456789abcdef', dataDir: tmp.dir, ...config } as HostConfig)
    },
    { instanceOf: TypeError },
    label,
  )
  if (host !== undefined) {
    const created = host
    t.teardown(() => created.close())
  }
}

async function assertCreateHostAccepts(t: ExecutionContext, config: Partial<HostConfig>, label: string): Promise<void> {
  const tmp = await makeTmpDir()
  t.teardown(() => tmp.cleanup())
  t.notThrows(() => {
    const host = createHost({ appId: 'tt0123456789abcdef', dataDir: tmp.dir, ...config } as HostConfig)
    t.teardown(() => host.close())
  }, label)
}

const BAD_EGRESS: [string, unknown][] = [
  ['egress not an object', 'all'],
  ['egress an array', ['127.0.0.0/8']],
  ['allow not an array', { allow: '127.0.0.0/8' }],
  ['deny not an array', { deny: { '10.0.0.0/8': true } }],
  ['allow entry not a string', { allow: [2130706433] }],
  ['allowPrivate not a boolean', { allowPrivate: 'yes' }],
  ['allowPrivate a number', { allowPrivate: 1 }],
]
const BAD_ENTRIES = [
  'not-an-ip',
  '',
  '10.0.0.0/33',
  '::/129',
  '10.0.0.1/8', // host bits set
  '2001:db8::1/32', // host bits set
  'fe80::1%eth0', // zone id
  'fe80::/10%eth0',
  '010.0.0.1', // leading zeros
  '10.0.0.01/32',
  '256.0.0.1',
  '10.0.0.0/',
  '10.0.0.0/8/8',
]

test('malformed egress fields make createHost throw a TypeError', async (t) => {
  for (const [label, egress] of BAD_EGRESS) {
    await assertCreateHostThrows(t, { egress: egress as HostConfig['egress'] }, label)
  }
})

test('malformed egress entries, in allow and in deny, make createHost throw a TypeError', async (t) => {
  for (const entry of BAD_ENTRIES) {
    await assertCreateHostThrows(t, { egress: { allow: [entry] } }, `allow ${JSON.stringify(entry)}`)
    await assertCreateHostThrows(t, { egress: { deny: [entry] } }, `deny ${JSON.stringify(entry)}`)
  }
})

test('well-formed egress entries are accepted: addresses and CIDRs of both families, mapped forms, allowPrivate', async (t) => {
  const entries = ['10.0.0.0/8', '10.1.2.3', '0.0.0.0/0', '::1', '::1/128', '2001:db8::/32', 'fc00::/7', '::ffff:127.0.0.1', '::/0']
  await assertCreateHostAccepts(t, { egress: { allow: entries, deny: entries, allowPrivate: false } }, entries.join(' '))
  await assertCreateHostAccepts(t, { egress: {} }, 'empty egress')
  await assertCreateHostAccepts(t, { egress: { allowPrivate: true } }, 'allowPrivate only')
})

test('resolve values may be arrays of addresses; a non-IP in an array makes createHost throw a TypeError', async (t) => {
  await assertCreateHostAccepts(t, { resolve: { [TEST_HOST]: ['127.0.0.1', '::1'], 'b.test': '127.0.0.2' } }, 'arrays')
  await assertCreateHostThrows(t, { resolve: { [TEST_HOST]: ['127.0.0.1', 'not-an-ip'] } }, 'a non-IP in an array')
  await assertCreateHostThrows(t, { resolve: { [TEST_HOST]: ['127.0.0.1', 'localhost'] } }, 'a name in an array')
  await assertCreateHostThrows(
    t,
    { resolve: { [TEST_HOST]: ['127.0.0.1', 2130706433] } } as unknown as Partial<HostConfig>,
    'a number in an array',
  )
})

// ---------------------------------------------------------------------------------------------
// Happy Eyeballs (RFC 8305)

/** Polls until no SYN-SENT socket to ip:port is left, at most `ms`; returns what is left. */
async function synSentLeft(ip: string, port: number, ms = 3000): Promise<number> {
  const deadline = performance.now() + ms
  let left = await socketsTo(ip, port, TCP_SYN_SENT)
  while (left > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25))
    left = await socketsTo(ip, port, TCP_SYN_SENT)
  }
  return left
}

for (const host of ['127.0.0.2', '::1']) {
  test(`harness: a full accept queue on ${host} leaves a plain connect unanswered for 1 s, and the client sits in SYN-SENT`, async (t) => {
    const blackhole = closeAfter(t, await startBlackhole({ host }))
    const socket = net.connect(blackhole.port, host)
    socket.on('error', () => {})
    t.teardown(() => socket.destroy())
    let connected = false
    socket.once('connect', () => (connected = true))
    await new Promise((resolve) => setTimeout(resolve, 1000))
    t.false(connected, 'the connect got no answer within 1 s')
    t.true((await socketsTo(host, blackhole.port, TCP_SYN_SENT)) >= 1, 'a SYN-SENT socket is listed')
    socket.destroy()
    t.is(await synSentLeft(host, blackhole.port), 0, 'destroying the socket removes it')
    t.false(await connectsWithin(host, blackhole.port, 300), 'still blackholed')
  })
}

test('Happy Eyeballs: resolve [127.0.0.2 blackholed, 127.0.0.1 serving] on one port connects to 127.0.0.1 long before the timeout, the blackholed attempt closed', async (t) => {
  const { port, server } = await blackholeBesideServer(t, '127.0.0.2', '127.0.0.1')
  const { host } = await hostWith(t, { resolve: { [TEST_HOST]: ['127.0.0.2', '127.0.0.1'] }, egress: LOOPBACK })
  const run = record(host, { url: `http://${TEST_HOST}:${port}/bytes/1000`, timeout: 10_000 })
  // Watch the attempt to the blackholed address while the download runs (bounded by the run).
  let sawSynSent = false
  let watching = true
  const watcher = (async () => {
    for (let i = 0; i < 1000 && watching; i++) {
      if ((await socketsTo('127.0.0.2', port, TCP_SYN_SENT)) > 0) sawSynSent = true
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })()
  await run.done
  watching = false
  await watcher
  const res = assertSucceededRun(t, run)
  t.is(res.dataLength, 1000)
  t.is(res.profile?.peerIP, '127.0.0.1', 'the serving address won')
  t.is(server.connections, 1)
  const p = res.profile as Record<string, number>
  // The 127.0.0.1 attempt starts only after the first one has not connected for 250 ms; that
  // wait lies between domainLookupEnd and connectStart (SPEC 11). A lower bound only.
  t.true(
    p.connectStart! - p.domainLookupEnd! >= 200,
    `connectStart - domainLookupEnd = ${p.connectStart! - p.domainLookupEnd!} ms: the first attempt went to 127.0.0.2`,
  )
  t.log(`SYN-SENT to 127.0.0.2:${port} seen during the download: ${sawSynSent}`)
  t.is(await synSentLeft('127.0.0.2', port), 0, 'no SYN-SENT socket to the blackholed address remains')
})

test('Happy Eyeballs: IPv6 first: resolve [127.0.0.1 serving, ::1 blackholed] tries ::1 first, then connects over IPv4; no SYN-SENT to ::1 remains', async (t) => {
  const { port, server } = await blackholeBesideServer(t, '::1', '127.0.0.1')
  const { host } = await hostWith(t, { resolve: { [TEST_HOST]: ['127.0.0.1', '::1'] }, egress: LOOPBACK })
  const run = record(host, { url: `http://${TEST_HOST}:${port}/bytes/1000`, timeout: 10_000 })
  await run.done
  const res = assertSucceededRun(t, run)
  t.is(res.profile?.peerIP, '127.0.0.1')
  t.is(server.connections, 1)
  const p = res.profile as Record<string, number>
  t.true(
    p.connectStart! - p.domainLookupEnd! >= 200,
    `connectStart - domainLookupEnd = ${p.connectStart! - p.domainLookupEnd!} ms: the IPv6 address was tried first`,
  )
  t.is(await synSentLeft('::1', port), 0, 'no SYN-SENT socket to [::1] remains')
})

test('Happy Eyeballs: a refused first address (nothing listening on 127.0.0.2:P) falls through to 127.0.0.1:P', async (t) => {
  // A port free on 127.0.0.1 where 127.0.0.2 has no listener: the connect to 127.0.0.2 is refused.
  const server = await httpServer(t, '127.0.0.1')
  t.false(await connectsWithin('127.0.0.2', server.port, 300), `nothing listens on 127.0.0.2:${server.port}`)
  const { host } = await hostWith(t, { resolve: { [TEST_HOST]: ['127.0.0.2', '127.0.0.1'] }, egress: LOOPBACK })
  const run = record(host, { url: `http://${TEST_HOST}:${server.port}/bytes/1000`, timeout: 10_000 })
  await run.done
  const res = assertSucceededRun(t, run)
  t.is(res.profile?.peerIP, '127.0.0.1')
  t.is(server.connections, 1)
})
