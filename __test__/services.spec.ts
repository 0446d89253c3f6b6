// SPEC 12, the services a host needs around a download: the bounded temp/ directory with its
// oldest-first eviction, usage figures and re-measuring, the shared cookie jar, the
// operators' counters. Everything against real local servers.
import test from 'ava'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { stat, unlink, writeFile, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { createEngine, DownloadError } from '../src/index.js'
import { makeHost } from './helpers/hosts.js'
import { closeAfter } from './helpers/server.js'
import { startContentServer } from './helpers/content-server.js'
import { startShortBodyServer, startStallServer } from './helpers/raw-servers.js'
import { listFiles } from './helpers/fs.js'

const KIB = 1024
const COOKIES_ON = { sdkVersion: '2.45.0', cookie: { enableStore: true } } as const

/** Bytes under temp/ now, read synchronously so no download commits or evicts meanwhile. */
function tempBytes(dataDir: string): number {
  const dir = join(dataDir, 'temp')
  return readdirSync(dir).reduce((total, name) => total + statSync(join(dir, name)).size, 0)
}

test('temp/ never holds more than tempQuota: 16 concurrent downloads evict the oldest delivered files, never an undelivered one', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const tempQuota = 100 * KIB
  const { host, dataDir } = await makeHost(t, { maxFileSize: 20 * KIB, tempQuota, maxConcurrent: 16 })
  let delivered = 0
  let missingAtDelivery = 0
  let overQuota = 0
  const unexpected: string[] = []
  // Inside the success callback (synchronous, before the file may be evicted): the file is
  // there, and temp/ is within its bound.
  const one = (i: number): Promise<void> =>
    new Promise((resolve) => {
      host.downloadFile({
        url: server.url(`/slow/${20 * KIB}?seed=${i}&chunks=4&delayMs=5`),
        success(res) {
          delivered++
          if (!existsSync(host.realPath(res.tempFilePath))) missingAtDelivery++
          if (tempBytes(dataDir) > tempQuota) overQuota++
        },
        fail(err) {
          // With 16 x 20 KiB running against 100 KiB, some downloads must give way (121507).
          if (err.errMsg !== 'downloadFile:fail temp quota exceeded') unexpected.push(err.errMsg)
        },
        complete: () => resolve(),
      })
    })
  for (let round = 0; round < 4; round++) await Promise.all(Array.from({ length: 16 }, (_, i) => one(round * 16 + i)))
  t.deepEqual(unexpected, [])
  t.is(missingAtDelivery, 0, 'no file was evicted before its success was delivered')
  t.is(overQuota, 0, 'temp/ stayed within tempQuota at every delivered success')
  t.true(tempBytes(dataDir) <= tempQuota)
  const stats = host.stats()
  t.true(stats.tempEvicted > 0, 'files were evicted to make room')
  t.true(delivered > 16, 'most downloads were stored')
  t.is(delivered + (stats.failedByErrNo[121507] ?? 0), 64)
  t.is(host.usage().temp, tempBytes(dataDir))
})

test('eviction takes the oldest file first (by modification time) and counts a file already gone as freed', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host, dataDir } = await makeHost(t, { maxFileSize: 30 * KIB, tempQuota: 30 * KIB })
  const first = await host.download({ url: server.url(`/bytes/${10 * KIB}?seed=1`) })
  const second = await host.download({ url: server.url(`/bytes/${10 * KIB}?seed=2`) })
  const third = await host.download({ url: server.url(`/bytes/${10 * KIB}?seed=3`) })
  // The second is made the oldest; the third is removed behind the host's back.
  await utimes(host.realPath(second.tempFilePath!), new Date(2000, 0, 1), new Date(2000, 0, 1))
  await host.refreshUsage()
  await unlink(host.realPath(third.tempFilePath!))
  await host.download({ url: server.url(`/bytes/${10 * KIB}?seed=4`) })
  const left = await listFiles(join(dataDir, 'temp'))
  t.false(left.includes(second.tempFilePath!.slice('ttfile://temp/'.length)), 'the oldest went first')
  t.true(left.includes(first.tempFilePath!.slice('ttfile://temp/'.length)))
  t.is(left.length, 2)
})

test('a download whose running reservations alone pass tempQuota fails with 121507 and stores nothing', async (t) => {
  const server = closeAfter(t, await startContentServer())
  // Some bytes arrive, then the body stalls: that download holds part of the 60 KiB, so
  // another of the whole 60 KiB cannot fit beside it, whatever the split.
  const stall = closeAfter(t, await startStallServer({ contentLength: 60 * KIB, sendBytes: 40 * KIB }))
  const { host, dataDir } = await makeHost(t, { maxFileSize: 60 * KIB, tempQuota: 60 * KIB })
  let holding!: () => void
  const held = new Promise<void>((resolve) => (holding = resolve))
  const stalled = host.download({
    url: stall.url('/stall'),
    onProgress: ({ totalBytesWritten }) => {
      if (totalBytesWritten > 0) holding()
    },
  })
  await held
  const error = await t.throwsAsync(host.download({ url: server.url(`/bytes/${60 * KIB}`) }), { instanceOf: DownloadError })
  t.is(error?.errNo, 121507)
  t.is(error?.errMsg, 'downloadFile:fail temp quota exceeded')
  host.setNetworkAvailable(false)
  await t.throwsAsync(stalled, { instanceOf: DownloadError })
  t.deepEqual(await listFiles(join(dataDir, 'temp')), [])
})

test('clearTemp() removes every stored temp file; usage() and refreshUsage() follow files written and removed by hand', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host, dataDir } = await makeHost(t)
  t.deepEqual(host.usage(), { user: 0, temp: 0 })
  await host.download({ url: server.url('/bytes/1000') })
  await host.download({ url: server.url('/bytes/500'), filePath: 'ttfile://user/a.bin' })
  t.deepEqual(host.usage(), { user: 500, temp: 1000 })
  await writeFile(join(dataDir, 'user', 'saved.bin'), Buffer.alloc(300))
  await writeFile(join(dataDir, 'temp', 'made-by-host.bin'), Buffer.alloc(200))
  t.deepEqual(host.usage(), { user: 500, temp: 1000 }, 'not measured until asked')
  t.deepEqual(await host.refreshUsage('ttfile://user'), { user: 800, temp: 1000 })
  t.deepEqual(await host.refreshUsage(), { user: 800, temp: 1200 })
  await unlink(join(dataDir, 'user', 'a.bin'))
  t.deepEqual(await host.refreshUsage('ttfile://user/a.bin'), { user: 300, temp: 1200 })
  await host.clearTemp()
  t.deepEqual(await listFiles(join(dataDir, 'temp')), [])
  t.is(host.usage().temp, 0)
})

test('host.cookies is the jar downloads use: a cookie stored through it reaches the server, one a download got is readable', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host, dataDir } = await makeHost(t, COOKIES_ON)
  const origin = server.url('/')
  host.cookies.store(origin, ['login=abc; Path=/; Max-Age=3600', 'broken'])
  await host.download({ url: server.url('/bytes/1') })
  t.is(server.requestsTo('/bytes').at(-1)?.headers.cookie, 'login=abc')
  await host.download({ url: server.url('/response-headers?set-cookie=' + encodeURIComponent('theme=dark; Path=/')) })
  t.deepEqual(host.cookies.header(origin).split('; ').sort(), ['login=abc', 'theme=dark'])
  const file = join(dataDir, '.tt-download', 'cookies.json')
  t.is((await stat(file)).mode & 0o777, 0o600, 'persistent cookies are readable by the process user only')
  t.is((await stat(join(dataDir, '.tt-download'))).mode & 0o777, 0o700)
  host.cookies.clear()
  t.is(host.cookies.header(origin), '')
  t.throws(() => host.cookies.header('ftp://x/'), { instanceOf: TypeError })
  t.throws(() => host.cookies.store(origin, 'a=1' as unknown as string[]), { instanceOf: TypeError })
})

test('with the cookie store off, host.cookies stores nothing and sends nothing', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host } = await makeHost(t)
  host.cookies.store(server.url('/'), ['a=1; Path=/'])
  t.is(host.cookies.header(server.url('/')), '')
  await host.download({ url: server.url('/bytes/1') })
  t.is(server.requestsTo('/bytes').at(-1)?.headers.cookie, undefined)
})

test('stats() counts a known mix of outcomes; started = queued + running + succeeded + failed at every moment', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host } = await makeHost(t, { maxConcurrent: 1 })
  const running = host.download({ url: server.url('/slow/100?delayMs=200') })
  const queued = host.download({ url: server.url('/bytes/10') })
  const invalid = host.download({ url: 'ftp://x/' }).catch(() => undefined)
  const refused = host.download({ url: 'http://127.0.0.1:9/' }).catch(() => undefined)
  const early = host.stats()
  t.is(early.started, 4)
  t.is(early.started, early.queued + early.running + early.succeeded + early.failed)
  t.is(early.failed, 1, 'the validation failure counts at once')
  await Promise.all([running, queued, invalid, refused])
  const end = host.stats()
  t.like(end, { started: 4, queued: 0, running: 0, succeeded: 2, failed: 2, bytesReceived: 110 })
  t.deepEqual(end.failedByErrNo, { 121599: 1, 121526: 1 })
  await host.close()
  t.throws(() => host.stats(), { instanceOf: DownloadError, message: 'downloadFile:fail download file abort' })
  await t.throwsAsync(host.refreshUsage(), { instanceOf: DownloadError })
})

test('egressRefused counts refusals; engine.stats() counts hosts and the connections held', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const engine = createEngine()
  t.teardown(() => engine.close())
  const open = await makeHost(t, { engine })
  const strict = await makeHost(t, { engine, egress: {} })
  await strict.host.download({ url: server.url('/bytes/1') }).catch(() => undefined)
  t.is(strict.host.stats().egressRefused, 1)
  await open.host.download({ url: server.url('/bytes/1') })
  const stats = engine.stats()
  t.is(stats.hosts, 2)
  t.is(stats.connections.open, 1, 'the keep-alive connection is pooled')
  t.is(stats.connections.idle, 1)
  t.is(stats.connections.h2, 0)
  await strict.host.close()
  t.is(engine.stats().hosts, 1)
})

test('an announced length that never comes evicts nothing: temp/ reserves only bytes that arrived', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const short = closeAfter(t, await startShortBodyServer({ contentLength: 25 * KIB, sendBytes: 1000 }))
  const { host, dataDir } = await makeHost(t, { maxFileSize: 30 * KIB, tempQuota: 30 * KIB })
  await host.download({ url: server.url(`/bytes/${10 * KIB}?seed=1`) })
  await host.download({ url: server.url(`/bytes/${10 * KIB}?seed=2`) })
  const error = await t.throwsAsync(host.download({ url: short.url('/short') }), { instanceOf: DownloadError })
  t.is(error?.errNo, 121527)
  t.is((await listFiles(join(dataDir, 'temp'))).length, 2, 'both delivered files are still there')
  t.is(host.stats().tempEvicted, 0)
})

test("stats(): options whose getters throw are a counted parameter failure, and an aborted download's bytes count", async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host } = await makeHost(t)
  const hostile = {
    url: server.url('/bytes/1'),
    get header(): Record<string, string> {
      throw new Error('no headers for you')
    },
  }
  const error = await t.throwsAsync(host.download(hostile), { instanceOf: DownloadError })
  t.is(error?.errNo, 121599)
  let firstChunk!: () => void
  const arrived = new Promise<void>((resolve) => (firstChunk = resolve))
  const aborting = host.download({ url: server.url('/slow/4000?chunks=2&delayMs=200'), onProgress: () => firstChunk() })
  await arrived
  let aborted = false
  host.setNetworkAvailable(false)
  await aborting.catch(() => (aborted = true))
  t.true(aborted)
  const stats = host.stats()
  t.like(stats, { started: 2, succeeded: 0, failed: 2 })
  t.is(stats.started, stats.queued + stats.running + stats.succeeded + stats.failed)
  t.is(stats.bytesReceived, 2000, 'the first chunk that arrived before the stop')
})
