// SPEC 3's rules for the caller's own request headers beyond their syntax: the proxy and
// connection headers the transport owns are dropped (what the server receives shows it), and
// the caller's headers may total 64 KiB, counted over every entry as given (dropped and
// replaced ones included) as `name: value` CRLF, one byte per character, judged only after
// every entry passed its own checks. (The older dropped names are in policy.spec.ts.)
import test from 'ava'
import type { ExecutionContext } from 'ava'
import { assertFailedRun, assertSucceededRun } from './helpers/assert.js'
import { startContentServer } from './helpers/content-server.js'
import { makeHost } from './helpers/hosts.js'
import { record } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'
import { startTlsServer } from './helpers/tls.js'

const KIB_64 = 64 * 1024
const TOO_LARGE = [121599, 'parameter error: header too large', 'D'] as const

/** What one entry counts toward the cap: name + ': ' + value + CRLF. */
const entryBytes = (name: string, value: string): number => name.length + 2 + value.length + 2

/** A plain-HTTP content server that accepts request heads up to 1 MiB. */
async function bigHeadServer(t: ExecutionContext) {
  return closeAfter(t, await startContentServer({ mode: 'http', maxHeaderSize: 1024 * 1024 }))
}

const TRANSPORT_PROXY_HEADERS = {
  'Proxy-Authorization': 'Basic YWxpY2U6czNjcmV0',
  'Proxy-Connection': 'keep-alive',
  'Keep-Alive': 'timeout=5, max=100',
  'X-Kept': 'yes',
}

test('proxy-authorization, proxy-connection and keep-alive from the caller are not sent (HTTP/1.1)', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host } = await makeHost(t)
  assertSucceededRun(t, await record(host, { url: server.url('/headers'), header: TRANSPORT_PROXY_HEADERS }).done)
  const seen = server.requests[0]!.headers
  for (const name of ['proxy-authorization', 'proxy-connection', 'keep-alive']) t.is(seen[name], undefined, `${name} is not sent`)
  t.is(seen['x-kept'], 'yes')
})

test('proxy-authorization, proxy-connection and keep-alive from the caller are not sent (HTTP/2)', async (t) => {
  const server = closeAfter(t, await startTlsServer('h2-only'))
  const { host } = await makeHost(t)
  const res = assertSucceededRun(t, await record(host, { url: server.url('/headers'), header: TRANSPORT_PROXY_HEADERS }).done)
  t.is(res.profile?.protocol, 'h2')
  const seen = server.requests[0]!.headers
  for (const name of ['proxy-authorization', 'proxy-connection', 'keep-alive']) t.is(seen[name], undefined, `${name} is not sent`)
  t.is(seen['x-kept'], 'yes')
})

/**
 * Caller headers of exactly `total` bytes as SPEC 3 counts them: a dropped entry, a replaced
 * one, two keys differing only in case (both count, the later is sent) and a filler of `é`
 * (U+00E9: one byte on the wire, two in UTF-8) that makes up the rest.
 */
function headersOfSize(total: number): { header: Record<string, string>; filler: string } {
  const fixed: Record<string, string> = {
    'Keep-Alive': 'timeout=5',
    Referer: 'https://app.example/page',
    'X-Case': 'first',
    'x-case': 'second',
  }
  const counted = Object.entries(fixed).reduce((sum, [name, value]) => sum + entryBytes(name, value), 0)
  const filler = 'é'.repeat(total - counted - entryBytes('X-Big', ''))
  const header = { ...fixed, 'X-Big': filler }
  const sum = Object.entries(header).reduce((s, [name, value]) => s + entryBytes(name, value), 0)
  if (sum !== total) throw new Error(`headersOfSize: ${sum} bytes, not ${total}`)
  return { header, filler }
}

test('caller headers of exactly 64 KiB, counted as given (dropped, replaced and case-merged entries included), are sent', async (t) => {
  const server = await bigHeadServer(t)
  const { host } = await makeHost(t)
  const { header, filler } = headersOfSize(KIB_64)
  assertSucceededRun(t, await record(host, { url: server.url('/bytes/10'), header }).done)
  const seen = server.requests[0]!.headers
  t.is(seen['x-big'], filler, 'the filler arrived whole, one byte per character')
  t.is(seen['x-case'], 'second', 'the later of two case-variant keys is sent')
  t.is(seen['keep-alive'], undefined)
  t.regex(String(seen.referer), /^https:\/\/tmaservice\.developer\.toutiao\.com\//, 'the fixed referer')
})

test('caller headers of 64 KiB + 1 byte fail with "header too large" and nothing is requested', async (t) => {
  const server = await bigHeadServer(t)
  const { host } = await makeHost(t)
  const run = await record(host, { url: server.url('/bytes/10'), header: headersOfSize(KIB_64 + 1).header }).done
  assertFailedRun(t, run, ...TOO_LARGE)
  t.is(server.connections, 0)
})

test('dropped and replaced entries alone can push the headers over the cap', async (t) => {
  const server = await bigHeadServer(t)
  const { host } = await makeHost(t)
  const half = 'a'.repeat(KIB_64 / 2)
  // Neither entry would be sent (keep-alive is dropped, user-agent replaced), yet both count.
  const run = await record(host, { url: server.url('/bytes/10'), header: { 'keep-alive': half, 'user-agent': half } }).done
  assertFailedRun(t, run, ...TOO_LARGE)
  t.is(server.connections, 0)
})

test('a 16 MiB header value fails with "header too large" at once, without connecting', async (t) => {
  const server = await bigHeadServer(t)
  const { host } = await makeHost(t)
  const started = performance.now()
  const run = await record(host, { url: server.url('/bytes/10'), header: { 'x-huge': 'v'.repeat(16 * 1024 * 1024) }, timeout: 60_000 }).done
  const elapsed = performance.now() - started
  assertFailedRun(t, run, ...TOO_LARGE)
  t.is(server.connections, 0, 'no connection was opened')
  t.true(elapsed < 2000, `failed after ${Math.round(elapsed)} ms`)
})

test('an invalid entry is reported as such, even in headers that are also too large', async (t) => {
  const { host } = await makeHost(t)
  const run = await record(host, {
    url: 'http://127.0.0.1:9/x',
    header: { 'x-big': 'a'.repeat(KIB_64 * 2), 'x-bad': 'a\r\nx-injected: 1' },
  }).done
  assertFailedRun(t, run, 121599, 'parameter error: invalid value of header "x-bad"', 'D')
})
