// SPEC 11 "Proxy": every download of a host with `proxy` goes through that HTTP proxy: https in
// a CONNECT tunnel with TLS end to end to the origin, http in absolute form; credentials from
// the proxy URL as `Proxy-Authorization: Basic`; the destination name handed to the proxy
// unresolved; `proxy: 'env'` read once at createHost; the errors a proxy can cause. Debian's
// real tinyproxy carries the happy paths; a scripted proxy (helpers/proxies.ts) plays the
// refusals. Every proxy and origin is on loopback and started by the test; every name a test
// uses is mapped by `resolve` (for the direct path) and by the scripted proxy's own table, so
// no test asks DNS, whatever the engine does.
//
// Tests that set proxy environment variables are serial (AVA runs them one by one, before the
// concurrent ones) and restore the variables in teardown.
import test, { type ExecutionContext } from 'ava'
import { createCA } from '../src/cli/certs.js'
import { createHost, type Host, type HostConfig } from '../src/index.js'
import { assertFailedRun, assertNoLeftovers, assertSucceededRun } from './helpers/assert.js'
import { expectedSha256, sha256File } from './helpers/bytes.js'
import { startContentServer, type ContentServer } from './helpers/content-server.js'
import { makeTmpDir } from './helpers/fs.js'
import { makeHost } from './helpers/hosts.js'
import { record, type Run } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'
import { startScriptedProxy, startTinyproxy, type ScriptedProxy, type ScriptedProxyBehaviour, type Tinyproxy } from './helpers/proxies.js'
import { refusedPort } from './helpers/raw-servers.js'
import { certKit, OTHER_HOST, TEST_HOST } from './helpers/tls.js'

const SUB_HOST = `cdn.${TEST_HOST}`
const LOOKALIKE_HOST = `x${TEST_HOST}` // xfiles.test: not a subdomain of files.test
/** Every name these tests use, on loopback: for `resolve` (direct) and the proxy's own table. */
const NAMES: Record<string, string> = {
  [TEST_HOST]: '127.0.0.1',
  [OTHER_HOST]: '127.0.0.1',
  [SUB_HOST]: '127.0.0.1',
  [LOOKALIKE_HOST]: '127.0.0.1',
}
const LOOPBACK = { allow: ['127.0.0.0/8', '::1/128'] }
const UNREACHABLE = [121526, 'connection error: proxy unreachable', 'U'] as const
const NOT_ALLOWED = [121526, 'connection error: address not allowed', 'U'] as const
const refused = (status: number) => [121526, `connection error: proxy refused (${status})`, 'U'] as const

/**
 * makeHost (helpers/host.ts) with no egress config unless the test gives one: whatever
 * default the shared helper adopts, "no egress" here means the SPEC's default policy.
 */
function hostWith(t: ExecutionContext, overrides: Partial<HostConfig> = {}): ReturnType<typeof makeHost> {
  return makeHost(t, { egress: undefined, ...overrides })
}

// ---------------------------------------------------------------------------------------------
// Servers and proxies

async function httpsOrigin(t: ExecutionContext, listenHost = '127.0.0.1', listenPort?: number): Promise<ContentServer> {
  const kit = await certKit()
  return closeAfter(t, await startContentServer({ mode: 'https', cert: kit.leaf, hostname: TEST_HOST, listenHost, listenPort }))
}

async function httpOrigin(t: ExecutionContext, listenHost = '127.0.0.1', listenPort?: number): Promise<ContentServer> {
  return closeAfter(t, await startContentServer({ mode: 'http', hostname: TEST_HOST, listenHost, listenPort }))
}

async function scripted(t: ExecutionContext, behaviour: ScriptedProxyBehaviour = {}): Promise<ScriptedProxy> {
  return closeAfter(t, await startScriptedProxy({ hosts: NAMES, ...behaviour }))
}

async function tinyproxy(t: ExecutionContext, opts: Parameters<typeof startTinyproxy>[0] = {}): Promise<Tinyproxy> {
  const proxy = await startTinyproxy(opts)
  t.teardown(() => proxy.stop())
  return proxy
}

/**
 * The real origin on 127.0.0.1:P and a decoy of the same kind on 127.0.0.3:P: a host whose
 * `resolve` maps the name to 127.0.0.3 reaches the decoy only if it used that entry.
 */
async function originAndDecoy(
  t: ExecutionContext,
  mode: 'http' | 'https',
): Promise<{ port: number; origin: ContentServer; decoy: ContentServer }> {
  const start = mode === 'https' ? httpsOrigin : httpOrigin
  for (let attempt = 0; attempt < 5; attempt++) {
    const origin = await start(t, '127.0.0.1')
    try {
      const decoy = await start(t, '127.0.0.3', origin.port)
      return { port: origin.port, origin, decoy }
    } catch (error) {
      await origin.close()
      if (!/EADDRINUSE/.test(String((error as NodeJS.ErrnoException).code ?? error))) throw error
    }
  }
  throw new Error('no port free on both 127.0.0.1 and 127.0.0.3 after 5 attempts')
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`
}

async function storedSha256(host: Host, run: Run): Promise<string> {
  const path = run.success?.tempFilePath ?? run.success?.filePath
  if (path === undefined) return '(nothing stored)'
  return sha256File(host.realPath(path))
}

// ---------------------------------------------------------------------------------------------
// Real tinyproxy: the happy paths

test('https through tinyproxy: a CONNECT tunnel to the IP-literal origin, TLS end to end, the stored bytes exact', async (t) => {
  const origin = await httpsOrigin(t)
  const proxy = await tinyproxy(t)
  const { host, dataDir } = await hostWith(t, { proxy: proxy.url, egress: LOOPBACK })
  const run = record(host, { url: `https://127.0.0.1:${origin.port}/bytes/300000?seed=7` })
  await run.done
  const res = assertSucceededRun(t, run)
  t.is(res.statusCode, 200)
  t.is(res.dataLength, 300_000)
  t.is(await storedSha256(host, run), expectedSha256(300_000, 7))
  t.true(proxy.log().includes(`CONNECT 127.0.0.1:${origin.port}`), `tinyproxy logged the CONNECT:\n${proxy.log()}`)
  t.is(res.profile?.port, proxy.port, "profile.port is the proxy's")
  t.is(res.profile?.peerIP, '127.0.0.1')
  t.is(res.profile?.protocol, 'http/1.1')
  t.is(origin.requests.length, 1)
  await assertNoLeftovers(t, dataDir, [`temp/${res.tempFilePath!.slice('ttfile://temp/'.length)}`])
})

test('https through tinyproxy checks the origin certificate: a host trusting another CA fails 121528, no request reaches the origin', async (t) => {
  const origin = await httpsOrigin(t)
  const proxy = await tinyproxy(t)
  const otherCa = await createCA({ commonName: 'a CA that issued nothing here' })
  const { host, dataDir } = await hostWith(t, { proxy: proxy.url, egress: LOOPBACK, tls: { ca: otherCa.cert } })
  const run = record(host, { url: `https://127.0.0.1:${origin.port}/bytes/1000` })
  await run.done
  assertFailedRun(t, run, 121528, 'certificate error', 'D')
  t.true(proxy.log().includes(`CONNECT 127.0.0.1:${origin.port}`), `the handshake ran through tinyproxy:\n${proxy.log()}`)
  t.is(origin.requests.length, 0)
  await assertNoLeftovers(t, dataDir)
})

test("http through tinyproxy: absolute form, the origin sees tinyproxy's Via, the stored bytes exact", async (t) => {
  const origin = await httpOrigin(t)
  const proxy = await tinyproxy(t)
  const { host } = await hostWith(t, { proxy: proxy.url, egress: LOOPBACK })
  const url = `http://127.0.0.1:${origin.port}/bytes/200000?seed=3`
  const run = record(host, { url })
  await run.done
  const res = assertSucceededRun(t, run)
  t.is(res.dataLength, 200_000)
  t.is(await storedSha256(host, run), expectedSha256(200_000, 3))
  t.true(proxy.log().includes(`GET ${url}`), `tinyproxy logged the absolute-form request:\n${proxy.log()}`)
  t.regex(String(origin.requests[0]?.headers.via), /tinyproxy/, 'the request reached the origin through tinyproxy')
  t.is(res.profile?.port, proxy.port)
})

test('tinyproxy with BasicAuth: percent-decoded credentials from the proxy URL get through; without them the proxy refuses with 407', async (t) => {
  const origin = await httpOrigin(t)
  // tinyproxy's BasicAuth takes only [-a-z0-9._]: '%2E' in the URL must be decoded to '.'.
  const proxy = await tinyproxy(t, { auth: { user: 'user', password: 'pa.ss' } })
  const withCredentials = await hostWith(t, { proxy: `http://user:pa%2Ess@127.0.0.1:${proxy.port}`, egress: LOOPBACK })
  const ok = record(withCredentials.host, { url: `http://127.0.0.1:${origin.port}/bytes/1000` })
  await ok.done
  t.is(assertSucceededRun(t, ok).dataLength, 1000)

  const without = await hostWith(t, { proxy: `http://127.0.0.1:${proxy.port}`, egress: LOOPBACK })
  const no = record(without.host, { url: `http://127.0.0.1:${origin.port}/bytes/1000` })
  await no.done
  assertFailedRun(t, no, ...refused(407))
  t.is(origin.requests.length, 1, 'only the authorised download reached the origin')
})

// ---------------------------------------------------------------------------------------------
// Proxy-Authorization

for (const scheme of ['https', 'http'] as const) {
  test(`${scheme}: Proxy-Authorization: Basic comes from the proxy URL's percent-decoded credentials, and never reaches the origin`, async (t) => {
    const origin = scheme === 'https' ? await httpsOrigin(t) : await httpOrigin(t)
    const proxy = await scripted(t, { auth: { user: 'user', password: 'pa@ss' } })
    const { host } = await hostWith(t, { proxy: proxy.urlWith('user', 'pa@ss') })
    t.true(proxy.urlWith('user', 'pa@ss').includes('user:pa%40ss@'))
    const run = record(host, { url: `${scheme}://${TEST_HOST}:${origin.port}/bytes/1000` })
    await run.done
    assertSucceededRun(t, run)
    t.is(proxy.requests.length, 1)
    t.is(proxy.requests[0]?.headers['proxy-authorization'], basic('user', 'pa@ss'))
    t.is(proxy.requests[0]?.answered, 'forward')
    t.is(origin.requests.length, 1)
    t.is(origin.requests[0]?.headers['proxy-authorization'], undefined, 'the origin never sees the proxy credentials')
  })
}

test("without credentials in the proxy URL no Proxy-Authorization is sent, and a caller's proxy-authorization header is dropped", async (t) => {
  const origin = await httpOrigin(t)
  const proxy = await scripted(t)
  const { host } = await hostWith(t, { proxy: proxy.url })
  const run = record(host, {
    url: `http://${TEST_HOST}:${origin.port}/bytes/10`,
    header: { 'proxy-authorization': basic('mini', 'program') },
  })
  await run.done
  assertSucceededRun(t, run)
  t.is(proxy.requests.length, 1)
  t.is(proxy.requests[0]?.headers['proxy-authorization'], undefined)
})

for (const scheme of ['https', 'http'] as const) {
  test(`${scheme}: a proxy answering 407 to a download without credentials fails 121526 proxy refused (407)`, async (t) => {
    const origin = scheme === 'https' ? await httpsOrigin(t) : await httpOrigin(t)
    const proxy = await scripted(t, { auth: { user: 'user', password: 'secret' } })
    const { host, dataDir } = await hostWith(t, { proxy: proxy.url })
    const run = record(host, { url: `${scheme}://${TEST_HOST}:${origin.port}/bytes/10` })
    await run.done
    assertFailedRun(t, run, ...refused(407))
    t.is(proxy.requests[0]?.method, scheme === 'https' ? 'CONNECT' : 'GET')
    t.is(origin.connections, 0)
    await assertNoLeftovers(t, dataDir)
  })
}

// ---------------------------------------------------------------------------------------------
// Refusals and failures of the proxy

for (const status of [403, 502]) {
  test(`CONNECT answered ${status} fails 121526 proxy refused (${status}); nothing reaches the origin`, async (t) => {
    const origin = await httpsOrigin(t)
    const proxy = await scripted(t, { connect: status })
    const { host, dataDir } = await hostWith(t, { proxy: proxy.url })
    const run = record(host, { url: `https://${TEST_HOST}:${origin.port}/bytes/10` })
    await run.done
    assertFailedRun(t, run, ...refused(status))
    t.deepEqual(proxy.connectTargets(), [`${TEST_HOST}:${origin.port}`])
    t.is(origin.connections, 0)
    await assertNoLeftovers(t, dataDir)
  })
}

test('a 403 from the proxy to an absolute-form request is a response, not a refusal: success with statusCode 403', async (t) => {
  const origin = await httpOrigin(t)
  const proxy = await scripted(t, { absolute: 403 })
  const { host } = await hostWith(t, { proxy: proxy.url })
  const run = record(host, { url: `http://${TEST_HOST}:${origin.port}/bytes/10` })
  await run.done
  const res = assertSucceededRun(t, run)
  t.is(res.statusCode, 403)
  t.is(res.dataLength, 0)
  t.deepEqual(proxy.absoluteTargets(), [`http://${TEST_HOST}:${origin.port}/bytes/10`])
})

for (const scheme of ['https', 'http'] as const) {
  test(`${scheme}: a proxy on a closed port fails 121526 proxy unreachable`, async (t) => {
    const origin = scheme === 'https' ? await httpsOrigin(t) : await httpOrigin(t)
    const port = await refusedPort()
    const { host, dataDir } = await hostWith(t, { proxy: `http://127.0.0.1:${port}` })
    const run = record(host, { url: `${scheme}://${TEST_HOST}:${origin.port}/bytes/10` })
    await run.done
    assertFailedRun(t, run, ...UNREACHABLE)
    t.is(origin.connections, 0, 'the download did not go direct')
    await assertNoLeftovers(t, dataDir)
  })
}

for (const [what, answer] of [
  ['closes the connection', 'close'],
  ['answers bytes that are not HTTP', 'garbage'],
] as const) {
  test(`a proxy that ${what} before the tunnel is up fails 121526 proxy unreachable`, async (t) => {
    const origin = await httpsOrigin(t)
    const proxy = await scripted(t, { connect: answer })
    const { host, dataDir } = await hostWith(t, { proxy: proxy.url })
    const run = record(host, { url: `https://${TEST_HOST}:${origin.port}/bytes/10` })
    await run.done
    assertFailedRun(t, run, ...UNREACHABLE)
    t.is(proxy.requests.length, 1, 'the CONNECT reached the proxy')
    t.is(origin.connections, 0)
    await assertNoLeftovers(t, dataDir)
  })
}

for (const scheme of ['https', 'http'] as const) {
  test(`${scheme}: a proxy that never answers fails 121520 at the download's timeout`, async (t) => {
    const origin = scheme === 'https' ? await httpsOrigin(t) : await httpOrigin(t)
    const proxy = await scripted(t, { answer: 'silent' })
    const { host, dataDir } = await hostWith(t, { proxy: proxy.url })
    const run = record(host, { url: `${scheme}://${TEST_HOST}:${origin.port}/bytes/10`, timeout: 500 })
    await run.done
    assertFailedRun(t, run, 121520, 'request time out', 'D')
    t.is(proxy.requests.length, 1, 'the request reached the proxy')
    const elapsed = run.completedAt! - run.startedAt
    t.true(elapsed >= 450, `failed after ${elapsed} ms, not before the 500 ms timeout`)
    t.is(origin.connections, 0)
    await assertNoLeftovers(t, dataDir)
  })
}

// ---------------------------------------------------------------------------------------------
// What the engine judges itself, and what it leaves to the proxy

for (const [what, url] of [
  ['https://127.0.0.1', (port: number) => `https://127.0.0.1:${port}/bytes/10`],
  ['http://127.0.0.1', (port: number) => `http://127.0.0.1:${port}/bytes/10`],
  ['http://localhost', (port: number) => `http://localhost:${port}/bytes/10`],
  ['http://[::1]', (port: number) => `http://[::1]:${port}/bytes/10`],
] as const) {
  test(`through a proxy, ${what} (refused by the policy) fails 121526 address not allowed before anything reaches the proxy`, async (t) => {
    const origin = url(1).startsWith('https') ? await httpsOrigin(t) : await httpOrigin(t)
    const proxy = await scripted(t)
    const { host, dataDir } = await hostWith(t, { proxy: proxy.url })
    const run = record(host, { url: url(origin.port) })
    await run.done
    assertFailedRun(t, run, ...NOT_ALLOWED)
    t.is(proxy.connections, 0, 'no connection reached the proxy')
    t.is(origin.connections, 0)
    await assertNoLeftovers(t, dataDir)
  })
}

test('https through a proxy: the CONNECT line carries the host name unresolved; the resolve entry for it (127.0.0.3) is not used and not policed', async (t) => {
  const { port, origin, decoy } = await originAndDecoy(t, 'https')
  const proxy = await scripted(t)
  // No egress config: 127.0.0.3 would be refused if the engine resolved the name itself.
  const { host } = await hostWith(t, { proxy: proxy.url, resolve: { [TEST_HOST]: '127.0.0.3' } })
  const run = record(host, { url: `https://${TEST_HOST}:${port}/bytes/1000` })
  await run.done
  assertSucceededRun(t, run)
  t.deepEqual(
    proxy.requests.map((r) => r.line),
    [`CONNECT ${TEST_HOST}:${port} HTTP/1.1`],
  )
  t.is(decoy.connections, 0, 'the resolve entry was not dialled')
  t.is(origin.requests.length, 1)
})

test('http through a proxy: the absolute-form URL carries the host name unresolved; the resolve entry is not used', async (t) => {
  const { port, origin, decoy } = await originAndDecoy(t, 'http')
  const proxy = await scripted(t)
  const { host } = await hostWith(t, { proxy: proxy.url, resolve: { [TEST_HOST]: '127.0.0.3' } })
  const run = record(host, { url: `http://${TEST_HOST}:${port}/bytes/1000` })
  await run.done
  assertSucceededRun(t, run)
  t.deepEqual(
    proxy.requests.map((r) => r.line),
    [`GET http://${TEST_HOST}:${port}/bytes/1000 HTTP/1.1`],
  )
  t.is(decoy.connections, 0)
  t.is(origin.requests.length, 1)
})

test("the profile describes the socket to the proxy: peerIP and port are the proxy's (127.0.0.2, not subject to egress), TLS inside the connect phase", async (t) => {
  const origin = await httpsOrigin(t)
  const proxy = await scripted(t, { listenHost: '127.0.0.2' })
  const { host } = await hostWith(t, { proxy: proxy.url })
  const run = record(host, { url: `https://${TEST_HOST}:${origin.port}/bytes/1000` })
  await run.done
  const res = assertSucceededRun(t, run)
  const p = (res.profile ?? {}) as Record<string, number | string | boolean>
  t.is(p.peerIP, '127.0.0.2')
  t.is(p.port, proxy.port)
  t.is(p.socketReused, false)
  // An IP-literal proxy: no lookup.
  t.is(p.domainLookupStart, p.fetchStart)
  t.is(p.domainLookupEnd, p.fetchStart)
  const n = (k: string) => p[k] as number
  t.true(n('sslConnectionStart') > 0, 'a TLS handshake with the origin happened')
  t.true(n('connectStart') <= n('sslConnectionStart'), 'TLS starts inside the connect phase')
  t.true(n('sslConnectionStart') <= n('sslConnectionEnd'))
  t.true(n('sslConnectionEnd') <= n('connectEnd'), 'connectEnd includes the TLS inside the tunnel')
  t.true(n('receivedBytesCount') > 1000, 'byte counts of the socket to the proxy')
  t.deepEqual(proxy.connectTargets(), [`${TEST_HOST}:${origin.port}`])
})

test("the proxy's own name is resolved through resolve (proxy.test -> 127.0.0.2)", async (t) => {
  const origin = await httpOrigin(t)
  const proxy = await scripted(t, { listenHost: '127.0.0.2' })
  const { host } = await hostWith(t, {
    proxy: `http://proxy.test:${proxy.port}`,
    resolve: { 'proxy.test': '127.0.0.2', [TEST_HOST]: '127.0.0.1' },
  })
  const run = record(host, { url: `http://${TEST_HOST}:${origin.port}/bytes/10` })
  await run.done
  const res = assertSucceededRun(t, run)
  t.is(res.profile?.peerIP, '127.0.0.2')
  t.is(res.profile?.port, proxy.port)
  t.is(proxy.requests.length, 1)
})

// ---------------------------------------------------------------------------------------------
// HostConfig.proxy validation

async function createHostWith(t: ExecutionContext, config: Partial<HostConfig>): Promise<() => Host> {
  const tmp = await makeTmpDir()
  t.teardown(() => tmp.cleanup())
  return () => {
    const host = createHost({ appId: 'tt0123456789abcdef', dataDir: tmp.dir, ...config } as HostConfig)
    t.teardown(() => host.close())
    return host
  }
}

const BAD_PROXIES: [string, unknown][] = [
  ['an https:// proxy', 'https://127.0.0.1:3128'],
  ['a socks5:// proxy', 'socks5://127.0.0.1:1080'],
  ['no host', 'http://'],
  ['no host, a port', 'http://:3128'],
  ['a path', 'http://127.0.0.1:3128/proxy'],
  ['a port out of range', 'http://127.0.0.1:99999'],
  ['not a URL', 'not a url'],
  ['no scheme (only env values may omit it)', '127.0.0.1:3128'],
  ['an empty string', ''],
  ['a number', 3128],
  ['an object', { host: '127.0.0.1', port: 3128 }],
]

test('an invalid proxy value makes createHost throw a TypeError', async (t) => {
  for (const [what, proxy] of BAD_PROXIES) {
    const create = await createHostWith(t, { proxy: proxy as string })
    t.throws(create, { instanceOf: TypeError }, `${what}: ${JSON.stringify(proxy)}`)
  }
})

test('valid proxy values are accepted: host:port, a name with the default port, credentials, IPv6, env', async (t) => {
  for (const proxy of ['http://127.0.0.1:3128', 'http://proxy.test', 'http://user:pa%40ss@127.0.0.1:3128', 'http://[::1]:3128', 'env']) {
    const create = await createHostWith(t, { proxy })
    t.notThrows(create, proxy)
  }
})

// ---------------------------------------------------------------------------------------------
// proxy: 'env' (serial: these tests set process environment variables)

const PROXY_VARS = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'no_proxy', 'NO_PROXY', 'all_proxy', 'ALL_PROXY'] as const
type ProxyVar = (typeof PROXY_VARS)[number]

/** Clears every proxy variable, sets `vars`, and restores the previous values in teardown. */
function setProxyEnv(t: ExecutionContext, vars: Partial<Record<ProxyVar, string>>): void {
  const saved = new Map(PROXY_VARS.map((name) => [name, process.env[name]] as const))
  t.teardown(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  })
  for (const name of PROXY_VARS) delete process.env[name]
  for (const [name, value] of Object.entries(vars)) process.env[name] = value
}

/** A host with `proxy: 'env'` that can also reach every test name directly. */
function envHost(t: ExecutionContext, extra: Partial<HostConfig> = {}) {
  return hostWith(t, { proxy: 'env', resolve: NAMES, egress: LOOPBACK, ...extra })
}

async function fetchOk(t: ExecutionContext, host: Host, url: string): Promise<Run> {
  const run = record(host, { url })
  await run.done
  assertSucceededRun(t, run)
  return run
}

test.serial('env: https_proxy carries https URLs; an http URL goes direct', async (t) => {
  const tls = await httpsOrigin(t)
  const plain = await httpOrigin(t)
  const proxy = await scripted(t)
  setProxyEnv(t, { https_proxy: proxy.url })
  const { host } = await envHost(t)
  await fetchOk(t, host, `https://${TEST_HOST}:${tls.port}/bytes/10`)
  t.deepEqual(proxy.connectTargets(), [`${TEST_HOST}:${tls.port}`])
  await fetchOk(t, host, `http://${TEST_HOST}:${plain.port}/bytes/10`)
  t.is(proxy.requests.length, 1, 'the http download did not use the https proxy')
  t.is(plain.requests.length, 1)
})

test.serial('env: http_proxy carries http URLs in absolute form; an https URL goes direct', async (t) => {
  const tls = await httpsOrigin(t)
  const plain = await httpOrigin(t)
  const proxy = await scripted(t)
  setProxyEnv(t, { http_proxy: proxy.url })
  const { host } = await envHost(t)
  await fetchOk(t, host, `http://${TEST_HOST}:${plain.port}/bytes/10`)
  t.deepEqual(proxy.absoluteTargets(), [`http://${TEST_HOST}:${plain.port}/bytes/10`])
  await fetchOk(t, host, `https://${TEST_HOST}:${tls.port}/bytes/10`)
  t.is(proxy.requests.length, 1, 'the https download did not use the http proxy')
  t.is(proxy.connections, 1)
})

test.serial('env: the upper-case spellings work alone, and the lower-case spelling wins when both are set', async (t) => {
  const tls = await httpsOrigin(t)
  const plain = await httpOrigin(t)
  const upper = await scripted(t)
  const lower = await scripted(t)

  setProxyEnv(t, { HTTPS_PROXY: upper.url, HTTP_PROXY: upper.url })
  const alone = await envHost(t)
  await fetchOk(t, alone.host, `https://${TEST_HOST}:${tls.port}/bytes/10`)
  await fetchOk(t, alone.host, `http://${TEST_HOST}:${plain.port}/bytes/10`)
  t.is(upper.requests.length, 2, 'HTTPS_PROXY and HTTP_PROXY alone are read')

  setProxyEnv(t, { HTTPS_PROXY: upper.url, https_proxy: lower.url, HTTP_PROXY: upper.url, http_proxy: lower.url })
  const both = await envHost(t)
  await fetchOk(t, both.host, `https://${TEST_HOST}:${tls.port}/bytes/10`)
  await fetchOk(t, both.host, `http://${TEST_HOST}:${plain.port}/bytes/10`)
  t.is(lower.requests.length, 2, 'the lower-case proxy carried both')
  t.is(upper.requests.length, 2, 'the upper-case one got nothing more')
})

test.serial('env: ALL_PROXY and all_proxy are not read', async (t) => {
  const tls = await httpsOrigin(t)
  const plain = await httpOrigin(t)
  const proxy = await scripted(t)
  setProxyEnv(t, { ALL_PROXY: proxy.url, all_proxy: proxy.url })
  const { host } = await envHost(t)
  await fetchOk(t, host, `https://${TEST_HOST}:${tls.port}/bytes/10`)
  await fetchOk(t, host, `http://${TEST_HOST}:${plain.port}/bytes/10`)
  t.is(proxy.connections, 0)
})

test.serial('env: nothing set means direct', async (t) => {
  const plain = await httpOrigin(t)
  setProxyEnv(t, {})
  const { host } = await envHost(t)
  const run = await fetchOk(t, host, `http://${TEST_HOST}:${plain.port}/bytes/10`)
  t.is(run.success?.profile?.port, plain.port)
})

test.serial('env: the variables are read once, when the host is created', async (t) => {
  const tls = await httpsOrigin(t)
  const first = await scripted(t)
  const second = await scripted(t)
  setProxyEnv(t, { https_proxy: first.url })
  const early = await envHost(t)
  process.env.https_proxy = second.url
  await fetchOk(t, early.host, `https://${TEST_HOST}:${tls.port}/bytes/10`)
  t.is(first.requests.length, 1, 'the proxy set at createHost carried it')
  t.is(second.connections, 0, 'a later change is not seen')

  setProxyEnv(t, {})
  const direct = await envHost(t)
  process.env.https_proxy = first.url
  await fetchOk(t, direct.host, `https://${TEST_HOST}:${tls.port}/bytes/10`)
  t.is(first.requests.length, 1, 'a variable set after createHost is not seen either')
})

test.serial('env: a value without a scheme means http://', async (t) => {
  const plain = await httpOrigin(t)
  const proxy = await scripted(t)
  setProxyEnv(t, { http_proxy: `127.0.0.1:${proxy.port}` })
  const { host } = await envHost(t)
  await fetchOk(t, host, `http://${TEST_HOST}:${plain.port}/bytes/10`)
  t.deepEqual(proxy.absoluteTargets(), [`http://${TEST_HOST}:${plain.port}/bytes/10`])
})

for (const [name, value] of [
  ['https_proxy', 'http://'],
  ['HTTPS_PROXY', 'http://[::1'],
  ['http_proxy', 'http://127.0.0.1:99999'],
  ['HTTP_PROXY', 'http://:3128'],
] as const) {
  test.serial(`env: a malformed ${name} (${JSON.stringify(value)}) makes createHost throw a TypeError naming ${name}`, async (t) => {
    setProxyEnv(t, { [name]: value })
    const create = await createHostWith(t, { proxy: 'env' })
    const error = t.throws(create, { instanceOf: TypeError })
    t.true(String(error?.message).includes(name), `the message names ${name}: ${error?.message}`)
  })
}

/** Which of `urls` went through `proxy` (absolute form), after downloading each in order. */
async function proxiedOf(t: ExecutionContext, host: Host, proxy: ScriptedProxy, urls: string[]): Promise<string[]> {
  for (const url of urls) await fetchOk(t, host, url)
  return proxy.absoluteTargets()
}

test.serial("env: NO_PROXY '*' alone means no proxy", async (t) => {
  const plain = await httpOrigin(t)
  const proxy = await scripted(t)
  setProxyEnv(t, { http_proxy: proxy.url, NO_PROXY: '*' })
  const { host } = await envHost(t)
  await fetchOk(t, host, `http://${TEST_HOST}:${plain.port}/bytes/10`)
  await fetchOk(t, host, `http://${OTHER_HOST}:${plain.port}/bytes/10`)
  t.is(proxy.connections, 0)
})

test.serial('env: no_proxy files.test matches files.test and its subdomains, not xfiles.test or other.test', async (t) => {
  const plain = await httpOrigin(t)
  const proxy = await scripted(t)
  setProxyEnv(t, { http_proxy: proxy.url, no_proxy: TEST_HOST })
  const { host } = await envHost(t)
  const u = (name: string) => `http://${name}:${plain.port}/bytes/10`
  const proxied = await proxiedOf(t, host, proxy, [u(TEST_HOST), u(SUB_HOST), u(LOOKALIKE_HOST), u(OTHER_HOST)])
  t.deepEqual(proxied, [u(LOOKALIKE_HOST), u(OTHER_HOST)])
})

test.serial('env: no_proxy .files.test matches only the subdomains of files.test', async (t) => {
  const plain = await httpOrigin(t)
  const proxy = await scripted(t)
  setProxyEnv(t, { http_proxy: proxy.url, no_proxy: `.${TEST_HOST}` })
  const { host } = await envHost(t)
  const u = (name: string) => `http://${name}:${plain.port}/bytes/10`
  const proxied = await proxiedOf(t, host, proxy, [u(TEST_HOST), u(SUB_HOST)])
  t.deepEqual(proxied, [u(TEST_HOST)])
})

test.serial('env: an IP entry in NO_PROXY matches that literal, not a name that resolves to it', async (t) => {
  const plain = await httpOrigin(t)
  const proxy = await scripted(t)
  setProxyEnv(t, { http_proxy: proxy.url, NO_PROXY: '127.0.0.1' })
  const { host } = await envHost(t)
  const literal = `http://127.0.0.1:${plain.port}/bytes/10`
  const named = `http://${TEST_HOST}:${plain.port}/bytes/10`
  const proxied = await proxiedOf(t, host, proxy, [literal, named])
  t.deepEqual(proxied, [named])
})

test.serial('env: no_proxy is comma-separated and spaces are ignored', async (t) => {
  const plain = await httpOrigin(t)
  const proxy = await scripted(t)
  setProxyEnv(t, { http_proxy: proxy.url, no_proxy: ` ${OTHER_HOST} ,  ${TEST_HOST} ` })
  const { host } = await envHost(t)
  const u = (name: string) => `http://${name}:${plain.port}/bytes/10`
  const proxied = await proxiedOf(t, host, proxy, [u(TEST_HOST), u(OTHER_HOST), u(LOOKALIKE_HOST)])
  t.deepEqual(proxied, [u(LOOKALIKE_HOST)])
})

// ---------------------------------------------------------------------------------------------
// Each redirect hop chooses proxy or direct by its own scheme and host

test.serial('env: http_proxy set, https_proxy not: an https -> http redirect uses the proxy only for the http hop', async (t) => {
  const first = await httpsOrigin(t)
  const second = await httpOrigin(t)
  const proxy = await scripted(t)
  setProxyEnv(t, { http_proxy: proxy.url })
  const { host } = await envHost(t)
  const location = `http://${TEST_HOST}:${second.port}/bytes/1000`
  const run = record(host, { url: `https://${TEST_HOST}:${first.port}/redirect-to?url=${encodeURIComponent(location)}` })
  await run.done
  const res = assertSucceededRun(t, run)
  t.is(res.dataLength, 1000)
  t.is(res.profile?.redirectCount, 1)
  t.deepEqual(proxy.connectTargets(), [], 'the https hop went direct')
  t.deepEqual(proxy.absoluteTargets(), [location], 'the http hop went through the proxy')
  t.is(first.requestsTo('/redirect-to').length, 1)
  t.is(second.requestsTo('/bytes').length, 1)
  t.is(res.profile?.port, proxy.port, 'the final response came through the proxy')
})

test.serial(
  'env: with no_proxy files.test, a redirect from other.test (proxied) to files.test (excluded) leaves the proxy for the second hop',
  async (t) => {
    const first = await httpsOrigin(t)
    const second = await httpsOrigin(t)
    const proxy = await scripted(t)
    setProxyEnv(t, { https_proxy: proxy.url, http_proxy: proxy.url, no_proxy: TEST_HOST })
    const { host } = await envHost(t)
    const location = `https://${TEST_HOST}:${second.port}/bytes/1000`
    const run = record(host, { url: `https://${OTHER_HOST}:${first.port}/redirect-to?url=${encodeURIComponent(location)}` })
    await run.done
    const res = assertSucceededRun(t, run)
    t.is(res.profile?.redirectCount, 1)
    t.deepEqual(proxy.connectTargets(), [`${OTHER_HOST}:${first.port}`], 'only the first hop was tunnelled')
    t.is(second.requestsTo('/bytes').length, 1)
    t.is(res.profile?.port, second.port, 'the final hop connected directly')
  },
)
