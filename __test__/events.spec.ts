// Foundation: the order and content of what a DownloadTask reports (SPEC section 4), and that
// nothing is ever called from inside downloadFile itself.
import test from 'ava'
import { expectedSha256 } from './helpers/bytes.js'
import { startContentServer } from './helpers/content-server.js'
import { assertFailedRun, assertSucceededRun } from './helpers/assert.js'
import { makeHost } from './helpers/hosts.js'
import { eventTypes, record } from './helpers/record.js'
import type { Recorded, Run } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'
import { sha256File } from './helpers/bytes.js'
import { startServerFor } from './helpers/tls.js'
import { startRawServer } from './helpers/raw-servers.js'

type Progress = Extract<Recorded, { type: 'progress' }>
const progressOf = (run: Run) => run.events.filter((e): e is Progress => e.type === 'progress')
const counts = ({ progress, totalBytesWritten, totalBytesExpectedToWrite }: Progress) => ({
  progress,
  totalBytesWritten,
  totalBytesExpectedToWrite,
})
/** The final progress event of a body of `size` bytes, known length or not (SPEC 10). */
const done = (size: number) => ({
  progress: 100,
  totalBytesWritten: size,
  totalBytesExpectedToWrite: size,
})

/** A content server for `mode`: plain HTTP/1.1, or HTTPS offering HTTP/2. */
for (const mode of ['http', 'h2'] as const) {
  test(`events come in order over ${mode}: headers once, progress, success, complete`, async (t) => {
    const server = closeAfter(t, await startServerFor(mode))
    const { host } = await makeHost(t)
    const size = 200_000
    // Five pieces 80 ms apart: several progress events, whatever the throttle does.
    const run = record(host, { url: server.url(`/slow/${size}?chunks=5&delayMs=80`) })
    await run.done
    const res = assertSucceededRun(t, run)

    t.deepEqual(eventTypes(run), ['headers', 'progress', 'success', 'complete'])
    const headers = run.events[0] as Extract<Recorded, { type: 'headers' }>
    t.is(headers.header['content-length'], String(size))
    t.is(headers.header['content-type'], 'application/octet-stream')

    const progress = progressOf(run)
    t.true(progress.length >= 2, `${progress.length} progress events for a body sent in 5 pieces`)
    let last = -1
    for (const p of progress) {
      t.true(Number.isInteger(p.progress), `progress ${p.progress} is an integer`)
      t.true(p.totalBytesWritten >= last, 'totalBytesWritten never decreases')
      last = p.totalBytesWritten
      t.is(p.totalBytesExpectedToWrite, size)
      const expected = Math.floor((100 * p.totalBytesWritten) / size)
      t.is(p.progress, expected, 'progress = floor(100 x written / size)')
    }
    const final = progress[progress.length - 1]!
    t.deepEqual(counts(final), done(size))
    const next = run.events[run.events.indexOf(final) + 1]
    t.is(next?.type, 'success', 'the final progress 100 comes right before success')
    t.is(await sha256File(host.realPath(res.tempFilePath!)), expectedSha256(size))
  })
}

test('an unknown length reports totalBytesExpectedToWrite -1 and progress 0 until the final 100', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host } = await makeHost(t)
  const size = 150_000
  const run = record(host, { url: server.url(`/slow/${size}?length=0&chunks=4&delayMs=80`) })
  await run.done
  assertSucceededRun(t, run)
  t.deepEqual(eventTypes(run), ['headers', 'progress', 'success', 'complete'])
  const progress = progressOf(run)
  const final = progress.pop()!
  t.deepEqual(counts(final), done(size))
  let last = -1
  for (const p of progress) {
    t.is(p.totalBytesExpectedToWrite, -1)
    t.is(p.progress, 0)
    t.true(p.totalBytesWritten >= last && p.totalBytesWritten <= size)
    last = p.totalBytesWritten
  }
})

test('an empty body still ends with a progress 100 event before success', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host } = await makeHost(t)
  const run = record(host, { url: server.url('/bytes/0') })
  await run.done
  const res = assertSucceededRun(t, run)
  t.is(res.dataLength, 0)
  t.deepEqual(eventTypes(run), ['headers', 'progress', 'success', 'complete'])
  const progress = progressOf(run)
  const final = progress[progress.length - 1]!
  t.deepEqual(counts(final), done(0))
})

test('callbacks run asynchronously even when the options fail validation at once', async (t) => {
  const { host } = await makeHost(t)
  const run = record(host, { url: 'not a url' })
  t.deepEqual(run.events, [], 'nothing happened inside downloadFile')
  await run.done
  assertFailedRun(t, run, 121599, 'url is invalid, url == not a url', 'D')
})

test('offProgressUpdate(cb) removes that listener and offProgressUpdate() removes all', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host } = await makeHost(t)
  const calls = { a: 0, b: 0, c: 0, d: 0 }
  const a = () => void calls.a++
  const b = () => void calls.b++
  await new Promise<void>((resolve) => {
    const task = host.downloadFile({ url: server.url('/bytes/1000'), complete: () => resolve() })
    task.onProgressUpdate(a)
    task.onProgressUpdate(b)
    task.offProgressUpdate(a)
  })
  t.is(calls.a, 0)
  t.true(calls.b >= 1)
  await new Promise<void>((resolve) => {
    const task = host.downloadFile({ url: server.url('/bytes/1000'), complete: () => resolve() })
    task.onProgressUpdate(() => void calls.c++)
    task.onProgressUpdate(() => void calls.d++)
    task.offProgressUpdate()
  })
  t.is(calls.c, 0)
  t.is(calls.d, 0)
})

test('offHeadersReceived(cb) removes that listener and offHeadersReceived() removes all', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host } = await makeHost(t)
  const calls = { a: 0, b: 0, c: 0 }
  const a = () => void calls.a++
  await new Promise<void>((resolve) => {
    const task = host.downloadFile({ url: server.url('/bytes/10'), complete: () => resolve() })
    task.onHeadersReceived(a)
    task.onHeadersReceived(() => void calls.b++)
    task.offHeadersReceived(a)
  })
  t.is(calls.a, 0)
  t.is(calls.b, 1)
  await new Promise<void>((resolve) => {
    const task = host.downloadFile({ url: server.url('/bytes/10'), complete: () => resolve() })
    task.onHeadersReceived(() => void calls.c++)
    task.offHeadersReceived()
  })
  t.is(calls.c, 0)
})

test('a throwing listener or callback breaks nothing and reaches onError with its source', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const reported: { message: string; source: string }[] = []
  const { host } = await makeHost(t, {
    onError: (error: unknown, info: { source: string }) => {
      reported.push({ message: (error as Error).message, source: info.source })
    },
  })
  let otherProgress = 0
  let otherHeaders = 0
  const result = await new Promise<unknown>((resolve) => {
    const task = host.downloadFile({
      url: server.url('/bytes/5000'),
      success: () => {
        throw new Error('from success')
      },
      complete: (res: unknown) => {
        resolve(res)
        throw new Error('from complete')
      },
    })
    task.onHeadersReceived(() => {
      throw new Error('from headers')
    })
    task.onHeadersReceived(() => void otherHeaders++)
    task.onProgressUpdate(() => {
      throw new Error('from progress')
    })
    task.onProgressUpdate(() => void otherProgress++)
  })
  t.like(result, { errMsg: 'downloadFile:ok', dataLength: 5000 })
  t.is(otherHeaders, 1)
  t.true(otherProgress >= 1)
  // complete's own exception is reported after complete returned: give it a turn.
  await new Promise((resolve) => setTimeout(resolve, 20))
  const sources = new Set(reported.map((r) => r.source))
  t.deepEqual([...sources].sort(), ['complete', 'headers', 'progress', 'success'])
  t.true(reported.some((r) => r.source === 'headers' && r.message === 'from headers'))
  t.true(reported.some((r) => r.source === 'success' && r.message === 'from success'))
})

test('response header bytes 0x80-0xFF arrive as one Latin-1 character each, in the listener and the result', async (t) => {
  // caf\xe9 and \xff\x80: not UTF-8, so a UTF-8 decoder would replace them with U+FFFD.
  const head = Buffer.concat([
    Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-name: caf'),
    Buffer.from([0xe9]),
    Buffer.from('\r\nx-bytes: '),
    Buffer.from([0xff, 0x80]),
    Buffer.from('\r\nconnection: close\r\n\r\nok'),
  ])
  const server = closeAfter(t, await startRawServer((socket) => socket.end(head)))
  const { host } = await makeHost(t)
  const run = record(host, { url: server.url('/latin1') })
  await run.done
  const res = assertSucceededRun(t, run)
  const listened = run.events.find((e) => e.type === 'headers')
  t.is(res.header['x-name'], 'caf\u00e9')
  t.is(res.header['x-bytes'], '\u00ff\u0080')
  t.deepEqual((listened as { header?: Record<string, string> } | undefined)?.header, res.header)
})

for (const mode of ['http', 'h2'] as const) {
  test(`listeners added after the head arrived get it at once, before any progress, over ${mode}`, async (t) => {
    const server = closeAfter(t, await startServerFor(mode))
    const { host } = await makeHost(t)
    const size = 60_000
    // Head at once, then six pieces 250 ms apart: the body ends about 1.5 s in.
    const events: { type: string; at: number }[] = []
    const started = performance.now()
    const mark = (type: string) => events.push({ type, at: performance.now() - started })
    const finished = new Promise<void>((resolve) => {
      const task = host.downloadFile({
        url: server.url(`/slow/${size}?chunks=6&delayMs=250`),
        success: () => mark('success'),
        fail: () => mark('fail'),
        complete: () => resolve(),
      })
      setTimeout(() => {
        mark('listening')
        task.onProgressUpdate(() => mark('progress'))
        task.onHeadersReceived(() => mark('headers'))
      }, 400)
    })
    await finished
    const types = events.map((e) => e.type).filter((type, i, all) => type !== 'progress' || all[i - 1] !== 'progress')
    t.deepEqual(types, ['listening', 'headers', 'progress', 'success'], JSON.stringify(events))
    const listening = events.find((e) => e.type === 'listening')!.at
    const headers = events.find((e) => e.type === 'headers')!.at
    const success = events.find((e) => e.type === 'success')!.at
    // The head came when asked for, not with the outcome about a second later.
    t.true(headers - listening < success - headers, JSON.stringify(events))
    t.true(success - headers >= 500, JSON.stringify(events))
  })
}
