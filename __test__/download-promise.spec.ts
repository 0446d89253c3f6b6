// Foundation: host.download(), the Promise form (SPEC section 2): resolves with the success
// result, rejects with a DownloadError carrying the fail fields, honours an AbortSignal.
import test from 'ava'
import { expectedSha256, sha256File } from './helpers/bytes.js'
import { startContentServer } from './helpers/content-server.js'
import { assertFail, assertNoLeftovers, assertSuccessShape } from './helpers/assert.js'
import { makeHost } from './helpers/hosts.js'
import { type Success } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'
import { refusedPort } from './helpers/raw-servers.js'
import { startTlsServer } from './helpers/tls.js'
import { DownloadError } from '../src/index.js'

/** The fail fields a DownloadError carries, as a fail object. */
function failFields(error: DownloadError | undefined) {
  return error === undefined
    ? undefined
    : {
        errMsg: error.errMsg,
        errNo: error.errNo,
        errorCode: error.errorCode,
        errorType: error.errorType,
      }
}

test('download() resolves with the success result and the file is on disk', async (t) => {
  const server = closeAfter(t, await startTlsServer('h2'))
  const { host } = await makeHost(t)
  const res = (await host.download({ url: server.url('/bytes/70000') })) as Success
  assertSuccessShape(t, res, { statusCode: 200, dataLength: 70000 })
  t.is(await sha256File(host.realPath(res.tempFilePath!)), expectedSha256(70000))
})

test('download() with filePath resolves with filePath', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host } = await makeHost(t)
  const filePath = 'ttfile://user/p.bin'
  const res = (await host.download({ url: server.url('/bytes/10'), filePath })) as Success
  assertSuccessShape(t, res, { statusCode: 200, dataLength: 10, filePath })
})

test('download() rejects with a DownloadError carrying errMsg, errNo, errorCode and errorType', async (t) => {
  const port = await refusedPort()
  const { host } = await makeHost(t)
  const error = await t.throwsAsync(host.download({ url: `http://127.0.0.1:${port}/x` }), {
    instanceOf: DownloadError,
  })
  t.true(error instanceof Error)
  assertFail(t, failFields(error), 121526, 'connection error', 'U')
  t.is(error!.message, error!.errMsg)
})

test('download() calls onHeaders once and onProgress up to a final 100', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host } = await makeHost(t)
  const headers: unknown[] = []
  const progress: number[] = []
  await host.download({
    url: server.url('/slow/50000?chunks=3&delayMs=60'),
    onHeaders: (event: { header: Record<string, string> }) => headers.push(event),
    onProgress: (event: { progress: number }) => progress.push(event.progress),
  })
  t.is(headers.length, 1)
  t.like(headers[0], { header: { 'content-length': '50000' } })
  t.true(progress.length >= 1)
  t.is(progress[progress.length - 1], 100)
  t.deepEqual(
    [...progress].sort((a, b) => a - b),
    progress,
    'progress never decreases',
  )
})

test("aborting download()'s signal mid-body rejects with 121522 and leaves no file", async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host, dataDir } = await makeHost(t)
  const controller = new AbortController()
  const pending = host.download({
    url: server.url('/slow/100000?chunks=20&delayMs=100'),
    signal: controller.signal,
    onHeaders: () => controller.abort(),
  })
  const error = await t.throwsAsync(pending, { instanceOf: DownloadError })
  t.is(error!.errNo, 121522)
  t.is(error!.errorCode, 121522)
  t.is(error!.errorType, 'U')
  t.is(error!.errMsg, 'downloadFile:fail download file abort')
  await assertNoLeftovers(t, dataDir)
})

test('download() with an already aborted signal rejects with 121522 without a request', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host } = await makeHost(t)
  const signal = AbortSignal.abort()
  const error = await t.throwsAsync(host.download({ url: server.url('/bytes/10'), signal }), {
    instanceOf: DownloadError,
  })
  t.is(error!.errNo, 121522)
  t.is(error!.errMsg, 'downloadFile:fail download file abort')
  t.is(server.requests.length, 0)
})

test('download() with options that are not an object rejects with 121599 parameter error', async (t) => {
  const { host } = await makeHost(t)
  for (const bad of [undefined, null, 'https://files.test/x', 42]) {
    const error = await t.throwsAsync((host.download as (o: unknown) => Promise<unknown>)(bad), {
      instanceOf: DownloadError,
    })
    assertFail(t, failFields(error), 121599, /^parameter error: .+/, 'D')
  }
})
