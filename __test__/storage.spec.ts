// Storage (SPEC sections 2, 3 and 6, issue 4): bytes go to a staging file in
// `<dataDir>/.tt-download/staging/` named for the owning process, then are renamed onto the
// target; an existing file survives every failure and is replaced atomically on success; a
// host start removes only staging leftovers of processes that are gone; `fsync: true` works.
// The sdkVersion gate on `filePath` is pinned in version-gates.spec.ts.
import test from 'ava'
import type { ExecutionContext } from 'ava'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { closeSync, openSync, readSync, statSync } from 'node:fs'
import { readFile, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { assertNoLeftovers, assertSucceededRun, TEMP_PATH } from './helpers/assert.js'
import { patternBytes } from './helpers/bytes.js'
import { HOST_CHILD, ROOT } from './helpers/child.js'
import type { ChildPlan } from './helpers/child.js'
import { startContentServer } from './helpers/content-server.js'
import { listFiles, makeTmpDir, sandboxFiles, stagingFiles } from './helpers/fs.js'
import { makeHost } from './helpers/hosts.js'
import { record } from './helpers/record.js'
import type { DownloadOptions } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'
import { startResetMidBodyServer, startShortBodyServer, startStallServer } from './helpers/raw-servers.js'
import { startTlsServer } from './helpers/tls.js'

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `probe` every 20 ms until it returns a value, or throws after `timeoutMs`. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await settle(20)
  }
}

/** A child process, SIGKILLed in the test's teardown if still running; `exited` settles on exit. */
function spawnBounded(t: ExecutionContext, args: string[]): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  child.stdout?.resume()
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
    if (stderr !== '') t.log(`child stderr: ${stderr.slice(0, 2000)}`)
  })
  return { child, exited }
}

// ---------------------------------------------------------------------------------------------
// Staging leftovers

test('a host killed mid-download leaves its staging file; the next host start removes it, but never one of a live process', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const tmp = await makeTmpDir()
  t.teardown(() => tmp.cleanup())
  const dataDir = tmp.dir
  const staging = join(dataDir, '.tt-download', 'staging')

  // A child host downloads 10 s of body from this process's server.
  const plan: ChildPlan = {
    config: { dataDir },
    downloads: [{ url: server.url('/slow/200000?chunks=100&delayMs=100'), filePath: 'ttfile://user/big.bin' }],
  }
  const { child, exited } = spawnBounded(t, ['--import', 'tsx', HOST_CHILD, JSON.stringify(plan)])
  const pid = child.pid!
  const leftover = await waitFor("the child's staging file", async () => {
    const names = await listFiles(staging)
    return names.find((name) => name.startsWith(`${pid}-`))
  })
  t.regex(leftover, new RegExp(`^${pid}-[0-9a-f]{8}-.+\\.part$`), 'named for the owning process')
  child.kill('SIGKILL')
  await exited
  t.is(child.signalCode, 'SIGKILL')
  t.is(server.requestsTo('/slow').length, 1)
  t.deepEqual(await stagingFiles(dataDir), [leftover], 'the dead process left its staging file')
  t.deepEqual(await sandboxFiles(dataDir), [], 'and no partial file at filePath')

  // Staging files of live processes: this one, and a sleeping child standing for another host.
  const sleeper = spawnBounded(t, ['-e', 'setTimeout(() => {}, 60000)'])
  const sleeperPid = sleeper.child.pid!
  const mine = `${process.pid}-deadbeef-0-0.part`
  const theirs = `${sleeperPid}-cafebabe-0-0.part`
  const alsoDead = `${pid}-feedface-1-0.part`
  for (const name of [mine, theirs, alsoDead]) await writeFile(join(staging, name), 'in flight')

  const next = await makeHost(t, { dataDir })
  t.deepEqual(await stagingFiles(dataDir), [mine, theirs].sort(), "only the dead process's files were removed")
  // Closing a host removes its own staging files only, not another host's of the same process.
  await next.host.close()
  t.deepEqual(await stagingFiles(dataDir), [mine, theirs].sort())

  // Once the other process is gone, the next host start removes its file too.
  sleeper.child.kill('SIGKILL')
  await sleeper.exited
  await makeHost(t, { dataDir })
  t.deepEqual(await stagingFiles(dataDir), [mine], "this (live) process's file is kept")
})

test('while a download runs, its bytes live only in .tt-download/staging/, on the same file system, named for this process', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host, dataDir } = await makeHost(t)
  const filePath = 'ttfile://user/slow.bin'
  const run = record(host, { url: server.url('/slow/60000?chunks=6&delayMs=150&seed=8'), filePath })
  const name = await waitFor('a staging file', async () => (await stagingFiles(dataDir))[0])
  t.regex(name, new RegExp(`^${process.pid}-[0-9a-f]{8}-.+\\.part$`))
  t.deepEqual(await sandboxFiles(dataDir), [], 'nothing at filePath while the body arrives')
  const stagingDev = statSync(join(dataDir, '.tt-download', 'staging', name)).dev
  t.is(stagingDev, statSync(join(dataDir, 'user')).dev, 'staging shares the file system of user/')
  await run.done
  assertSucceededRun(t, run)
  t.deepEqual(await readFile(host.realPath(filePath)), patternBytes(60000, 8))
  await assertNoLeftovers(t, dataDir, ['user/slow.bin'])
})

// ---------------------------------------------------------------------------------------------
// An existing file at filePath

const OLD = 'the previous version of this file, which must survive'
const OLD_TIME = new Date('2020-01-02T03:04:05Z')

test('an existing file at filePath survives every failure untouched: same bytes, inode and mtime', async (t) => {
  const content = closeAfter(t, await startContentServer())
  const reset = closeAfter(t, await startResetMidBodyServer({ contentLength: 20_000, sendBytes: 5000 }))
  const short = closeAfter(t, await startShortBodyServer({ contentLength: 20_000, sendBytes: 5000 }))
  const stall = closeAfter(t, await startStallServer({ contentLength: 20_000, sendBytes: 5000 }))
  const h = await makeHost(t, { maxFileSize: 50_000, userDataQuota: 45_000 })
  const filePath = 'ttfile://user/keep.bin'
  const path = h.host.realPath(filePath)
  await writeFile(path, OLD)
  await utimes(path, OLD_TIME, OLD_TIME)
  const before = statSync(path)

  type Case = [what: string, options: Omit<DownloadOptions, 'filePath'>, errNo: number, abortOnProgress?: boolean]
  const cases: Case[] = [
    ['abort mid-body', { url: content.url('/slow/20000?chunks=20&delayMs=100') }, 121522, true],
    ['reset mid-body', { url: reset.url('/x') }, 121527],
    ['body shorter than Content-Length', { url: short.url('/x') }, 121527],
    ['stall past the timeout', { url: stall.url('/x'), timeout: 500 }, 121520],
    ['Content-Length over maxFileSize', { url: content.url('/bytes/50001') }, 121521],
    ['chunked body over maxFileSize', { url: content.url('/chunked/60000') }, 121521],
    ['over the user quota', { url: content.url('/chunked/48000') }, 121530],
  ]
  for (const [what, options, errNo, abortOnProgress] of cases) {
    const run = record(
      h.host,
      { ...options, filePath },
      {
        onProgress: (r, event) => {
          if (abortOnProgress && event.totalBytesWritten > 0) r.task.abort()
        },
      },
    )
    await run.done
    t.is(run.fail?.errNo, errNo, `${what}: ${JSON.stringify(run.fail ?? run.success)}`)
    const after = statSync(path)
    t.is(await readFile(path, 'utf8'), OLD, `${what}: bytes`)
    t.is(after.ino, before.ino, `${what}: inode`)
    t.is(after.mtimeMs, before.mtimeMs, `${what}: mtime`)
    t.deepEqual(await stagingFiles(h.dataDir), [], `${what}: staging`)
  }
  await assertNoLeftovers(t, h.dataDir, ['user/keep.bin'])
})

test('an existing file is replaced atomically on success: the path shows the old bytes until the new ones, never a mix', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host, dataDir } = await makeHost(t)
  const filePath = 'ttfile://user/doc.bin'
  const path = host.realPath(filePath)
  await writeFile(path, OLD)
  const before = statSync(path)
  const held = openSync(path, 'r')
  t.teardown(() => closeSync(held))
  const run = record(host, { url: server.url('/slow/80000?chunks=8&delayMs=100&seed=6'), filePath })
  // While the body arrives the path keeps the old file, whole; then the new one, whole.
  let oldReads = 0
  let mixed = 0
  while (run.completedAt === undefined) {
    const bytes = await readFile(path)
    if (bytes.equals(Buffer.from(OLD))) oldReads++
    else if (!bytes.equals(patternBytes(80000, 6))) mixed++
    await settle(25)
  }
  t.is(mixed, 0, 'no read saw anything but one whole version')
  t.true(oldReads > 5, `the old file stayed in place while the body arrived (${oldReads} reads)`)
  await run.done
  assertSucceededRun(t, run)
  t.deepEqual(await readFile(path), patternBytes(80000, 6))
  t.not(statSync(path).ino, before.ino, 'a new file took the name (rename), the old one was not rewritten')
  const buffer = Buffer.alloc(OLD.length + 10)
  const n = readSync(held, buffer, 0, buffer.length, 0)
  t.is(buffer.subarray(0, n).toString(), OLD, 'a reader holding the old file still reads it whole')
  await assertNoLeftovers(t, dataDir, ['user/doc.bin'])
})

// ---------------------------------------------------------------------------------------------
// fsync

test('HostConfig.fsync: true stores new files, replaces existing ones and names temp files as usual', async (t) => {
  const http = closeAfter(t, await startContentServer())
  const h2 = closeAfter(t, await startTlsServer('h2'))
  const { host, dataDir } = await makeHost(t, { fsync: true })
  await writeFile(host.realPath('ttfile://user/old.bin'), OLD)
  const cases: [url: string, filePath: string | undefined, n: number, seed: number][] = [
    [http.url('/bytes/300000?seed=2'), 'ttfile://user/new.bin', 300_000, 2],
    [h2.url('/chunked/70000?seed=3'), 'ttfile://user/old.bin', 70_000, 3],
    [http.url('/bytes/0'), 'ttfile://user/empty.bin', 0, 1],
    [h2.url('/bytes/5000?seed=4'), undefined, 5000, 4],
  ]
  const kept: string[] = []
  for (const [url, filePath, n, seed] of cases) {
    const run = record(host, filePath === undefined ? { url } : { url, filePath })
    await run.done
    const res = assertSucceededRun(t, run)
    const stored = filePath ?? res.tempFilePath!
    if (filePath === undefined) t.regex(stored, TEMP_PATH)
    t.is(res.dataLength, n)
    t.deepEqual(await readFile(host.realPath(stored)), patternBytes(n, seed), stored)
    kept.push(stored.replace('ttfile://', ''))
  }
  await assertNoLeftovers(t, dataDir, [...new Set(kept)])
})
