// Network policy rules (SPEC 2, 3, 7, 10; issue 6): which protocols each env allows, how the
// domain list matches (exact host, case-insensitive, IDNA, ports, schemes, IP literals and
// localhost, credentials), how redirect hops are checked, and what becomes of caller headers.
// Hosts run in release mode (https only) against local TLS servers reached through `resolve`
// and the generated CA. errors.spec.ts has one test per error row; these pin the rules behind
// the rows, each with a passing case beside the failing one so that a rule that admits too
// much or too little shows.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import type { ExecutionContext } from 'ava'
import type { Host } from '../src/index.js'
import { assertFailedRun, assertSucceededRun } from './helpers/assert.js'
import { startContentServer } from './helpers/content-server.js'
import type { ContentServer } from './helpers/content-server.js'
import { releaseHost } from './helpers/hosts.js'
import { record } from './helpers/record.js'
import type { RecordOptions, Run, Success } from './helpers/record.js'
import { ROOT } from './helpers/run.js'
import { closeAfter } from './helpers/server.js'
import { IDN_ASCII, IDN_HOST, startHttps443, startPolicyContentServer, startRawTlsServer, SUB_HOST } from './helpers/policy-servers.js'
import { OTHER_HOST, TEST_HOST } from './helpers/tls.js'
import { checkUrl, isNeverListed, parseDomains, spelledPort } from '../src/domains.js'

async function expectOk(t: ExecutionContext, host: Host, options: RecordOptions): Promise<Success> {
  const run = await record(host, options).done
  t.is(run.fail, undefined, `${options.url}: ${JSON.stringify(run.fail)}`)
  return assertSucceededRun(t, run)
}

async function expectFail(t: ExecutionContext, host: Host, options: RecordOptions, errNo: number, detail: string): Promise<Run> {
  const run = await record(host, options).done
  t.is(run.fail?.errMsg, `downloadFile:fail ${detail}`, String(options.url))
  assertFailedRun(t, run, errNo, detail, 'D')
  return run
}

function notInList(url: string): [number, string] {
  return [121501, `url not in domain list, url == ${url}`]
}

function badProtocol(url: string, allowed: 'https' | 'http,https'): [number, string] {
  return [121599, `url use invalid protocol, url == ${url}, url support protocol is ${allowed}`]
}

const URL_ERROR: [number, string] = [121529, 'url error']

/** `/redirect-to?url=<location>` on `server`. */
function redirectTo(server: ContentServer, location: string): string {
  return server.url(`/redirect-to?url=${encodeURIComponent(location)}`)
}

// =============================================================================================
// Protocols

// Release refusing http, and every other scheme failing in both envs, are rows of errors.spec.ts.
test('release downloads https; test downloads both https and http', async (t) => {
  const secure = closeAfter(t, await startPolicyContentServer())
  const plain = closeAfter(t, await startContentServer({ hostname: TEST_HOST }))
  const { host: release } = await releaseHost(t, { checkDomain: false })
  await expectOk(t, release, { url: secure.url('/bytes/10') })

  const { host: testEnv } = await releaseHost(t, { env: 'test' })
  await expectOk(t, testEnv, { url: secure.url('/bytes/10') })
  await expectOk(t, testEnv, { url: plain.url('/bytes/10') })
  t.is(plain.requests.length, 1)
})

test('schemes compare case-insensitively: HTTPS passes in release, HTTP fails 121599 there', async (t) => {
  const secure = closeAfter(t, await startPolicyContentServer())
  const { host: release } = await releaseHost(t, { checkDomain: false })
  await expectOk(t, release, { url: `HTTPS://${TEST_HOST.toUpperCase()}:${secure.port}/bytes/10` })
  const upperHttp = `HTTP://${TEST_HOST}:${secure.port}/bytes/10`
  await expectFail(t, release, { url: upperHttp }, ...badProtocol(upperHttp, 'https'))
  t.is(secure.requests.length, 1, 'only the https URL was requested')
})

// =============================================================================================
// Domain list

test('the domain list matches the host exactly, case-insensitively', async (t) => {
  const server = closeAfter(t, await startPolicyContentServer())
  const port = server.port
  const { host } = await releaseHost(t, { domains: [`https://FILES.Test:${port}`] })
  await expectOk(t, host, { url: `https://files.TEST:${port}/bytes/10` })
  await expectOk(t, host, { url: `https://${TEST_HOST}:${port}/bytes/11` })
  for (const url of [
    `https://${OTHER_HOST}:${port}/bytes/12`,
    `https://files.tes:${port}/bytes/12`,
    `https://files.test.example:${port}/bytes/12`,
  ]) {
    await expectFail(t, host, { url }, ...notInList(url))
  }
  t.deepEqual(
    server.requests.map((r) => r.path),
    ['/bytes/10', '/bytes/11'],
  )
})

test('entries and URLs compare after IDNA: a Unicode entry admits the punycode URL and the reverse', async (t) => {
  const server = closeAfter(t, await startPolicyContentServer())
  const port = server.port
  const { host: unicodeEntry } = await releaseHost(t, { domains: [`https://${IDN_HOST}:${port}`] })
  await expectOk(t, unicodeEntry, { url: `https://${IDN_ASCII}:${port}/bytes/10` })
  await expectOk(t, unicodeEntry, { url: `https://BÜCHER.test:${port}/bytes/11` })
  const { host: asciiEntry } = await releaseHost(t, { domains: [`https://${IDN_ASCII.toUpperCase()}:${port}`] })
  await expectOk(t, asciiEntry, { url: `https://${IDN_HOST}:${port}/bytes/12` })
  // A look-alike without the umlaut is another name.
  const lookAlike = `https://bucher.test:${port}/bytes/13`
  await expectFail(t, asciiEntry, { url: lookAlike }, ...notInList(lookAlike))
  t.deepEqual(
    server.requests.map((r) => r.path),
    ['/bytes/10', '/bytes/11', '/bytes/12'],
  )
  t.true(
    server.requests.every((r) => r.headers.host === `${IDN_ASCII}:${port}`),
    'sent as punycode',
  )
})

test('a subdomain does not match its parent entry, nor the parent a subdomain entry', async (t) => {
  const server = closeAfter(t, await startPolicyContentServer())
  const port = server.port
  const sub = `https://${SUB_HOST}:${port}/bytes/10`
  const parent = `https://${TEST_HOST}:${port}/bytes/10`
  const { host: parentListed } = await releaseHost(t, { domains: [`https://${TEST_HOST}:${port}`] })
  await expectFail(t, parentListed, { url: sub }, ...notInList(sub))
  const { host: subListed } = await releaseHost(t, { domains: [`https://${SUB_HOST}:${port}`] })
  await expectFail(t, subListed, { url: parent }, ...notInList(parent))
  t.is(server.requests.length, 0)
  // Both names are reachable: the list alone refused them.
  await expectOk(t, subListed, { url: sub })
  await expectOk(t, parentListed, { url: parent })
})

test('an entry without a port admits only URLs without one (:443 fails even on https); an entry with :443 only :443', async (t) => {
  const server = await startHttps443()
  if (server !== undefined) closeAfter(t, server)
  else t.log('port 443 cannot be bound here: the admitted URLs are only checked to get past the domain list')
  const resolve = { [TEST_HOST]: server?.ip ?? '127.0.0.1' }
  const admitted = async (host: Host, url: string) => {
    if (server !== undefined) return void (await expectOk(t, host, { url }))
    const run = await record(host, { url }).done
    t.not(run.fail?.errNo, 121501, `${url} passed the domain list`)
  }
  const { host: noPort } = await releaseHost(t, { domains: [`https://${TEST_HOST}`], resolve })
  await admitted(noPort, `https://${TEST_HOST}/a`)
  for (const url of [`https://${TEST_HOST}:443/b`, `https://${TEST_HOST}:8443/b`]) {
    await expectFail(t, noPort, { url }, ...notInList(url))
  }
  const { host: withPort } = await releaseHost(t, { domains: [`https://${TEST_HOST}:443`], resolve })
  await admitted(withPort, `https://${TEST_HOST}:443/c`)
  await expectFail(t, withPort, { url: `https://${TEST_HOST}/d` }, ...notInList(`https://${TEST_HOST}/d`))
  if (server !== undefined) t.deepEqual(server.paths, ['/a', '/c'])
})

test('with an entry spelling :443, a relative redirect from a :443 URL stays admitted', async (t) => {
  const server = await startHttps443()
  if (server === undefined) {
    t.log('port 443 cannot be bound here: nothing to check')
    t.pass()
    return
  }
  closeAfter(t, server)
  const { host } = await releaseHost(t, { domains: [`https://${TEST_HOST}:443`], resolve: { [TEST_HOST]: server.ip } })
  await expectOk(t, host, { url: `https://${TEST_HOST}:443/relative-redirect` })
  t.deepEqual(server.paths, ['/relative-redirect', '/after-redirect'])
})

test('the scheme of an entry is ignored: an http:// entry admits the https URL and the reverse', async (t) => {
  const secure = closeAfter(t, await startPolicyContentServer())
  const plain = closeAfter(t, await startContentServer({ hostname: TEST_HOST }))
  const { host: release } = await releaseHost(t, { domains: [`http://${TEST_HOST}:${secure.port}`] })
  await expectOk(t, release, { url: secure.url('/bytes/10') })
  const { host: testEnv } = await releaseHost(t, { env: 'test', checkDomain: true, domains: [`https://${TEST_HOST}:${plain.port}`] })
  await expectOk(t, testEnv, { url: plain.url('/bytes/10') })
})

test('IP literals and localhost in any spelling fail 121501 even when listed, and pass with checkDomain off', async (t) => {
  const server = closeAfter(t, await startPolicyContentServer())
  const port = server.port
  const origins = [
    `https://localhost:${port}`,
    `https://LocalHost:${port}`,
    `https://localhost.:${port}`,
    `https://sub.localhost:${port}`,
    `https://127.0.0.1:${port}`,
    `https://127.1:${port}`,
    `https://0x7f000001:${port}`,
    `https://2130706433:${port}`,
    `https://[::1]:${port}`,
    `https://[0:0:0:0:0:0:0:1]:${port}`,
  ]
  const { host: listed } = await releaseHost(t, { domains: origins })
  for (const origin of origins) {
    const url = `${origin}/bytes/10`
    await expectFail(t, listed, { url }, ...notInList(url))
  }
  t.is(server.requests.length, 0)
  // The same URLs are reachable (the certificate names localhost and 127.0.0.1): only the list refused them.
  const { host: unchecked } = await releaseHost(t, { checkDomain: false })
  for (const origin of [`https://localhost:${port}`, `https://127.0.0.1:${port}`, `https://127.1:${port}`, `https://0x7f000001:${port}`]) {
    await expectOk(t, unchecked, { url: `${origin}/bytes/10` })
  }
})

/** The cases crates/engine/src/redirect.rs runs too (cargo test), so first requests and redirect hops read URLs alike. */
const SHARED_CASES = JSON.parse(readFileSync(join(ROOT, '__test__', 'cases', 'url-policy.json'), 'utf8')) as {
  spelledPorts: { text: string; base: string | null; authority: number | null | 'inherited' }[]
  neverListed: { host: string; neverListed: boolean }[]
}

test('the shared spelled-port cases hold for absolute URLs, and WHATWG URL agrees wherever it keeps the port', (t) => {
  const absolute = SHARED_CASES.spelledPorts.filter((c) => c.base === null)
  t.true(absolute.length > 10)
  for (const { text, authority } of absolute) {
    if (authority === 'inherited') throw new Error(`${JSON.stringify(text)}: an absolute URL always names its authority`)
    t.is(spelledPort(text), authority ?? undefined, JSON.stringify(text))
    const url = new URL(text)
    const defaultPort = url.protocol === 'https:' ? 443 : 80
    t.is(url.port === '' ? (authority === null ? null : defaultPort) : Number(url.port), authority, JSON.stringify(text))
  }
})

test('the shared never-listed cases hold: listed, such a host still fails the domain check; any other passes', (t) => {
  for (const { host, neverListed } of SHARED_CASES.neverListed) {
    const url = `https://${host}/x`
    t.is(isNeverListed(new URL(url).hostname), neverListed, host)
    const check = checkUrl(url, { env: 'release', checkDomain: true, domains: parseDomains([`https://${host}`]) })
    t.is(check.ok, !neverListed, host)
  }
})

test('the engine never gets the fragment, an empty one included; a URL without one reaches it as WHATWG spells it', (t) => {
  const policy = { env: 'test' as const, checkDomain: false, domains: [] }
  const cases: [string, string][] = [
    ['https://a.com/p?q=1#frag', 'https://a.com/p?q=1'],
    ['https://a.com/p#', 'https://a.com/p'],
    ['https://a.com:443/p#x', 'https://a.com:443/p'],
    ['http://A.com/p?q#f#g', 'http://a.com/p?q'],
    ['https://a.com/p?q', 'https://a.com/p?q'],
    ['HTTPS://a.COM', 'https://a.com/'],
    // An encoded `#` is no fragment; a tab before one is dropped by the parser, the fragment not.
    ['https://a.com/p%23x', 'https://a.com/p%23x'],
    ['https://a.com/p\t#x', 'https://a.com/p'],
  ]
  for (const [input, sent] of cases) t.deepEqual(checkUrl(input, policy), { ok: true, url: sent }, input)
})

test('a URL with credentials fails 121529 even with an empty password, before the domain check', async (t) => {
  const server = closeAfter(t, await startPolicyContentServer())
  const port = server.port
  const { host } = await releaseHost(t, { domains: [`https://${TEST_HOST}:${port}`] })
  for (const url of [
    `https://user:@${TEST_HOST}:${port}/bytes/10`,
    `https://user:@${OTHER_HOST}:${port}/bytes/10`,
    `https://:pw@${OTHER_HOST}:${port}/bytes/10`,
    `https://u%40x:p%3Aw@${TEST_HOST}:${port}/bytes/10`,
  ]) {
    await expectFail(t, host, { url }, ...URL_ERROR)
  }
  t.is(server.requests.length, 0)
})

test('checkDomain defaults to on in release and off in test; off admits any host', async (t) => {
  const server = closeAfter(t, await startPolicyContentServer())
  const other = `https://${OTHER_HOST}:${server.port}/bytes/10`
  const sub = `https://${SUB_HOST}:${server.port}/bytes/10`
  const { host: releaseDefault } = await releaseHost(t, { domains: [`https://${TEST_HOST}:${server.port}`] })
  await expectFail(t, releaseDefault, { url: other }, ...notInList(other))
  const { host: releaseOff } = await releaseHost(t, { checkDomain: false, domains: [`https://${TEST_HOST}:${server.port}`] })
  await expectOk(t, releaseOff, { url: other })
  await expectOk(t, releaseOff, { url: sub })
  const { host: testDefault } = await releaseHost(t, { env: 'test', domains: [] })
  await expectOk(t, testDefault, { url: other })
  const { host: testOn } = await releaseHost(t, { env: 'test', checkDomain: true, domains: [] })
  await expectFail(t, testOn, { url: other }, ...notInList(other))
  t.is(server.requests.length, 3)
})

// =============================================================================================
// Redirect hops

// An https -> http hop in release with no domain check at all is the 121529 row of errors.spec.ts.
test('every redirect hop passes the protocol rule whatever the domain list: http in release and other schemes fail 121529', async (t) => {
  const secure = closeAfter(t, await startPolicyContentServer())
  const plain = closeAfter(t, await startContentServer({ hostname: TEST_HOST }))
  const toHttp = redirectTo(secure, plain.url('/bytes/10'))
  // Listing the http origin does not help: entries ignore the scheme, the protocol rule does not.
  const { host: listed } = await releaseHost(t, {
    domains: [secure.origin, `http://${TEST_HOST}:${plain.port}`, `https://${TEST_HOST}:${plain.port}`],
  })
  await expectFail(t, listed, { url: toHttp }, ...URL_ERROR)
  t.is(plain.requests.length, 0, 'the http hop was never requested in release')

  const { host: testEnv } = await releaseHost(t, { env: 'test' })
  await expectOk(t, testEnv, { url: toHttp })
  t.is(plain.requests.length, 1, 'test env follows an https -> http hop')
  for (const location of ['javascript:alert(1)', `wss://${TEST_HOST}:${secure.port}/bytes/10`, `ftp://${TEST_HOST}/x`]) {
    await expectFail(t, testEnv, { url: redirectTo(secure, location) }, ...URL_ERROR)
  }
  t.is(secure.requestsTo('/bytes').length, 0)
})

test("with checkRedirectDomain (default) every hop is domain-checked: 121501 names the hop's absolute URL, never requested", async (t) => {
  const server = closeAfter(t, await startPolicyContentServer())
  const port = server.port
  const { host } = await releaseHost(t, {
    domains: [server.origin, `https://localhost:${port}`, `https://127.0.0.1:${port}`],
  })
  // Listed hops: a relative one, and one spelled in upper case.
  await expectOk(t, host, { url: redirectTo(server, '/bytes/10') })
  await expectOk(t, host, { url: redirectTo(server, `https://${TEST_HOST.toUpperCase()}:${port}/bytes/11`) })
  const refused: [string, string][] = [
    // A protocol-relative Location: the message carries the hop resolved against the current URL.
    [`//${OTHER_HOST}:${port}/bytes/12`, `https://${OTHER_HOST}:${port}/bytes/12`],
    [`https://${SUB_HOST}:${port}/bytes/12`, `https://${SUB_HOST}:${port}/bytes/12`],
    // The listed host on a port the entry does not spell, or without the entry's port.
    [`https://${TEST_HOST}/bytes/12`, `https://${TEST_HOST}/bytes/12`],
    // Listed, but IP literals and localhost never pass.
    [`https://localhost:${port}/bytes/12`, `https://localhost:${port}/bytes/12`],
    [`https://127.0.0.1:${port}/bytes/12`, `https://127.0.0.1:${port}/bytes/12`],
  ]
  for (const [location, hop] of refused) {
    const run = await expectFail(t, host, { url: redirectTo(server, location) }, ...notInList(hop))
    t.false(
      run.events.some((e) => e.type === 'headers'),
      'a refused hop is not a final response',
    )
  }
  t.deepEqual(
    server.requestsTo('/bytes').map((r) => r.path),
    ['/bytes/10', '/bytes/11'],
  )
})

test('checkRedirectDomain: false lets unlisted hops through while the first URL is still checked', async (t) => {
  const server = closeAfter(t, await startPolicyContentServer())
  const port = server.port
  const { host } = await releaseHost(t, { domains: [server.origin], checkRedirectDomain: false })
  await expectOk(t, host, { url: redirectTo(server, `https://${OTHER_HOST}:${port}/bytes/10`) })
  await expectOk(t, host, { url: redirectTo(server, `https://localhost:${port}/bytes/11`) })
  const unlisted = `https://${OTHER_HOST}:${port}/bytes/12`
  await expectFail(t, host, { url: unlisted }, ...notInList(unlisted))
  t.deepEqual(
    server.requestsTo('/bytes').map((r) => `${r.headers.host} ${r.path}`),
    [`${OTHER_HOST}:${port} /bytes/10`, `localhost:${port} /bytes/11`],
  )
})

test('with checkDomain off no hop is domain-checked, even with checkRedirectDomain: true', async (t) => {
  const server = closeAfter(t, await startPolicyContentServer())
  const port = server.port
  const { host } = await releaseHost(t, { checkDomain: false, checkRedirectDomain: true, domains: [server.origin] })
  await expectOk(t, host, { url: redirectTo(server, `https://${OTHER_HOST}:${port}/bytes/10`) })
  await expectOk(t, host, { url: redirectTo(server, `https://127.0.0.1:${port}/bytes/11`) })
  t.is(server.requestsTo('/bytes').length, 2)
})

// The 11th redirect response failing 121529 is a row of errors.spec.ts.
test('ten redirects are followed, every hop domain-checked, and the profile counts them', async (t) => {
  const server = closeAfter(t, await startPolicyContentServer())
  const { host } = await releaseHost(t, { domains: [server.origin] })
  const res = await expectOk(t, host, { url: server.url('/redirect/10') })
  t.is(res.profile?.redirectCount, 10)
  t.is(res.dataLength, 1024)
  t.is(server.requests.length, 11, 'ten redirect responses and the final one')
})

// =============================================================================================
// Headers

test('header names go on the wire lower-cased, and of keys differing only in case the later wins', async (t) => {
  const server = closeAfter(t, await startRawTlsServer())
  const { host } = await releaseHost(t, { domains: [`https://${TEST_HOST}:${server.port}`] })
  await expectOk(t, host, {
    url: server.url('/headers'),
    header: { 'X-Mixed-Case': 'a', 'X-Dup': 'first', 'x-dup': 'second', 'X-DUP': 'third', ACCEPT: 'text/plain' },
  })
  const lines = server.headerLines(0)
  for (const [name] of lines) t.is(name, name.toLowerCase(), `${name} is lower-case on the wire`)
  t.deepEqual(
    lines.filter(([name]) => name.toLowerCase() === 'x-dup'),
    [['x-dup', 'third']],
  )
  t.deepEqual(
    lines.filter(([name]) => name.toLowerCase() === 'x-mixed-case'),
    [['x-mixed-case', 'a']],
  )
  t.deepEqual(
    lines.filter(([name]) => name.toLowerCase() === 'accept'),
    [['accept', 'text/plain']],
  )
})

test('numeric header values are sent as String(value)', async (t) => {
  const server = closeAfter(t, await startRawTlsServer())
  const { host } = await releaseHost(t, { domains: [`https://${TEST_HOST}:${server.port}`] })
  const values: Record<string, number> = {
    'x-float': 1.5,
    'x-negative-zero': -0,
    'x-big': 1e21,
    'x-sum': 0.1 + 0.2,
    'x-negative': -7,
    'x-max-safe': 2 ** 53,
    'x-tiny': 1e-7,
  }
  await expectOk(t, host, { url: server.url('/headers'), header: values })
  const sent = Object.fromEntries(server.headerLines(0))
  for (const [name, value] of Object.entries(values)) t.is(sent[name], String(value), name)
  t.is(sent['x-negative-zero'], '0')
  t.is(sent['x-big'], '1e+21')
})

const TRANSPORT_HEADERS = {
  Host: 'evil.example',
  'Content-Length': '5',
  'Transfer-Encoding': 'chunked',
  Connection: 'close',
  TE: 'trailers',
  Upgrade: 'websocket',
  'X-Kept': 'yes',
}

test('host, content-length, transfer-encoding, connection, te and upgrade from the caller are not sent (HTTP/1.1)', async (t) => {
  const server = closeAfter(t, await startRawTlsServer())
  const { host } = await releaseHost(t, { domains: [`https://${TEST_HOST}:${server.port}`] })
  await expectOk(t, host, { url: server.url('/headers'), header: TRANSPORT_HEADERS })
  const lines = server.headerLines(0)
  t.regex(server.heads[0] ?? '', /^GET \/headers HTTP\/1\.1\r\n/)
  t.deepEqual(
    lines.filter(([name]) => name === 'host'),
    [['host', `${TEST_HOST}:${server.port}`]],
  )
  for (const name of ['content-length', 'transfer-encoding', 'te', 'upgrade']) {
    t.deepEqual(
      lines.filter(([n]) => n === name),
      [],
      `${name} is not sent`,
    )
  }
  t.false(
    lines.some(([name, value]) => name === 'connection' && /close|upgrade/i.test(value)),
    'connection: close not forwarded',
  )
  t.deepEqual(
    lines.filter(([name]) => name === 'x-kept'),
    [['x-kept', 'yes']],
  )
})

test('host, content-length, transfer-encoding, connection, te and upgrade from the caller are not sent (HTTP/2)', async (t) => {
  const server = closeAfter(t, await startPolicyContentServer('h2-only'))
  const { host } = await releaseHost(t, { domains: [server.origin] })
  const res = await expectOk(t, host, { url: server.url('/headers'), header: TRANSPORT_HEADERS })
  t.is(res.profile?.protocol, 'h2')
  const seen = server.requests[0]!.headers
  t.is(seen[':authority'], `${TEST_HOST}:${server.port}`)
  t.is(seen.host, undefined)
  for (const name of ['content-length', 'transfer-encoding', 'connection', 'te', 'upgrade']) {
    t.is(seen[name], undefined, `${name} is not sent`)
  }
  t.is(seen['x-kept'], 'yes')
})

for (const platform of ['android', 'ios'] as const) {
  test(`the fixed referer and ${platform} user-agent replace the caller's on every redirect hop`, async (t) => {
    const server = closeAfter(t, await startPolicyContentServer())
    const port = server.port
    const client = {
      platform,
      systemUserAgent: `SystemUA/${platform} (test)`,
      hostName: 'TestHostApp',
      hostVersion: '9.8.7',
      pluginVersion: '6.5.4',
    }
    const { host } = await releaseHost(t, {
      appId: 'ttpolicy01',
      appVersion: '4.5.6',
      sdkVersion: '2.50.1',
      client,
      domains: [server.origin, `https://${OTHER_HOST}:${port}`],
    })
    const last = `https://${OTHER_HOST}:${port}/redirect-to?url=${encodeURIComponent('/headers')}`
    await expectOk(t, host, {
      url: redirectTo(server, last),
      header: { REFERER: 'https://evil.example/', 'user-AGENT': 'curl/8', Referer: 'again' },
    })
    const referer = 'https://tmaservice.developer.toutiao.com/?appid=ttpolicy01&version=4.5.6'
    const tail = platform === 'ios' ? 'webview/6.5.4' : 'PluginVersion/6.5.4'
    const userAgent = `SystemUA/${platform} (test) TestHostApp/9.8.7 ToutiaoMicroApp/2.50.1 ${tail}`
    t.is(server.requests.length, 3)
    for (const request of server.requests) {
      t.is(request.headers.referer, referer, request.path)
      t.is(request.headers['user-agent'], userAgent, request.path)
    }
  })
}

test("authorization and the caller's cookie reach a same-origin hop but no hop on another origin", async (t) => {
  const server = closeAfter(t, await startPolicyContentServer())
  const otherPort = closeAfter(t, await startPolicyContentServer())
  const port = server.port
  const header = { Authorization: 'Bearer secret', Cookie: 'session=abc', 'X-Kept': 'yes' }
  for (const jar of [{}, { sdkVersion: '2.45.0', cookie: { enableStore: true } }]) {
    const label = 'cookie' in jar ? 'with the cookie jar' : 'without the cookie jar'
    const { host } = await releaseHost(t, {
      ...jar,
      domains: [server.origin, `https://${OTHER_HOST}:${port}`, otherPort.origin],
    })
    const before = server.requests.length
    await expectOk(t, host, { url: redirectTo(server, '/headers'), header })
    const sameOrigin = server.requests[before + 1]!.headers
    t.is(sameOrigin.authorization, 'Bearer secret', `${label}: same-origin hop keeps authorization`)
    t.is(sameOrigin.cookie, 'session=abc', `${label}: same-origin hop keeps the cookie`)

    const otherHostBefore = server.requests.length
    await expectOk(t, host, { url: redirectTo(server, `https://${OTHER_HOST}:${port}/headers`), header })
    const first = server.requests[otherHostBefore]!.headers
    t.is(first.authorization, 'Bearer secret', `${label}: the first request carries authorization`)
    const otherHost = server.requests[otherHostBefore + 1]!
    t.is(otherHost.headers.host, `${OTHER_HOST}:${port}`)
    t.is(otherHost.headers.authorization, undefined, `${label}: another host gets no authorization`)
    t.is(otherHost.headers.cookie, undefined, `${label}: another host gets no caller cookie`)
    t.is(otherHost.headers['x-kept'], 'yes')

    const portBefore = otherPort.requests.length
    await expectOk(t, host, { url: redirectTo(server, otherPort.url('/headers')), header })
    const otherPortHop = otherPort.requests[portBefore]!.headers
    t.is(otherPortHop.authorization, undefined, `${label}: another port gets no authorization`)
    t.is(otherPortHop.cookie, undefined, `${label}: another port gets no caller cookie`)
    t.is(otherPortHop['x-kept'], 'yes')
  }
})
