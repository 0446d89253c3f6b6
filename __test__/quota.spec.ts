// The user-directory quota (SPEC sections 2, 7 and 10, issue 4): `userDataQuota` bounds the
// bytes of all files under ttfile://user. It is measured from disk at host start and kept
// current; a file a download replaces counts as free; concurrent downloads reserve space, so
// the quota holds under concurrency; the body stops as soon as it would pass the limit.
// temp/ is not counted. (The plain 121530 row is in errors.spec.ts.)
import test from 'ava'
import type { ExecutionContext } from 'ava'
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { assertFailedRun, assertNoLeftovers, assertSucceededRun } from './helpers/assert.js'
import { patternBytes } from './helpers/bytes.js'
import { startContentServer } from './helpers/content-server.js'
import type { ContentServer } from './helpers/content-server.js'
import { makeTmpDir, sandboxFiles, stagingFiles } from './helpers/fs.js'
import { makeHost } from './helpers/hosts.js'
import type { TestHost } from './helpers/hosts.js'
import { record } from './helpers/record.js'
import type { Run } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'
import { startResetMidBodyServer } from './helpers/raw-servers.js'
import { startTlsServer } from './helpers/tls.js'

const QUOTA = [121530, 'user dir saved file size limit exceeded', 'D'] as const
const LIMIT = 10_000

/** Runs one download to completion. */
async function download(host: TestHost['host'], url: string, filePath?: string): Promise<Run> {
  const run = record(host, filePath === undefined ? { url } : { url, filePath })
  return run.done
}

/** A download that must be stored: asserts success and the bytes of `/bytes/<n>?seed=<seed>`. */
async function expectStored(
  t: ExecutionContext,
  { host }: TestHost,
  server: ContentServer,
  n: number,
  filePath: string,
  seed = 1,
): Promise<void> {
  const run = await download(host, server.url(`/bytes/${n}?seed=${seed}`), filePath)
  assertSucceededRun(t, run)
  t.deepEqual(await readFile(host.realPath(filePath)), patternBytes(n, seed), `${filePath} holds ${n} bytes`)
}

/** A download that must fail with 121530 and leave nothing behind. */
async function expectQuota(
  t: ExecutionContext,
  { host, dataDir }: TestHost,
  server: ContentServer,
  n: number,
  filePath: string,
): Promise<void> {
  const run = await download(host, server.url(`/bytes/${n}?seed=99`), filePath)
  assertFailedRun(t, run, ...QUOTA)
  t.deepEqual(await stagingFiles(dataDir), [], 'staging is empty')
}

/** A dataDir with files written before any host starts on it. */
async function preparedDataDir(t: ExecutionContext, files: Record<string, number>): Promise<string> {
  const tmp = await makeTmpDir()
  t.teardown(() => tmp.cleanup())
  for (const [path, size] of Object.entries(files)) {
    const abs = join(tmp.dir, path)
    await mkdir(join(abs, '..'), { recursive: true })
    await writeFile(abs, patternBytes(size, 5))
  }
  return tmp.dir
}

// ---------------------------------------------------------------------------------------------
// Stopping early

test('a Content-Length over the quota fails with 121530 when the head arrives, before any body byte is stored', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t, { userDataQuota: LIMIT })
  // The head now, the body only after 3 s: the fail must not wait for it.
  const run = await download(h.host, server.url(`/slow/${LIMIT + 1}?delayMs=3000&chunks=1`), 'ttfile://user/big.bin')
  assertFailedRun(t, run, ...QUOTA)
  t.true(run.completedAt! - run.startedAt < 2000, `failed after ${run.completedAt! - run.startedAt} ms`)
  t.deepEqual(
    run.events.map((e) => e.type),
    ['headers', 'fail', 'complete'],
    'onHeadersReceived precedes the quota check; no progress',
  )
  await assertNoLeftovers(t, h.dataDir)
})

for (const mode of ['http', 'h2'] as const) {
  test(`a body without Content-Length over ${mode} is stopped as soon as it passes the quota: 121530, no file`, async (t) => {
    const server = closeAfter(t, mode === 'http' ? await startContentServer() : await startTlsServer('h2'))
    const h = await makeHost(t, { userDataQuota: LIMIT })
    // 100 pieces of 4000 bytes, 20 ms apart (2 s in all); the third piece passes the quota.
    const run = await download(h.host, server.url('/slow/400000?length=0&chunks=100&delayMs=20'), 'ttfile://user/big.bin')
    assertFailedRun(t, run, ...QUOTA)
    const elapsed = run.completedAt! - run.startedAt
    t.true(elapsed < 1500, `stopped after ${elapsed} ms, not at the end of the body`)
    for (const e of run.events) {
      if (e.type === 'progress') t.true(e.totalBytesWritten <= LIMIT, `progress reported ${e.totalBytesWritten} bytes`)
    }
    await assertNoLeftovers(t, h.dataDir)
  })
}

// ---------------------------------------------------------------------------------------------
// Concurrency

const concurrentCases = [
  { name: 'with Content-Length', path: (seed: number) => `/slow/6000?delayMs=100&chunks=3&seed=${seed}` },
  { name: 'without Content-Length', path: (seed: number) => `/slow/6000?length=0&delayMs=50&chunks=6&seed=${seed}` },
]

for (const { name, path } of concurrentCases) {
  test(`two concurrent downloads ${name} that each fit alone but not together: exactly one 121530, the other stored`, async (t) => {
    const server = closeAfter(t, await startContentServer())
    const h = await makeHost(t, { userDataQuota: LIMIT })
    const runs = [
      record(h.host, { url: server.url(path(1)), filePath: 'ttfile://user/one.bin' }),
      record(h.host, { url: server.url(path(2)), filePath: 'ttfile://user/two.bin' }),
    ]
    await Promise.all(runs.map((r) => r.done))
    // Both were in flight together: each sent its head before either ended.
    t.is(server.requests.length, 2)
    const stored = runs.filter((r) => r.success !== undefined)
    const failed = runs.filter((r) => r.fail !== undefined)
    t.is(stored.length, 1, 'exactly one stored')
    t.is(failed.length, 1, 'exactly one failed')
    assertFailedRun(t, failed[0]!, ...QUOTA)
    const winner = assertSucceededRun(t, stored[0]!)
    const seed = winner.filePath === 'ttfile://user/one.bin' ? 1 : 2
    t.deepEqual(await readFile(h.host.realPath(winner.filePath!)), patternBytes(6000, seed))
    await assertNoLeftovers(t, h.dataDir, [winner.filePath!.replace('ttfile://', '')])
    // The loser's reservation was given back: exactly what is left still fits.
    await expectQuota(t, h, server, 4001, 'ttfile://user/three.bin')
    await expectStored(t, h, server, 4000, 'ttfile://user/three.bin')
  })
}

test('five concurrent downloads with Content-Length of which three fit: exactly three stored, two 121530', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t, { userDataQuota: 9000 })
  const runs = [0, 1, 2, 3, 4].map((i) =>
    record(h.host, { url: server.url(`/slow/3000?delayMs=100&chunks=3&seed=${i}`), filePath: `ttfile://user/f${i}.bin` }),
  )
  await Promise.all(runs.map((r) => r.done))
  const stored = runs.filter((r) => r.success !== undefined)
  t.is(stored.length, 3)
  for (const run of runs.filter((r) => r.fail !== undefined)) assertFailedRun(t, run, ...QUOTA)
  t.deepEqual(await stagingFiles(h.dataDir), [])
  t.is((await sandboxFiles(h.dataDir)).length, 3)
})

test('many concurrent downloads without Content-Length never store more than the quota together', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t, { userDataQuota: LIMIT })
  const runs = Array.from({ length: 8 }, (_, i) =>
    record(h.host, { url: server.url(`/slow/3000?length=0&delayMs=30&chunks=6&seed=${i}`), filePath: `ttfile://user/f${i}.bin` }),
  )
  await Promise.all(runs.map((r) => r.done))
  const stored = runs.filter((r) => r.success !== undefined)
  for (const run of runs.filter((r) => r.fail !== undefined)) assertFailedRun(t, run, ...QUOTA)
  t.true(stored.length >= 1 && stored.length <= 3, `${stored.length} stored`)
  t.true(stored.length * 3000 <= LIMIT)
  t.is((await sandboxFiles(h.dataDir)).length, stored.length, 'only the stored files exist')
  t.deepEqual(await stagingFiles(h.dataDir), [])
  // Whatever the race left, the ledger matches the disk.
  const free = LIMIT - stored.length * 3000
  await expectQuota(t, h, server, free + 1, 'ttfile://user/last.bin')
  await expectStored(t, h, server, free, 'ttfile://user/last.bin')
})

// ---------------------------------------------------------------------------------------------
// What counts

test('replacing a file in user/ counts only the new size (SPEC 10), growing or shrinking it', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const dataDir = await preparedDataDir(t, { 'user/big.bin': 8000 })
  const h = await makeHost(t, { dataDir, userDataQuota: LIMIT })
  // 8000 + 9000 would not fit; the 8000 it replaces is free.
  await expectStored(t, h, server, 9000, 'ttfile://user/big.bin', 2)
  // Usage is now 9000.
  await expectQuota(t, h, server, 1001, 'ttfile://user/other.bin')
  // A replacement over the quota by itself fails and leaves the old file as it was.
  await expectQuota(t, h, server, LIMIT + 1, 'ttfile://user/big.bin')
  t.deepEqual(await readFile(h.host.realPath('ttfile://user/big.bin')), patternBytes(9000, 2))
  // Shrinking it frees the difference.
  await expectStored(t, h, server, 2000, 'ttfile://user/big.bin', 3)
  await expectStored(t, h, server, 8000, 'ttfile://user/other.bin', 4)
  await expectQuota(t, h, server, 1, 'ttfile://user/one-more.bin')
  await assertNoLeftovers(t, dataDir, ['user/big.bin', 'user/other.bin'])
})

test('usage is measured from disk at host start: nested files count, temp/ files and symlinks do not', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const outside = await makeTmpDir('tt-download-outside-')
  t.teardown(() => outside.cleanup())
  await writeFile(join(outside.dir, 'huge.bin'), patternBytes(50_000))
  const dataDir = await preparedDataDir(t, {
    'user/a.bin': 4000,
    'user/sub/deep/b.bin': 3000,
    'user/.hidden': 1000,
    'temp/t.bin': 50_000,
  })
  await symlink(join(outside.dir, 'huge.bin'), join(dataDir, 'user', 'link'))
  const h = await makeHost(t, { dataDir, userDataQuota: LIMIT })
  // 8000 used: 2001 does not fit, 2000 does, exactly up to the limit.
  await expectQuota(t, h, server, 2001, 'ttfile://user/c.bin')
  await expectStored(t, h, server, 2000, 'ttfile://user/c.bin')
  await expectQuota(t, h, server, 1, 'ttfile://user/d.bin')
})

test('a host started later on the same dataDir measures what earlier hosts stored', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const tmp = await makeTmpDir()
  t.teardown(() => tmp.cleanup())
  const first = await makeHost(t, { dataDir: tmp.dir, userDataQuota: LIMIT })
  await expectStored(t, first, server, 7000, 'ttfile://user/a.bin')
  await first.host.close()
  const second = await makeHost(t, { dataDir: tmp.dir, userDataQuota: LIMIT })
  await expectQuota(t, second, server, 3001, 'ttfile://user/b.bin')
  await expectStored(t, second, server, 3000, 'ttfile://user/b.bin')
})

test('downloads into temp/ do not count toward the quota, even when user/ is full', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t, { userDataQuota: 1000 })
  await expectStored(t, h, server, 1000, 'ttfile://user/full.bin')
  await expectQuota(t, h, server, 1, 'ttfile://user/more.bin')
  const generated = await download(h.host, server.url('/bytes/50000'))
  t.regex(assertSucceededRun(t, generated).tempFilePath!, /^ttfile:\/\/temp\//)
  // temp/ took nothing from user/: still exactly full, not over.
  await expectStored(t, h, server, 1000, 'ttfile://user/full.bin', 2)
})

test('usage is kept current: a stored file counts at once, a failed or aborted download gives its reservation back', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const reset = closeAfter(t, await startResetMidBodyServer({ contentLength: 4000, sendBytes: 1000 }))
  const h = await makeHost(t, { userDataQuota: LIMIT })
  await expectStored(t, h, server, 6000, 'ttfile://user/a.bin')
  await expectQuota(t, h, server, 5000, 'ttfile://user/b.bin')
  // Reset mid-body after reserving the 4000 still free: 121527, and the 4000 come back.
  const broken = await download(h.host, reset.url('/x'), 'ttfile://user/c.bin')
  assertFailedRun(t, broken, 121527, 'interrupted', 'U')
  // Aborted with its Content-Length (the same 4000) reserved: given back too.
  const aborted = record(
    h.host,
    { url: server.url('/slow/4000?delayMs=2000&chunks=1'), filePath: 'ttfile://user/d.bin' },
    { onHeaders: (run) => run.task.abort() },
  )
  await aborted.done
  assertFailedRun(t, aborted, 121522, 'download file abort', 'U')
  await expectStored(t, h, server, 4000, 'ttfile://user/e.bin')
  await expectQuota(t, h, server, 1, 'ttfile://user/f.bin')
  await assertNoLeftovers(t, h.dataDir, ['user/a.bin', 'user/e.bin'])
})

test('a quota of 0 refuses every byte in user/ but stores an empty body', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t, { userDataQuota: 0 })
  await expectQuota(t, h, server, 1, 'ttfile://user/one.bin')
  const run = await download(h.host, server.url('/chunked/1'), 'ttfile://user/one.bin')
  assertFailedRun(t, run, ...QUOTA)
  await expectStored(t, h, server, 0, 'ttfile://user/empty.bin')
  await assertNoLeftovers(t, h.dataDir, ['user/empty.bin'])
})

// Known engine bug (reported): the engine measures the replaced file with `metadata`, which
// follows symlinks, so replacing a link counts the size of the file it points to as freed.
test('replacing a symlink in user/ frees nothing: the link is not a file of the app', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const dataDir = await preparedDataDir(t, { 'user/big.bin': 900 })
  await symlink('big.bin', join(dataDir, 'user', 'link'))
  const h = await makeHost(t, { dataDir, userDataQuota: 1000 })
  // 900 used; the link replaced by 900 new bytes would make 1800.
  const run = await download(h.host, server.url('/bytes/900'), 'ttfile://user/link')
  assertFailedRun(t, run, ...QUOTA)
})
