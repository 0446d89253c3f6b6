// Foundation: the whole-request timeout (121520) and the byte limit (121521), checked against
// Content-Length before the body and against the running count during it.
import test from 'ava'
import { readFile, writeFile } from 'node:fs/promises'
import { expectedSha256, sha256File } from './helpers/bytes.js'
import { startContentServer } from './helpers/content-server.js'
import { assertFailedRun, assertNoLeftovers, assertSucceededRun } from './helpers/assert.js'
import { makeHost } from './helpers/hosts.js'
import { record } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'
import { startStallServer } from './helpers/raw-servers.js'
import { startServerFor, startTlsServer } from './helpers/tls.js'

const TIMEOUT = [121520, 'request time out', 'D'] as const

/** A content server for `mode`: plain HTTP/1.1, or HTTPS offering HTTP/2. */
test('a server that stalls after the head fails with 121520 once timeout elapses', async (t) => {
  const server = closeAfter(t, await startStallServer({ contentLength: 100_000, sendBytes: 1000 }))
  const { host, dataDir } = await makeHost(t)
  const run = record(host, { url: server.url('/stall'), timeout: 300 })
  await run.done
  assertFailedRun(t, run, ...TIMEOUT)
  const elapsed = run.completedAt! - run.startedAt
  t.true(elapsed >= 290, `failed after ${elapsed} ms, not before the timeout`)
  t.is(run.events.filter((e) => e.type === 'headers').length, 1, 'the head did arrive')
  await assertNoLeftovers(t, dataDir)
})

test('a server that never answers fails with 121520 once timeout elapses', async (t) => {
  const server = closeAfter(t, await startTlsServer('h2'))
  const { host, dataDir } = await makeHost(t)
  const run = record(host, { url: server.url('/hang'), timeout: 300 })
  await run.done
  assertFailedRun(t, run, ...TIMEOUT)
  t.false(run.events.some((e) => e.type === 'headers'))
  await assertNoLeftovers(t, dataDir)
})

test('HostConfig.networkTimeout applies when the call gives no timeout', async (t) => {
  const server = closeAfter(t, await startStallServer({ head: false }))
  const { host } = await makeHost(t, { networkTimeout: 300 })
  const run = record(host, { url: server.url('/') })
  await run.done
  assertFailedRun(t, run, ...TIMEOUT)
})

test('the timeout covers the whole body: a trickle slower than the timeout fails with 121520', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host, dataDir } = await makeHost(t)
  // Each piece arrives well within 400 ms of the previous one; the whole body takes 2 s.
  const run = record(host, { url: server.url('/slow/10000?chunks=10&delayMs=200'), timeout: 400 })
  await run.done
  assertFailedRun(t, run, ...TIMEOUT)
  await assertNoLeftovers(t, dataDir)
})

test('a timeout a download finishes within does not fire', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host } = await makeHost(t)
  const run = record(host, { url: server.url('/bytes/1000'), timeout: 10_000 })
  await run.done
  assertSucceededRun(t, run)
})

const maxFileSize = 1000
const TOO_LARGE = [121521, 'file size exceeds 0MB', 'D'] as const

test('a Content-Length over maxFileSize fails with 121521 before the body', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host, dataDir } = await makeHost(t, { maxFileSize })
  const run = record(host, { url: server.url('/bytes/5000') })
  await run.done
  assertFailedRun(t, run, ...TOO_LARGE)
  t.false(run.events.some((e) => e.type === 'progress' && e.totalBytesWritten > maxFileSize))
  await assertNoLeftovers(t, dataDir)
})

for (const mode of ['http', 'h2'] as const) {
  test(`a body without Content-Length growing over maxFileSize fails with 121521 over ${mode}`, async (t) => {
    const server = closeAfter(t, await startServerFor(mode))
    const { host, dataDir } = await makeHost(t, { maxFileSize })
    const run = record(host, { url: server.url('/chunked/5000') })
    await run.done
    assertFailedRun(t, run, ...TOO_LARGE)
    t.false(run.events.some((e) => e.type === 'progress' && e.totalBytesWritten > maxFileSize))
    await assertNoLeftovers(t, dataDir)
  })
}

test('a body of exactly maxFileSize bytes is stored, with or without Content-Length', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host } = await makeHost(t, { maxFileSize })
  for (const path of [`/bytes/${maxFileSize}`, `/chunked/${maxFileSize}`]) {
    const run = record(host, { url: server.url(path) })
    await run.done
    const res = assertSucceededRun(t, run)
    t.is(res.dataLength, maxFileSize)
    t.is(await sha256File(host.realPath(res.tempFilePath!)), expectedSha256(maxFileSize))
  }
})

test('the 121521 message states the limit in whole MiB, rounded down', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const limit = 3 * 1024 * 1024 + 5
  const { host } = await makeHost(t, { maxFileSize: limit })
  const run = record(host, { url: server.url(`/bytes/${limit + 1}`) })
  await run.done
  assertFailedRun(t, run, 121521, 'file size exceeds 3MB', 'D')
})

test('a body over maxFileSize leaves an existing file at filePath untouched', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host, dataDir } = await makeHost(t, { maxFileSize })
  const filePath = 'ttfile://user/keep.bin'
  await writeFile(host.realPath(filePath), 'precious')
  const run = record(host, { url: server.url('/chunked/5000'), filePath })
  await run.done
  assertFailedRun(t, run, ...TOO_LARGE)
  t.is(await readFile(host.realPath(filePath), 'utf8'), 'precious')
  await assertNoLeftovers(t, dataDir, ['user/keep.bin'])
})
