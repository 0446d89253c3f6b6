// Cookies (SPEC 2, 3, 6; issue 6): a jar per host, fed by every hop's Set-Cookie, sent on
// matching requests, merged with the caller's header (the caller wins a name clash),
// persistent across a host restart, isolated between hosts on one shared engine.
import test from 'ava'
import { createEngine } from '../src/index.js'
import { assertSucceededRun } from './helpers/assert.js'
import { makeHost } from './helpers/hosts.js'
import { record } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'
import { startTlsServer } from './helpers/tls.js'

const COOKIES_ON = { sdkVersion: '2.45.0', cookie: { enableStore: true } } as const

function setCookiePath(...cookies: string[]): string {
  return '/response-headers?' + cookies.map((c) => `set-cookie=${encodeURIComponent(c)}`).join('&')
}

/** The cookie pairs a request carried, sorted (a jar's order between paths of equal length is free). */
function cookiePairs(header: string | string[] | undefined): string[] {
  const text = Array.isArray(header) ? header.join('; ') : (header ?? '')
  return text
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => pair !== '')
    .sort()
}

test('Set-Cookie of a response reached through a redirect is sent on later requests', async (t) => {
  const server = closeAfter(t, await startTlsServer('h2'))
  const { host } = await makeHost(t, COOKIES_ON)
  const setter = encodeURIComponent(setCookiePath('final=1; Path=/'))
  const hop = `/redirect-to?url=${setter}`
  const first = record(host, { url: server.url(hop) })
  await first.done
  assertSucceededRun(t, first)
  const second = record(host, { url: server.url('/bytes/1') })
  await second.done
  assertSucceededRun(t, second)
  t.deepEqual(cookiePairs(server.requestsTo('/bytes').at(-1)?.headers.cookie), ['final=1'])
})

test("the caller's cookie header wins a name clash and the jar adds the rest", async (t) => {
  const server = closeAfter(t, await startTlsServer('h2'))
  const { host } = await makeHost(t, COOKIES_ON)
  await host.download({ url: server.url(setCookiePath('a=jar; Path=/', 'b=jar; Path=/')) })
  await host.download({ url: server.url('/bytes/1'), header: { Cookie: 'a=mine' } })
  t.deepEqual(cookiePairs(server.requestsTo('/bytes').at(-1)?.headers.cookie), ['a=mine', 'b=jar'])
})

test('persistent cookies survive a host restart; session cookies do not', async (t) => {
  const server = closeAfter(t, await startTlsServer('h2'))
  const { host, dataDir } = await makeHost(t, COOKIES_ON)
  await host.download({
    url: server.url(setCookiePath('kept=1; Max-Age=3600; Path=/', 'session=1; Path=/')),
  })
  await host.close()
  const { host: restarted } = await makeHost(t, { ...COOKIES_ON, dataDir })
  await restarted.download({ url: server.url('/bytes/1') })
  t.deepEqual(cookiePairs(server.requestsTo('/bytes').at(-1)?.headers.cookie), ['kept=1'])
})

test("two hosts on one shared engine never see each other's cookies", async (t) => {
  const server = closeAfter(t, await startTlsServer('h2'))
  const engine = createEngine()
  t.teardown(() => engine.close())
  const { host: first } = await makeHost(t, { ...COOKIES_ON, engine })
  const { host: second } = await makeHost(t, { ...COOKIES_ON, engine })
  await first.download({ url: server.url(setCookiePath('owner=first; Path=/')) })
  await second.download({ url: server.url('/bytes/1') })
  t.is(server.requestsTo('/bytes').at(-1)?.headers.cookie, undefined)
  await first.download({ url: server.url('/bytes/2') })
  t.deepEqual(cookiePairs(server.requestsTo('/bytes').at(-1)?.headers.cookie), ['owner=first'])
})

test('below sdkVersion 2.45.0 cookies are off whatever enableStore says', async (t) => {
  const server = closeAfter(t, await startTlsServer('h2'))
  const { host } = await makeHost(t, { sdkVersion: '2.44.9', cookie: { enableStore: true } })
  await host.download({ url: server.url(setCookiePath('a=1; Path=/')) })
  await host.download({ url: server.url('/bytes/1') })
  t.is(server.requestsTo('/bytes').at(-1)?.headers.cookie, undefined)
})
