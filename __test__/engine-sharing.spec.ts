// createEngine() (SPEC 8, issue 6): one engine shared by many hosts, each keeping its own domain
// list, quota, queue and cookie settings; closing a host leaves the shared engine running;
// engine.close() stops its hosts' downloads with 121522; pooled connections are reused across
// hosts only when their tls and resolve settings match. Release-mode hosts, TLS servers.
import test from 'ava'
import type { ExecutionContext } from 'ava'
import { createCA } from '../src/cli/certs.js'
import { createEngine } from '../src/index.js'
import type { Engine } from '../src/index.js'
import { assertFailedRun, assertSucceededRun } from './helpers/assert.js'
import { releaseHost } from './helpers/hosts.js'
import { record } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'
import { startHoldServer, startPolicyContentServer, waitFor } from './helpers/policy-servers.js'
import { certKit, OTHER_HOST, TEST_HOST } from './helpers/tls.js'

function sharedEngine(t: ExecutionContext): Engine {
  const engine = createEngine()
  t.teardown(() => engine.close())
  return engine
}

const ABORT = [121522, 'download file abort', 'U'] as const

test('hosts on one engine each keep their own domain list, quota and cookie settings', async (t) => {
  const server = closeAfter(t, await startPolicyContentServer())
  const port = server.port
  const engine = sharedEngine(t)
  const { host: first } = await releaseHost(t, {
    engine,
    domains: [`https://${TEST_HOST}:${port}`],
    userDataQuota: 1000,
    sdkVersion: '2.45.0',
    cookie: { enableStore: true },
  })
  const { host: second } = await releaseHost(t, {
    engine,
    domains: [`https://${OTHER_HOST}:${port}`],
    sdkVersion: '2.45.0',
    cookie: { enableStore: false },
  })
  const onFirst = (path: string) => `https://${TEST_HOST}:${port}${path}`
  const onSecond = (path: string) => `https://${OTHER_HOST}:${port}${path}`

  // Domain lists.
  assertSucceededRun(t, await record(first, { url: onFirst('/bytes/10') }).done)
  assertSucceededRun(t, await record(second, { url: onSecond('/bytes/10') }).done)
  const crossed = [
    [first, onSecond('/bytes/11')],
    [second, onFirst('/bytes/11')],
  ] as const
  for (const [host, url] of crossed) {
    assertFailedRun(t, await record(host, { url }).done, 121501, `url not in domain list, url == ${url}`, 'D')
  }

  // Quotas: 2000 bytes into user/ exceed the first host's 1000, not the second's default 10 MiB.
  const overQuota = record(first, { url: onFirst('/bytes/2000'), filePath: 'ttfile://user/big.bin' })
  assertFailedRun(t, await overQuota.done, 121530, 'user dir saved file size limit exceeded', 'D')
  assertSucceededRun(t, await record(second, { url: onSecond('/bytes/2000'), filePath: 'ttfile://user/big.bin' }).done)

  // Cookies: the first host stores and sends its cookie, the second (jar off) never sends one.
  const setCookie = `/response-headers?set-cookie=${encodeURIComponent('jar=1; Path=/')}`
  assertSucceededRun(t, await record(first, { url: onFirst(setCookie) }).done)
  assertSucceededRun(t, await record(second, { url: onSecond(setCookie) }).done)
  assertSucceededRun(t, await record(first, { url: onFirst('/bytes/12') }).done)
  t.is(server.requests.at(-1)?.headers.cookie, 'jar=1')
  assertSucceededRun(t, await record(second, { url: onSecond('/bytes/12') }).done)
  t.is(server.requests.at(-1)?.headers.cookie, undefined)
})

test.serial('hosts on one engine each keep their own queue', async (t) => {
  const server = closeAfter(t, await startHoldServer())
  const engine = sharedEngine(t)
  const domains = [server.url('')]
  const { host: narrow } = await releaseHost(t, { engine, domains, maxConcurrent: 1 })
  const { host: wide } = await releaseHost(t, { engine, domains, maxConcurrent: 3 })
  const runs = [
    ...Array.from({ length: 3 }, (_, i) => record(narrow, { url: server.url(`/hold/n${i}?ms=300&g=narrow`) })),
    ...Array.from({ length: 3 }, (_, i) => record(wide, { url: server.url(`/hold/w${i}?ms=300&g=wide`) })),
  ]
  await Promise.all(runs.map((run) => run.done))
  for (const run of runs) assertSucceededRun(t, run)
  t.is(server.maxInFlight('narrow'), 1, 'maxConcurrent 1 holds for the first host')
  t.is(server.maxInFlight('wide'), 3, "the second host ran all three at once despite the first host's limit")
})

test('closing a host leaves the shared engine running for the other hosts', async (t) => {
  const server = closeAfter(t, await startPolicyContentServer())
  const engine = sharedEngine(t)
  const { host: first } = await releaseHost(t, { engine, domains: [server.origin] })
  const { host: second } = await releaseHost(t, { engine, domains: [server.origin] })
  assertSucceededRun(t, await record(first, { url: server.url('/bytes/10') }).done)
  await first.close()
  assertFailedRun(t, await record(first, { url: server.url('/bytes/11') }).done, ...ABORT)
  assertSucceededRun(t, await record(second, { url: server.url('/bytes/12') }).done)
  const { host: third } = await releaseHost(t, { engine, domains: [server.origin] })
  assertSucceededRun(t, await record(third, { url: server.url('/bytes/13') }).done)
  t.deepEqual(
    server.requests.map((r) => r.path),
    ['/bytes/10', '/bytes/12', '/bytes/13'],
  )
})

test.serial('engine.close() fails the running, queued and new downloads of every host on it with 121522', async (t) => {
  const server = closeAfter(t, await startHoldServer())
  const engine = createEngine()
  t.teardown(() => engine.close())
  const domains = [server.url('')]
  const { host: first } = await releaseHost(t, { engine, domains, maxConcurrent: 1 })
  const { host: second } = await releaseHost(t, { engine, domains, maxConcurrent: 1 })
  const running = [
    record(first, { url: server.url('/hold/first-running?ms=5000') }),
    record(second, { url: server.url('/hold/second-running?ms=5000') }),
  ]
  const queued = [
    record(first, { url: server.url('/hold/first-queued?ms=10') }),
    record(second, { url: server.url('/hold/second-queued?ms=10') }),
  ]
  await waitFor(() => server.arrivals.length === 2, 'both running downloads to reach the server')
  const seen = [...running, ...queued].map((run) => run.events.length)
  const closing = engine.close()
  t.deepEqual(
    [...running, ...queued].map((run) => run.events.length),
    seen,
    'engine.close() calls nothing synchronously',
  )
  await closing
  await Promise.all([...running, ...queued].map((run) => run.done))
  for (const run of running) assertFailedRun(t, run, ...ABORT)
  for (const run of queued) assertFailedRun(t, run, ...ABORT)
  for (const host of [first, second]) {
    assertFailedRun(t, await record(host, { url: server.url('/hold/new?ms=10') }).done, ...ABORT)
  }
  t.deepEqual(server.paths().sort(), ['/hold/first-running', '/hold/second-running'])
})

test.serial('a pooled connection is reused by another host with the same tls and resolve settings', async (t) => {
  const server = closeAfter(t, await startPolicyContentServer())
  const engine = sharedEngine(t)
  const { host: first } = await releaseHost(t, { engine, domains: [server.origin] })
  const { host: second } = await releaseHost(t, { engine, domains: [server.origin] })
  const a = assertSucceededRun(t, await record(first, { url: server.url('/bytes/10') }).done)
  const b = assertSucceededRun(t, await record(second, { url: server.url('/bytes/11') }).done)
  t.is(a.profile?.socketReused, false)
  t.is(b.profile?.socketReused, true, "the second host got the first host's connection")
  t.is(server.connections, 1)
})

test.serial('hosts with different tls.ca never share a pooled connection', async (t) => {
  const server = closeAfter(t, await startPolicyContentServer())
  const kit = await certKit()
  const extraCa = await createCA({ commonName: 'another trusted CA' })
  const engine = sharedEngine(t)
  const { host: first } = await releaseHost(t, { engine, domains: [server.origin], tls: { ca: kit.ca.cert } })
  const { host: second } = await releaseHost(t, { engine, domains: [server.origin], tls: { ca: [kit.ca.cert, extraCa.cert] } })
  const a = assertSucceededRun(t, await record(first, { url: server.url('/bytes/10') }).done)
  const b = assertSucceededRun(t, await record(second, { url: server.url('/bytes/11') }).done)
  t.is(a.profile?.socketReused, false)
  t.is(b.profile?.socketReused, false, 'the second host opened its own connection')
  t.is(server.connections, 2)
  // Each host does reuse its own connection.
  const c = assertSucceededRun(t, await record(second, { url: server.url('/bytes/12') }).done)
  t.is(c.profile?.socketReused, true)
  t.is(server.connections, 2)
})
