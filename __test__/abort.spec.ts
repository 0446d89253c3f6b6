// Foundation: abort() at each moment of a download (SPEC sections 4 and 10): fail 121522, then
// complete; no partial or staging file; an existing file at filePath untouched.
import test from 'ava'
import { readFile, writeFile } from 'node:fs/promises'
import { startContentServer } from './helpers/content-server.js'
import { assertFailedRun, assertNoLeftovers, assertSucceededRun } from './helpers/assert.js'
import { makeHost } from './helpers/hosts.js'
import { record } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'
import { startServerFor, startTlsServer } from './helpers/tls.js'

const ABORT = [121522, 'download file abort', 'U'] as const
const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A content server for `mode`: plain HTTP/1.1, or HTTPS offering HTTP/2. */
test('abort() right after downloadFile fails with 121522, then complete, and leaves no file', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host, dataDir } = await makeHost(t)
  const run = record(host, { url: server.url('/bytes/100000') })
  run.task.abort()
  t.deepEqual(run.events, [], 'abort() calls nothing itself')
  await run.done
  assertFailedRun(t, run, ...ABORT)
  t.false(run.events.some((e) => e.type === 'progress' && e.progress === 100))
  await assertNoLeftovers(t, dataDir)
})

for (const mode of ['http', 'h2'] as const) {
  test(`abort() in the middle of the body over ${mode} fails with 121522 and leaves no partial or staging file`, async (t) => {
    const server = closeAfter(t, await startServerFor(mode))
    const { host, dataDir } = await makeHost(t)
    // 40 pieces 100 ms apart: four seconds of body, aborted at the first progress event.
    let abortedAt = -1
    const run = record(
      host,
      { url: server.url('/slow/400000?chunks=40&delayMs=100') },
      {
        onProgress: (r, event) => {
          if (abortedAt < 0 && event.totalBytesWritten > 0) {
            abortedAt = event.totalBytesWritten
            r.task.abort()
          }
        },
      },
    )
    await run.done
    t.true(abortedAt > 0 && abortedAt < 400_000, `aborted after ${abortedAt} bytes`)
    assertFailedRun(t, run, ...ABORT)
    const types = run.events.map((e) => e.type)
    t.is(types[0], 'headers')
    t.false(types.includes('success'))
    await assertNoLeftovers(t, dataDir)
  })
}

test('abort() after the head arrived leaves an existing file at filePath untouched', async (t) => {
  const server = closeAfter(t, await startTlsServer('https'))
  const { host, dataDir } = await makeHost(t)
  const filePath = 'ttfile://user/keep.bin'
  await writeFile(host.realPath(filePath), 'precious')
  const run = record(host, { url: server.url('/slow/100000?chunks=10&delayMs=200'), filePath }, { onHeaders: (r) => r.task.abort() })
  await run.done
  assertFailedRun(t, run, ...ABORT)
  t.is(await readFile(host.realPath(filePath), 'utf8'), 'precious')
  await assertNoLeftovers(t, dataDir, ['user/keep.bin'])
})

// abort() from onHeadersReceived lands while the engine opens the staging file: repeated, so
// a cancellation that strands a file in .tt-download/staging/ shows up in a single run.
test('abort() from onHeadersReceived, repeated, never strands a staging file', async (t) => {
  const server = closeAfter(t, await startTlsServer('h2'))
  const { host, dataDir } = await makeHost(t)
  for (let i = 0; i < 10; i++) {
    const filePath = i % 2 === 0 ? undefined : `ttfile://user/f${i}.bin`
    const run = record(
      host,
      { url: server.url(`/slow/100000?chunks=10&delayMs=200&seed=${i}`), filePath },
      { onHeaders: (r) => r.task.abort() },
    )
    await run.done
    assertFailedRun(t, run, ...ABORT)
    if (!(await assertNoLeftovers(t, dataDir))) break
  }
})

test('abort() after complete does nothing', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host, dataDir } = await makeHost(t)
  const run = record(host, { url: server.url('/bytes/100') })
  await run.done
  const res = assertSucceededRun(t, run)
  const count = run.events.length
  run.task.abort()
  await settle(100)
  t.is(run.events.length, count, 'no callback after abort() on a finished task')
  await assertNoLeftovers(t, dataDir, [res.tempFilePath!.replace('ttfile://', '')])
})

test('abort() twice yields one fail and one complete', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host } = await makeHost(t)
  const run = record(host, { url: server.url('/slow/1000?delayMs=2000') }, { onHeaders: (r) => r.task.abort() })
  run.task.abort()
  run.task.abort()
  await run.done
  await settle(50)
  assertFailedRun(t, run, ...ABORT)
  t.is(run.events.filter((e) => e.type === 'fail').length, 1)
  t.is(run.events.filter((e) => e.type === 'complete').length, 1)
})

test('host.close() aborts in-flight downloads with 121522 and empties staging', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host, dataDir } = await makeHost(t)
  let sawHead!: () => void
  const headArrived = new Promise<void>((resolve) => (sawHead = resolve))
  const run = record(host, { url: server.url('/slow/100000?chunks=10&delayMs=500') }, { onHeaders: () => sawHead() })
  await headArrived
  await host.close()
  await run.done
  assertFailedRun(t, run, ...ABORT)
  await assertNoLeftovers(t, dataDir)
})

test('downloadFile after host.close() fails with 121522 without touching the network', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host } = await makeHost(t)
  await host.close()
  const run = record(host, { url: server.url('/bytes/10') })
  await run.done
  assertFailedRun(t, run, ...ABORT)
  t.is(server.requests.length, 0)
})
