// Host state (SPEC 2 and 10, issue 6): setNetworkAvailable, notifyNetworkChange, setBackground
// with backgroundGraceMs, and close(), each against running, queued and new downloads, with
// the server telling which requests it saw; no callback is ever called from inside these
// calls; an idle host does not keep the process alive. Release-mode hosts against the TLS
// hold server; `maxConcurrent: 1` makes the second download a queued one.
import test from 'ava'
import type { ExecutionContext } from 'ava'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Host } from '../src/index.js'
import { assertFailedRun, assertSucceededRun } from './helpers/assert.js'
import { ROOT } from './helpers/child.js'
import { startContentServer } from './helpers/content-server.js'
import { makeTmpDir, stagingFiles } from './helpers/fs.js'
import { releaseHost } from './helpers/hosts.js'
import { record } from './helpers/record.js'
import type { Run } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'
import { sleep, startHoldServer, waitFor } from './helpers/policy-servers.js'
import type { HoldServer } from './helpers/policy-servers.js'

/** Calls `fn` and asserts that none of `runs` got a callback or listener call during it. */
function callQuietly(t: ExecutionContext, runs: Run[], what: string, fn: () => unknown): void {
  const before = runs.map((run) => run.events.length)
  fn()
  t.deepEqual(
    runs.map((run) => run.events.length),
    before,
    `${what} calls nothing synchronously`,
  )
}

/** A running download (held by the server for 5 s) and a queued one behind it. */
async function runningAndQueued(host: Host, server: HoldServer): Promise<[Run, Run]> {
  const running = record(host, { url: server.url('/hold/running?ms=5000') })
  const queued = record(host, { url: server.url('/hold/queued?ms=10') })
  await waitFor(() => server.arrivals.length === 1, 'the running download to reach the server')
  return [running, queued]
}

const NETWORK_UNAVAILABLE = [121585, 'network unavailable', 'U'] as const
const NETWORK_CHANGED = [121523, 'network changed', 'U'] as const
const BACKGROUND = [121594, 'app in background', 'U'] as const
const ABORT = [121522, 'download file abort', 'U'] as const

test.serial('setNetworkAvailable(false) fails running, queued and new downloads with 121585; true restores', async (t) => {
  const server = closeAfter(t, await startHoldServer())
  const { host } = await releaseHost(t, { domains: [server.url('')], maxConcurrent: 1 })
  const [running, queued] = await runningAndQueued(host, server)
  callQuietly(t, [running, queued], 'setNetworkAvailable(false)', () => host.setNetworkAvailable(false))
  await Promise.all([running.done, queued.done])
  assertFailedRun(t, running, ...NETWORK_UNAVAILABLE)
  assertFailedRun(t, queued, ...NETWORK_UNAVAILABLE)
  const fresh = record(host, { url: server.url('/hold/fresh?ms=10') })
  await fresh.done
  assertFailedRun(t, fresh, ...NETWORK_UNAVAILABLE)
  t.deepEqual(server.paths(), ['/hold/running'], 'neither the queued nor the new download reached the server')

  host.setNetworkAvailable(true)
  const restored = record(host, { url: server.url('/hold/restored?ms=10') })
  await restored.done
  assertSucceededRun(t, restored)
  t.deepEqual(server.paths(), ['/hold/running', '/hold/restored'])
})

test.serial('notifyNetworkChange() fails only running downloads with 121523; queued ones start afterwards and succeed', async (t) => {
  const server = closeAfter(t, await startHoldServer())
  const { host } = await releaseHost(t, { domains: [server.url('')], maxConcurrent: 1 })
  const [running, queued] = await runningAndQueued(host, server)
  callQuietly(t, [running, queued], 'notifyNetworkChange()', () => host.notifyNetworkChange())
  await running.done
  assertFailedRun(t, running, ...NETWORK_CHANGED)
  await queued.done
  assertSucceededRun(t, queued)
  const later = record(host, { url: server.url('/hold/later?ms=10') })
  await later.done
  assertSucceededRun(t, later)
  t.deepEqual(server.paths(), ['/hold/running', '/hold/queued', '/hold/later'])
})

test.serial('setBackground(true) fails running, queued and new downloads with 121594 after backgroundGraceMs, not before', async (t) => {
  const graceMs = 300
  const server = closeAfter(t, await startHoldServer())
  const { host } = await releaseHost(t, { domains: [server.url('')], maxConcurrent: 1, backgroundGraceMs: graceMs })
  const [running, queued] = await runningAndQueued(host, server)
  const wentBackground = Date.now()
  callQuietly(t, [running, queued], 'setBackground(true)', () => host.setBackground(true))
  await sleep(graceMs / 2)
  t.is(running.complete, undefined, 'the running download still runs within the grace period')
  t.is(queued.complete, undefined, 'the queued download still waits within the grace period')
  await Promise.all([running.done, queued.done])
  assertFailedRun(t, running, ...BACKGROUND)
  assertFailedRun(t, queued, ...BACKGROUND)
  for (const run of [running, queued]) {
    const after = run.completedAt! - wentBackground
    t.true(after >= graceMs - 2, `failed ${after} ms after setBackground(true), grace ${graceMs} ms`)
  }
  const fresh = record(host, { url: server.url('/hold/fresh?ms=10') })
  await fresh.done
  assertFailedRun(t, fresh, ...BACKGROUND)
  t.deepEqual(server.paths(), ['/hold/running'], 'neither the queued nor the new download reached the server')

  host.setBackground(false)
  const foreground = record(host, { url: server.url('/hold/foreground?ms=10') })
  await foreground.done
  assertSucceededRun(t, foreground)
})

test.serial('a download started within the grace period runs normally', async (t) => {
  const server = closeAfter(t, await startHoldServer())
  const { host } = await releaseHost(t, { domains: [server.url('')], maxConcurrent: 1, backgroundGraceMs: 1500 })
  host.setBackground(true)
  const run = record(host, { url: server.url('/hold/within?ms=100') })
  await run.done
  assertSucceededRun(t, run)
})

test.serial('setBackground(false) before the grace period ends cancels it: downloads go on past it', async (t) => {
  const graceMs = 300
  const server = closeAfter(t, await startHoldServer())
  const { host } = await releaseHost(t, { domains: [server.url('')], maxConcurrent: 1, backgroundGraceMs: graceMs })
  const running = record(host, { url: server.url('/hold/running?ms=700') })
  const queued = record(host, { url: server.url('/hold/queued?ms=10') })
  await waitFor(() => server.arrivals.length === 1, 'the running download to reach the server')
  host.setBackground(true)
  await sleep(100)
  callQuietly(t, [running, queued], 'setBackground(false)', () => host.setBackground(false))
  await Promise.all([running.done, queued.done])
  assertSucceededRun(t, running)
  assertSucceededRun(t, queued)
  const fresh = record(host, { url: server.url('/hold/fresh?ms=10') })
  await fresh.done
  assertSucceededRun(t, fresh)
  t.deepEqual(server.paths(), ['/hold/running', '/hold/queued', '/hold/fresh'])
})

test.serial(
  'close() fails running and queued downloads with 121522, resolves with staging empty, and later downloads fail 121522',
  async (t) => {
    const server = closeAfter(t, await startHoldServer())
    const { host, dataDir } = await releaseHost(t, { domains: [server.url('')], maxConcurrent: 1 })
    const [running, queued] = await runningAndQueued(host, server)
    let closing!: Promise<void>
    callQuietly(t, [running, queued], 'close()', () => (closing = host.close()))
    await closing
    t.deepEqual(await stagingFiles(dataDir), [], 'staging is empty once close() resolved')
    await Promise.all([running.done, queued.done])
    assertFailedRun(t, running, ...ABORT)
    assertFailedRun(t, queued, ...ABORT)
    const later = record(host, { url: server.url('/hold/later?ms=10') })
    await later.done
    assertFailedRun(t, later, ...ABORT)
    await host.close()
    t.deepEqual(server.paths(), ['/hold/running'], 'neither the queued nor the later download reached the server')
  },
)

// ---------------------------------------------------------------------------------------------
// An idle host does not keep the process alive

interface ChildExit {
  code: number | null
  stdout: string
  stderr: string
  /** ms from the child's `DONE` line to its exit; undefined without one. */
  afterDone: number | undefined
  killed: boolean
}

/** Runs `code` as an ES module in `node --import tsx`, killed after `limitMs`. */
function runModule(t: ExecutionContext, code: string, env: Record<string, string>, limitMs: number): Promise<ChildExit> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let exited = false
  t.teardown(() => {
    if (!exited) child.kill('SIGKILL')
  })
  return new Promise((resolve, reject) => {
    let stdout = ''
    let stderr = ''
    let doneAt: number | undefined
    let killed = false
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      if (doneAt === undefined && stdout.includes('DONE')) doneAt = performance.now()
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => {
      killed = true
      child.kill('SIGKILL')
    }, limitMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code) => {
      exited = true
      clearTimeout(timer)
      resolve({ code, stdout, stderr, killed, afterDone: doneAt === undefined ? undefined : performance.now() - doneAt })
    })
  })
}

const INDEX_URL = pathToFileURL(join(ROOT, 'src', 'index.mts')).href

/** The child's prelude: a local http server answering 3 bytes, closed by `stopServer()`. */
const SERVER_PRELUDE = `
import * as http from 'node:http'
const { createHost, createEngine } = await import(${JSON.stringify(INDEX_URL)})
const server = http.createServer((req, res) => { res.writeHead(200, { 'content-length': 3 }); res.end('abc') })
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const url = 'http://127.0.0.1:' + server.address().port + '/x'
const dataDir = process.env.TT_DATA_DIR
const stopServer = () => { server.close(); server.closeAllConnections() }
`

const IDLE_CHILDREN: [string, string][] = [
  [
    'a host with its own engine, after one download',
    `${SERVER_PRELUDE}
const host = createHost({ appId: 'ttidle', env: 'test', dataDir: dataDir + '/a', egress: { allow: ['127.0.0.0/8'] } })
const result = await host.download({ url })
stopServer()
console.log('DONE ' + result.statusCode)`,
  ],
  [
    'hosts on a shared engine after downloads, with a background grace period pending',
    `${SERVER_PRELUDE}
const engine = createEngine()
const first = createHost({ appId: 'ttidle1', env: 'test', dataDir: dataDir + '/b', engine, egress: { allow: ['127.0.0.0/8'] } })
const second = createHost({ appId: 'ttidle2', env: 'test', dataDir: dataDir + '/c', engine, egress: { allow: ['127.0.0.0/8'] } })
const results = await Promise.all([first.download({ url }), second.download({ url })])
stopServer()
second.setBackground(true)
createHost({ appId: 'ttidle3', env: 'test', dataDir: dataDir + '/d' })
console.log('DONE ' + results.map((r) => r.statusCode).join(','))`,
  ],
]

for (const [label, code] of IDLE_CHILDREN) {
  test(`an idle process exits on its own without close(): ${label}`, async (t) => {
    const dir = await makeTmpDir()
    t.teardown(() => dir.cleanup())
    const exit = await runModule(t, code, { TT_DATA_DIR: dir.dir }, 20_000)
    const detail = `exit ${exit.code}${exit.killed ? ' (killed)' : ''}\nstdout: ${exit.stdout}\nstderr: ${exit.stderr}`
    t.regex(exit.stdout, /DONE 200/, detail)
    t.false(exit.killed, detail)
    t.is(exit.code, 0, detail)
    t.true((exit.afterDone ?? Infinity) < 3000, `exited ${exit.afterDone} ms after its last download`)
  })
}

// The engine's one wake-up function holds the event loop open exactly while downloads run:
// a child whose only pending work is a download (its server is this process) must live to
// deliver the callbacks, then exit without close().
test('a download in flight keeps the process alive until its callbacks ran, then it exits', async (t) => {
  const server = await startContentServer()
  t.teardown(() => server.close())
  const dir = await makeTmpDir()
  t.teardown(() => dir.cleanup())
  const code = `
const { createHost } = await import(${JSON.stringify(INDEX_URL)})
const host = createHost({ appId: 'ttalive', env: 'test', dataDir: process.env.TT_DATA_DIR, egress: { allow: ['127.0.0.0/8', '::1/128'] } })
const url = process.env.TT_URL
host.downloadFile({
  url,
  success: (r) => {
    console.log('FIRST ' + r.dataLength)
    host.downloadFile({ url, success: (s) => console.log('DONE ' + s.dataLength), fail: (f) => console.log('FAIL ' + f.errMsg) })
  },
  fail: (f) => console.log('FAIL ' + f.errMsg),
})`
  const url = server.url('/slow/2048?delayMs=400&chunks=2&headerDelayMs=300')
  const exit = await runModule(t, code, { TT_DATA_DIR: dir.dir, TT_URL: url }, 20_000)
  const detail = `exit ${exit.code}${exit.killed ? ' (killed)' : ''}\nstdout: ${exit.stdout}\nstderr: ${exit.stderr}`
  t.regex(exit.stdout, /FIRST 2048\nDONE 2048/, detail)
  t.false(exit.killed, detail)
  t.is(exit.code, 0, detail)
  t.true((exit.afterDone ?? Infinity) < 3000, `exited ${exit.afterDone} ms after its last download`)
})
