// The soak test (issue 9): many hosts on one shared engine, thousands of downloads with a seeded
// random mix of good servers (http, https HTTP/1.1, HTTP/2) and faults (resets, stalls, short
// bodies, TLS failures, timeouts, aborts at random moments, host close() mid-flight, network and
// background flips), then the books are checked:
//
// - every call ends with exactly one of success/fail, then exactly one complete (same object),
//   never inside downloadFile, no event after complete; never-called calls are found by a bounded
//   wait at the end, double calls by a quiet period after it;
// - every outcome is one the call's fault allows (and exactly the fault's code where no chaos
//   touched the call);
// - every stored file's sha256 is what the server served (then the file is removed);
// - no staging file and no stray file is left in any dataDir;
// - after every host and the engine are closed, /proc/self/fd holds no more entries than after
//   the warm-up downloads (and, before the engine closes, no more regular files);
// - RSS after the run stays within a stated bound of RSS after the warm-up, outside the V8
//   heap too, and stops growing in the second half of the run (see RSS_BOUND in bounds.ts).
//
// Usage: node --expose-gc --import tsx __test__/soak/run.ts [--seconds N] [--count N]
//        [--seed S] [--concurrency C] [--hosts H] [--report FILE]   (npm run soak -- --seconds 20)
// Prints the figures and one `SOAK-RESULT <json>` line; exit 0 only when nothing was violated.
// `--report FILE` also writes them as Markdown (the long form, `npm run soak`, writes SOAK.md).
import { readdirSync, statSync, writeFileSync } from 'node:fs'
import { rm, unlink } from 'node:fs/promises'
import * as net from 'node:net'
import { join } from 'node:path'
import { createEngine, createHost, DownloadError } from '../../src/index.js'
import type { DownloadFail, DownloadSuccess, DownloadTask, Engine, Host, HostConfig } from '../../src/index.js'
import { patternBytes, sha256, sha256File } from '../helpers/bytes.js'
import { startContentServer } from '../helpers/content-server.js'
import { listFiles, makeTmpDir, type TmpDir } from '../helpers/fs.js'
import {
  refusedPort,
  startCloseBeforeResponseServer,
  startGarbageServer,
  startPlainTextOnTlsServer,
  startResetBeforeResponseServer,
  startResetMidBodyServer,
  startShortBodyServer,
  startStallServer,
} from '../helpers/raw-servers.js'
import { startScriptedProxy, type ScriptedProxy } from '../helpers/proxies.js'
import { certKit, startBadCertServer, startTlsServer, TEST_HOST, type CertKit } from '../helpers/tls.js'
import { DRAIN_MS, MAX_FILE_SIZE, MiB, QUIET_MS, TEMP_QUOTA } from './bounds.js'
import { checkMemoryAtEnd, checkOpenFilesBeforeEngineClose, closeEngineAndCheckFds, measureBaseline, type Baseline } from './leaks.js'
import { collect, gc, rss } from './measure.js'
import { parseArgs } from './options.js'
import { soakReport } from './report.js'
import { buildSummary, printSummary, type EndOfRun } from './summary.js'
import { sleep, within } from './time.js'
import { violation } from './violations.js'

const opts = parseArgs(process.argv.slice(2))

// ---------------------------------------------------------------------------------------------
// Seeded randomness (mulberry32): the same seed gives the same sequence of choices; timing
// still varies between runs, so a failure is reproduced in kind, not byte for byte.

let rngState = opts.seed >>> 0
function random(): number {
  rngState = (rngState + 0x6d2b79f5) >>> 0
  let t = rngState
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1))
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
function weighted<T extends string>(table: Record<T, number>): T {
  const entries = Object.entries(table) as [T, number][]
  let r = random() * entries.reduce((sum, [, w]) => sum + w, 0)
  for (const [key, w] of entries) {
    r -= w
    if (r < 0) return key
  }
  return entries[entries.length - 1]![0]
}

// ---------------------------------------------------------------------------------------------
// Servers

async function startServers() {
  return {
    http: await startContentServer(),
    https: await startTlsServer('https'),
    // Node refuses new streams once a session holds 10 MiB of unsent data (RST_STREAM
    // ENHANCE_YOUR_CALM); 32 downloads of up to 300 KB on one connection can get there.
    h2: await startContentServer({ mode: 'h2-only', cert: kit.leaf, hostname: TEST_HOST, maxSessionMemory: 512 }),
    // Aborts and timeouts reset HTTP/2 streams. Node's HTTP/2 server defends itself against
    // many resets on one connection (nghttp2's rapid-reset limit: GOAWAY; its session memory
    // limit: RST_STREAM ENHANCE_YOUR_CALM), which then fails every stream on that connection.
    // That traffic gets an h2 server of its own, so the good HTTP/2 downloads are judged
    // strictly; see H2_DEFENCE for what is allowed on this one.
    h2Churn: await startTlsServer('h2-only'),
    reset: await startResetMidBodyServer({ contentLength: 100_000, sendBytes: 4000, afterMs: 5 }),
    short: await startShortBodyServer({ contentLength: 100_000, sendBytes: 4000, afterMs: 5 }),
    stall: await startStallServer({ contentLength: 100_000, sendBytes: 1000 }),
    stallHead: await startStallServer({ head: false }),
    resetBefore: await startResetBeforeResponseServer(),
    closeBefore: await startCloseBeforeResponseServer(),
    garbage: await startGarbageServer(),
    plainTls: await startPlainTextOnTlsServer(),
    expired: await startBadCertServer('expired'),
    selfSigned: await startBadCertServer('selfSigned', 'h2'),
    wrongHost: await startBadCertServer('wrongHost'),
    untrusted: await startBadCertServer('untrustedIssuer'),
  }
}
let servers: Awaited<ReturnType<typeof startServers>>
let refused: number

/** A name the soak hosts map to the refused tripwire address (and its mapped IPv6 form). */
const INWARD_HOST = 'inward.test'

/** A listener on an address the soak hosts refuse: any connection to it is a violation. */
async function startTripwire(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let connections = 0
  const server = net.createServer((socket) => {
    connections++
    socket.destroy()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
let tripwire: Awaited<ReturnType<typeof startTripwire>>

function listTempSync(slot: Slot): string[] {
  return readdirSync(join(slot.tmp.dir, 'temp'))
}

/** No host's temp/ ever holds more than its tempQuota (read synchronously: one moment). */
function checkTempBound(): void {
  for (const slot of allSlots) {
    const dir = join(slot.tmp.dir, 'temp')
    let bytes = 0
    for (const name of readdirSync(dir)) {
      try {
        bytes += statSync(join(dir, name)).size
      } catch {
        // Removed between the listing and the stat: it no longer counts.
      }
    }
    if (bytes > TEMP_QUOTA) violation('temp', `host ${slot.id}: temp/ holds ${bytes} bytes, tempQuota ${TEMP_QUOTA}`)
  }
}
/** The proxy of the 'proxied' hosts: it resolves the test name itself (SPEC 11: the engine does not). */
let proxy: ScriptedProxy
let kit: CertKit

/** Port 1 when nothing listens there (no other process will bind it meanwhile), else a freed port. */
async function refusedPortOnce(): Promise<number> {
  const ok = await new Promise<boolean>((resolve) => {
    const socket = net.connect(1, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'))
  })
  return ok ? 1 : refusedPort()
}

// ---------------------------------------------------------------------------------------------
// Hosts

type Role = 'stable' | 'chaos' | 'quota' | 'proxied'

interface Slot {
  id: number
  role: Role
  host: Host
  tmp: TmpDir
  /** Calls started on this host that have not completed yet. */
  live: Set<Call>
  networkOff: boolean
  background: boolean
  closed: boolean
  /** Successes into temp/ (each file then either stays there or is evicted). */
  tempStored: number
}

const engine: Engine = createEngine()
const dataDirs: TmpDir[] = []
const allSlots: Slot[] = []
let nextSlotId = 1

async function newSlot(role: Role): Promise<Slot> {
  const tmp = await makeTmpDir('tt-download-soak-')
  dataDirs.push(tmp)
  const config: HostConfig = {
    appId: `ttsoak${String(nextSlotId).padStart(10, '0')}`,
    env: 'test',
    dataDir: tmp.dir,
    engine,
    resolve: { [TEST_HOST]: '127.0.0.1', [INWARD_HOST]: ['127.0.0.2', '::ffff:127.0.0.2'] },
    tls: { ca: kit.ca.cert },
    maxFileSize: MAX_FILE_SIZE,
    // Small, so eviction runs thousands of times (SPEC 12): temp/ must never pass it, and no
    // file may go before its success was delivered.
    tempQuota: TEMP_QUOTA,
    // Verified files are removed behind the host's back; a large budget keeps that from
    // ever counting. The quota host has a small one, for the 121530 faults.
    userDataQuota: role === 'quota' ? 100_000 : 64 * 1024 * MiB,
    maxConcurrent: int(2, 8),
    backgroundGraceMs: 20,
    // Only the test servers' address: the tripwire on 127.0.0.2 stays refused.
    egress: { allow: ['127.0.0.1/32', '::1/128'] },
    // Through the proxy every download goes via CONNECT or absolute form (SPEC 11).
    ...(role === 'proxied' ? { proxy: proxy.url } : {}),
    onError: (error, { source }) => violation('onError', `${source}: ${String(error)}`),
  }
  const slot: Slot = {
    id: nextSlotId++,
    role,
    host: createHost(config),
    tmp,
    live: new Set(),
    networkOff: false,
    background: false,
    closed: false,
    tempStored: 0,
  }
  allSlots.push(slot)
  return slot
}

// ---------------------------------------------------------------------------------------------
// Calls

const FAULTS = {
  http: 14,
  https: 10,
  h2: 12,
  chunked: 5,
  redirect: 4,
  userFile: 5,
  promise: 4,
  abort: 10,
  promiseAbort: 3,
  reset: 4,
  short: 4,
  stall: 3,
  stallHead: 3,
  hang: 2,
  resetBefore: 3,
  closeBefore: 2,
  refused: 2,
  egressRefused: 3,
  proxied: 6,
  garbage: 2,
  plainTls: 2,
  certificate: 4,
  tooLarge: 3,
  quota: 1,
  invalid: 3,
} as const
type Fault = keyof typeof FAULTS

type Outcome = 'success' | number

/**
 * One downloadFile/download call, kept small (the run makes tens of thousands): counters of
 * what the library called, not the results themselves. A call is finalized (checked and
 * dropped) QUIET_MS after its complete; any callback after that is a violation on the spot.
 */
interface Call {
  id: number
  fault: Fault
  slot: Slot
  /** What the fault itself may end in. */
  allowed: Outcome[]
  /** Codes that chaos on the host added while the call ran. */
  chaos: number[]
  /** For a success: what the server sent. */
  expectedSha?: string
  expectedLength?: number
  successes: number
  fails: number
  completes: number
  headers: number
  /** Names of callbacks and events that came after complete. */
  afterComplete: string[]
  syncCall: boolean
  /** complete received the very object success/fail did. */
  sameObject: boolean
  lastWritten: number
  lastPercent: number
  outcome?: Outcome
  detail?: string
  /** See Plan.errMsg. */
  errMsg?: string
  /** It stores into temp/ (no filePath): checked at delivery, not hashed. */
  temp?: boolean
  /** The call went to the h2Churn server. */
  h2Churn: boolean
  /** A success's dataLength, for the final-progress check. */
  dataLength?: number
  done: Promise<void>
  finish: () => void
  completedAt?: number
  finalized: boolean
}

/**
 * What a call to the h2Churn server may also end in: the server refused the stream or closed
 * the connection (RST_STREAM or GOAWAY from Node's defences), reported as 121591.
 */
const H2_DEFENCE = /^downloadFile:fail network error: .*http2 error: (stream|connection) error received: /

/** Launched and not yet finalized. */
const pending = new Set<Call>()
const verifications = new Set<Promise<void>>()
const stats = {
  downloads: 0,
  launched: new Map<Fault, number>(),
  successes: 0,
  fails: new Map<number, number>(),
  chaos: new Map<string, number>(),
  verified: 0,
  verifiedBytes: 0,
  tempStored: 0,
  tempEvicted: 0,
  h2Defence: 0,
}
const bump = <K>(map: Map<K, number>, key: K) => map.set(key, (map.get(key) ?? 0) + 1)

interface Plan {
  url: string
  allowed: Outcome[]
  filePath?: string
  timeout?: number
  header?: unknown
  expectedLength?: number
  expectedSha?: string
  /** Abort: when (ms after the call, 'sync', 'headers' or 'progress'). */
  abortAt?: number | 'sync' | 'headers' | 'progress'
  promise?: boolean
  /** Raw options for the invalid-input faults (the url etc. as given). */
  raw?: Record<string, unknown>
  /** The exact errMsg a fail must carry (a refusal must not pass for a connection error). */
  errMsg?: string
}

/** Half the good downloads go to user/ (hashed), half to temp/ (checked at delivery). */
function good(origin: { url(path: string): string }, n: number, seed: number, route = 'bytes'): Plan {
  const plan: Plan = {
    url: origin.url(`/${route}/${n}?seed=${seed}`),
    allowed: ['success'],
    expectedLength: n,
    expectedSha: sha256(patternBytes(n, seed)),
  }
  if (random() < 0.5) plan.filePath = `ttfile://user/good-${seed}.bin`
  return plan
}

const goodServer = () => pick([servers.http, servers.https, servers.h2])

function planFor(fault: Fault, call: { id: number }): Plan {
  const seed = call.id
  const size = () => pick([0, 1, 100, 4096, 65_536, int(1, 300_000)])
  const shortTimeout = () => int(80, 400)
  switch (fault) {
    case 'http':
      return good(servers.http, size(), seed)
    case 'https':
      return good(servers.https, size(), seed)
    case 'h2':
      return good(servers.h2, size(), seed)
    case 'chunked':
      return good(goodServer(), size(), seed, 'chunked')
    case 'redirect': {
      const k = int(1, 5)
      const server = goodServer()
      return {
        url: server.url(`/redirect/${k}`),
        allowed: ['success'],
        expectedLength: 1024,
        expectedSha: sha256(patternBytes(1024, 1)),
      }
    }
    case 'userFile':
      return { ...good(goodServer(), size(), seed), filePath: `ttfile://user/soak-${call.id}.bin` }
    case 'promise':
      return { ...good(goodServer(), size(), seed), promise: true }
    case 'abort':
    case 'promiseAbort':
      return abortPlan(fault, seed)
    case 'reset':
      return { url: servers.reset.url(`/r${seed}`), allowed: [121527] }
    case 'short':
      return { url: servers.short.url(`/s${seed}`), allowed: [121527] }
    case 'stall':
      return { url: servers.stall.url(`/st${seed}`), allowed: [121520], timeout: shortTimeout() }
    case 'stallHead':
      return { url: servers.stallHead.url(`/sh${seed}`), allowed: [121520], timeout: shortTimeout() }
    case 'hang':
      return { url: pick([servers.h2Churn, servers.https, servers.http]).url('/hang'), allowed: [121520], timeout: shortTimeout() }
    case 'resetBefore':
      return { url: servers.resetBefore.url(`/rb${seed}`), allowed: [121526] }
    case 'closeBefore':
      return { url: servers.closeBefore.url(`/cb${seed}`), allowed: [121526] }
    case 'refused':
      return { url: `http://127.0.0.1:${refused}/x${seed}`, allowed: [121526] }
    case 'egressRefused':
      return egressRefusedPlan(seed)
    case 'proxied':
      // Any good server, through the proxy host's proxy: hashed like every good download.
      return good(goodServer(), size(), seed)
    case 'garbage':
      return { url: servers.garbage.url(`/g${seed}`), allowed: [121591] }
    case 'plainTls':
      return { url: servers.plainTls.url(`/p${seed}`), allowed: [121525] }
    case 'certificate':
      return {
        url: pick([servers.expired, servers.selfSigned, servers.wrongHost, servers.untrusted]).url(`/bytes/10`),
        allowed: [121528],
      }
    case 'tooLarge':
      return {
        url: goodServer().url(`/${pick(['bytes', 'chunked'])}/${MAX_FILE_SIZE + int(1, 100_000)}?seed=${seed}`),
        allowed: [121521],
      }
    case 'quota':
      return {
        url: goodServer().url(`/${pick(['bytes', 'chunked'])}/${150_000}?seed=${seed}`),
        allowed: [121530],
        filePath: `ttfile://user/q-${call.id}.bin`,
      }
    case 'invalid':
      return invalidPlan()
  }
}

/** A body that takes ~100-300 ms; the abort lands anywhere in it, or after it ended. */
function abortPlan(fault: 'abort' | 'promiseAbort', seed: number): Plan {
  const n = 65_536
  const chunks = int(4, 12)
  const plan: Plan = {
    url: pick([servers.http, servers.https, servers.h2Churn]).url(`/slow/${n}?seed=${seed}&chunks=${chunks}&delayMs=${int(5, 25)}`),
    allowed: ['success', 121522],
    expectedLength: n,
    expectedSha: sha256(patternBytes(n, seed)),
    abortAt: fault === 'promiseAbort' ? int(0, 300) : pick(['sync', 'headers', 'progress', int(0, 350)] as const),
  }
  if (random() < 0.3) plan.filePath = `ttfile://user/abort-${seed}.bin`
  if (fault === 'promiseAbort') plan.promise = true
  return plan
}

/**
 * Addresses the policy refuses, spelled every way a mini-program could: a literal, a mapped
 * literal, a name resolving inward, a redirect hop. The tripwire listening there must never
 * see a connection.
 */
function egressRefusedPlan(seed: number): Plan {
  const port = tripwire.port
  const url = pick([
    `http://127.0.0.2:${port}/e${seed}`,
    `http://[::ffff:127.0.0.2]:${port}/e${seed}`,
    `https://${INWARD_HOST}:${port}/e${seed}`,
    goodServer().url(`/redirect-to?url=${encodeURIComponent(`http://0x7f000002:${port}/e${seed}`)}`),
  ])
  return { url, allowed: [121526], errMsg: 'downloadFile:fail connection error: address not allowed' }
}

/** Inputs downloadFile must refuse, each with the code it refuses them with. */
function invalidPlan(): Plan {
  const bad = pick([
    { raw: { url: 'ftp://x/y' }, code: 121599 },
    { raw: { url: 42 }, code: 121599 },
    { raw: { url: 'http://u:p@127.0.0.1/' }, code: 121529 },
    { raw: { url: servers.http.url('/bytes/1'), header: { 'x-a': 'v\r\nx-injected: 1' } }, code: 121599 },
    { raw: { url: servers.http.url('/bytes/1'), header: { 'bad name': '1' } }, code: 121599 },
    { raw: { url: servers.http.url('/bytes/1'), timeout: 'soon' }, code: 121599 },
    { raw: { url: servers.http.url('/bytes/1'), filePath: 'ttfile://user/../x' }, code: 121503 },
    { raw: { url: servers.http.url('/bytes/1'), filePath: '/etc/passwd' }, code: 121508 },
    { raw: { url: servers.http.url('/bytes/1'), filePath: 'ttfile://user/none/x.bin' }, code: 121502 },
  ])
  return { url: String(bad.raw.url), allowed: [bad.code], raw: bad.raw }
}

let nextCallId = 1

function launch(slot: Slot, fault: Fault): Call {
  const id = nextCallId++
  const plan = planFor(fault, { id })
  const call = newCall(id, fault, slot, plan)
  pending.add(call)
  stats.downloads++
  bump(stats.launched, fault)
  applyHostState(call, plan)
  slot.live.add(call)
  return plan.promise ? launchPromise(call, plan) : launchWithCallbacks(call, plan)
}

function newCall(id: number, fault: Fault, slot: Slot, plan: Plan): Call {
  let finish!: () => void
  const done = new Promise<void>((resolve) => (finish = resolve))
  const call: Call = {
    id,
    fault,
    slot,
    allowed: plan.allowed,
    chaos: [],
    successes: 0,
    fails: 0,
    completes: 0,
    headers: 0,
    afterComplete: [],
    syncCall: false,
    sameObject: true,
    lastWritten: -1,
    lastPercent: -1,
    h2Churn: plan.url.startsWith(servers.h2Churn.origin + '/'),
    done,
    finish,
    finalized: false,
  }
  if (plan.expectedSha !== undefined) call.expectedSha = plan.expectedSha
  if (plan.errMsg !== undefined) call.errMsg = plan.errMsg
  if (plan.expectedLength !== undefined) call.expectedLength = plan.expectedLength
  return call
}

/**
 * Host state at the call: a closed host fails with 121522 first; an unavailable network or
 * an expired background with their code, after the input checks (SPEC 10's order); then
 * the fault's own message no longer applies.
 */
function applyHostState(call: Call, plan: Plan): void {
  const { slot, fault } = call
  if (slot.closed || (fault !== 'invalid' && (slot.networkOff || slot.background))) delete call.errMsg
  // Into temp/, the downloads running on the host may hold the whole budget between them.
  if (plan.filePath === undefined && fault !== 'invalid') addChaos(call, 121507)
  call.temp = plan.filePath === undefined && plan.raw === undefined
  if (slot.closed) call.allowed = [121522]
  else if (fault !== 'invalid' && slot.networkOff) call.allowed = [121585]
  else if (fault !== 'invalid' && slot.background) addChaos(call, 121594) // the grace may or may not have passed
}

function launchWithCallbacks(call: Call, plan: Plan): Call {
  let returned = false
  let result: unknown
  const options: Record<string, unknown> = plan.raw ?? { url: plan.url }
  if (plan.filePath !== undefined) options.filePath = plan.filePath
  if (plan.timeout !== undefined) options.timeout = plan.timeout
  if (random() < 0.2) options.enableProfile = false
  const task: DownloadTask = call.slot.host.downloadFile({
    ...(options as { url: string }),
    success: (res: DownloadSuccess) => {
      if (!returned) call.syncCall = true
      if (!event(call, 'success')) return
      call.successes++
      result = res
      onSuccess(call, res, true)
    },
    fail: (res: DownloadFail) => {
      if (!returned) call.syncCall = true
      if (!event(call, 'fail')) return
      call.fails++
      result = res
      onFail(call, res)
    },
    complete: (res: unknown) => {
      if (!returned) call.syncCall = true
      if (!event(call, 'complete')) return
      call.completes++
      if (res !== result) call.sameObject = false
      result = undefined
      onComplete(call)
    },
  })
  returned = true
  task.onHeadersReceived(() => {
    if (!event(call, 'headers')) return
    call.headers++
    if (plan.abortAt === 'headers') task.abort()
  })
  task.onProgressUpdate((p) => {
    if (!event(call, 'progress')) return
    if (p.totalBytesWritten < call.lastWritten) {
      violation('progress', `#${call.id} totalBytesWritten went back ${call.lastWritten} -> ${p.totalBytesWritten}`)
    }
    call.lastWritten = p.totalBytesWritten
    call.lastPercent = p.progress
    if (plan.abortAt === 'progress' && random() < 0.5) task.abort()
  })
  if (plan.abortAt === 'sync') task.abort()
  else if (typeof plan.abortAt === 'number') setTimeout(() => task.abort(), plan.abortAt)
  if (random() < 0.02) {
    // Listeners removed again: they must simply stop being called.
    task.offProgressUpdate()
    call.lastPercent = -2
  }
  return call
}

/** Notes a callback or event; false (and a violation) once the call was finalized. */
function event(call: Call, name: string): boolean {
  if (call.finalized) {
    violation(
      name === 'success' || name === 'fail' || name === 'complete' ? 'double' : 'order',
      `#${call.id} ${call.fault}: ${name} ${QUIET_MS} ms or more after complete`,
    )
    return false
  }
  if (call.completedAt !== undefined) call.afterComplete.push(name)
  return true
}

function addChaos(call: Call, code: number): void {
  if (!call.chaos.includes(code)) call.chaos.push(code)
}

function launchPromise(call: Call, plan: Plan): Call {
  const controller = new AbortController()
  const request: Record<string, unknown> = { url: plan.url, signal: controller.signal }
  if (plan.filePath !== undefined) request.filePath = plan.filePath
  if (plan.timeout !== undefined) request.timeout = plan.timeout
  call.slot.host.download(request as { url: string }).then(
    (res) => {
      call.successes++
      call.completes++
      onSuccess(call, res)
      onComplete(call)
    },
    (error: unknown) => {
      const res = error as DownloadFail & Error
      call.fails++
      call.completes++
      if (!(error instanceof DownloadError)) violation('result', `#${call.id} download() rejected with ${String(error)}`)
      onFail(call, { errMsg: res.errMsg, errNo: res.errNo, errorCode: res.errorCode, errorType: res.errorType })
      onComplete(call)
    },
  )
  if (typeof plan.abortAt === 'number') setTimeout(() => controller.abort(), plan.abortAt)
  return call
}

/**
 * A temp/ file exists with its bytes when its success is delivered (`atDelivery`: inside the
 * callback, before eviction may take it); hashed files live in user/ (see `good`).
 */
function checkTempAtDelivery(call: Call, res: DownloadSuccess, path: string, atDelivery: boolean): void {
  call.slot.tempStored++
  stats.tempStored++
  if (!atDelivery) return
  try {
    const size = statSync(path).size
    if (size !== res.dataLength)
      violation('temp', `#${call.id} ${call.fault}: ${res.tempFilePath} holds ${size} bytes, dataLength ${res.dataLength}`)
  } catch (error) {
    violation('temp', `#${call.id} ${call.fault}: ${res.tempFilePath} gone before its success was delivered: ${String(error)}`)
  }
}

function onSuccess(call: Call, res: DownloadSuccess, atDelivery = false): void {
  stats.successes++
  call.outcome ??= 'success'
  call.dataLength = res.dataLength
  const ttfile = res.filePath ?? res.tempFilePath
  if (ttfile === undefined) {
    violation('result', `#${call.id} success without a path: ${JSON.stringify(res)}`)
    return
  }
  let path: string
  try {
    path = call.slot.host.realPath(ttfile)
  } catch (error) {
    violation('result', `#${call.id} realPath(${ttfile}) threw ${String(error)}`)
    return
  }
  if (res.tempFilePath !== undefined) {
    checkTempAtDelivery(call, res, path, atDelivery)
    return
  }
  const expected = call.expectedSha
  if (expected === undefined) return // a fault that may not succeed: reported at finalize
  if (res.dataLength !== call.expectedLength) {
    violation('hash', `#${call.id} ${call.fault}: dataLength ${res.dataLength}, served ${call.expectedLength}`)
  }
  const verification = (async () => {
    try {
      const actual = await sha256File(path)
      if (actual !== expected) violation('hash', `#${call.id} ${call.fault}: ${ttfile} sha256 ${actual}, served ${expected}`)
      stats.verified++
      stats.verifiedBytes += res.dataLength
      await unlink(path)
    } catch (error) {
      violation('hash', `#${call.id} ${call.fault}: ${ttfile}: ${String(error)}`)
    }
  })()
  verifications.add(verification)
  void verification.then(() => verifications.delete(verification))
}

function onFail(call: Call, res: DownloadFail): void {
  bump(stats.fails, res.errNo)
  call.outcome ??= res.errNo
  call.detail ??= res.errMsg
  if (!(res.errNo >= 121500 && res.errNo <= 121599) || res.errorCode !== res.errNo || !res.errMsg.startsWith('downloadFile:fail ')) {
    violation('result', `#${call.id} malformed fail ${JSON.stringify(res)}`)
  }
}

function onComplete(call: Call): void {
  call.completedAt ??= Date.now()
  call.slot.live.delete(call)
  call.finish()
}

/** Checks the books of one call and drops it. */
function finalize(call: Call): void {
  call.finalized = true
  pending.delete(call)
  const label = `#${call.id} ${call.fault} on host ${call.slot.id}`
  if (call.completedAt === undefined) {
    violation('lost', `${label}: complete never called (success ${call.successes}, fail ${call.fails}, headers ${call.headers})`)
    return
  }
  if (call.successes + call.fails !== 1 || call.completes !== 1) {
    violation('double', `${label}: success ${call.successes}, fail ${call.fails}, complete ${call.completes}`)
  }
  if (call.afterComplete.length > 0) violation('order', `${label}: ${call.afterComplete.join(',')} after complete`)
  if (call.headers > 1) violation('order', `${label}: headers ${call.headers} times`)
  if (call.syncCall) violation('sync', `${label}: a callback ran inside downloadFile`)
  if (!call.sameObject) violation('result', `${label}: complete got another object than success/fail`)
  const outcome = call.outcome
  if (outcome === undefined) return
  if (outcome === 121591 && call.h2Churn && H2_DEFENCE.test(call.detail ?? '')) {
    stats.h2Defence++
    return
  }
  if (!call.allowed.includes(outcome) && !call.chaos.includes(outcome as number)) {
    violation('outcome', `${label}: ended in ${outcome} (${call.detail ?? ''}), allowed ${[...call.allowed, ...call.chaos].join('/')}`)
  } else if (call.errMsg !== undefined && !call.chaos.includes(outcome as number) && call.detail !== call.errMsg) {
    violation('outcome', `${label}: ended in "${call.detail ?? ''}", expected "${call.errMsg}"`)
  }
  // A success ends with progress 100 (unless the listener was removed or never called).
  if (outcome === 'success' && call.lastPercent !== -2 && call.lastWritten >= 0) {
    if (call.lastPercent !== 100 || call.lastWritten !== call.dataLength) {
      violation('progress', `${label}: success after progress ${call.lastPercent}% of ${call.lastWritten}, dataLength ${call.dataLength}`)
    }
  }
}

/** Finalizes every call whose complete came QUIET_MS ago or more. */
function sweep(now = Date.now()): void {
  for (const call of pending) {
    if (call.completedAt !== undefined && now - call.completedAt >= QUIET_MS) finalize(call)
  }
}

// ---------------------------------------------------------------------------------------------
// Chaos: host-level events on the chaos hosts

const CHAOS = { close: 3, networkOff: 4, networkChange: 4, background: 2, afterClose: 1 } as const
type Chaos = keyof typeof CHAOS

async function chaosEvent(slots: Slot[], replace: (old: Slot) => Promise<void>): Promise<void> {
  const chaotic = slots.filter((s) => s.role === 'chaos' && !s.closed)
  if (chaotic.length === 0) return
  const slot = pick(chaotic)
  const kind = weighted(CHAOS as Record<Chaos, number>)
  bump(stats.chaos, kind)
  switch (kind) {
    case 'close': {
      for (const call of slot.live) addChaos(call, 121522)
      slot.closed = true
      const closing = slot.host.close()
      await replace(slot)
      const closedInTime = await within(closing, DRAIN_MS)
      if (!closedInTime) violation('hang', `host ${slot.id}: close() did not settle within ${DRAIN_MS} ms`)
      const left = await listFiles(join(slot.tmp.dir, '.tt-download', 'staging'))
      if (left.length > 0) violation('staging', `host ${slot.id}: ${left.length} staging files after close(): ${left.join(', ')}`)
      return
    }
    case 'afterClose': {
      // A closed host still answers: 121522, asynchronously.
      const closed = allSlots.filter((s) => s.closed)
      if (closed.length > 0) launch(pick(closed), pick(['http', 'h2', 'invalid'] as const))
      return
    }
    case 'networkOff': {
      for (const call of slot.live) addChaos(call, 121585)
      slot.networkOff = true
      slot.host.setNetworkAvailable(false)
      await sleep(int(10, 150))
      if (!slot.closed) {
        slot.networkOff = false
        slot.host.setNetworkAvailable(true)
      }
      return
    }
    case 'networkChange':
      for (const call of slot.live) addChaos(call, 121523)
      slot.host.notifyNetworkChange()
      return
    case 'background': {
      for (const call of slot.live) addChaos(call, 121594)
      slot.background = true
      slot.host.setBackground(true)
      await sleep(int(5, 120))
      // Calls started meanwhile were marked by launch(); the flag clears with the state.
      slot.host.setBackground(false)
      slot.background = false
      return
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The run

async function warmUp(): Promise<void> {
  const tmp = await makeTmpDir('tt-download-soak-warm-')
  const host = createHost({
    appId: 'ttsoakwarmup000000',
    env: 'test',
    dataDir: tmp.dir,
    engine,
    resolve: { [TEST_HOST]: '127.0.0.1' },
    tls: { ca: kit.ca.cert },
    egress: { allow: ['127.0.0.0/8', '::1/128'] },
  })
  for (const server of [servers.http, servers.https, servers.h2]) {
    const res = await host.download({ url: server.url('/bytes/1000?seed=7') })
    const actual = await sha256File(host.realPath(res.tempFilePath))
    if (actual !== sha256(patternBytes(1000, 7))) violation('hash', `warm-up ${server.mode}: wrong bytes`)
  }
  await host.close()
  await tmp.cleanup()
}

/** The servers, the refused port, the tripwire and the proxy every host and call uses. */
async function startFixtures(): Promise<void> {
  kit = await certKit()
  servers = await startServers()
  refused = await refusedPortOnce()
  tripwire = await startTripwire()
  proxy = await startScriptedProxy({ hosts: { [TEST_HOST]: '127.0.0.1' } })
}

async function openSlots(): Promise<Slot[]> {
  const slots: Slot[] = []
  const roles: Role[] = ['quota', 'proxied']
  for (let i = 1; i < opts.hosts; i++) roles.push(i % 2 === 0 ? 'chaos' : 'stable')
  for (const role of roles) slots.push(await newSlot(role))
  return slots
}

/** A host chaos closed gives its place to a fresh host of the same role. */
async function replaceSlot(slots: Slot[], old: Slot): Promise<void> {
  const index = slots.indexOf(old)
  const fresh = await newSlot(old.role)
  if (index !== -1) slots[index] = fresh
}

/** What the workers, the chaos loop and the progress loop share while the load runs. */
interface LoadRun {
  /** The hosts calls go to; a host chaos closed is replaced in its place (replaceSlot). */
  slots: Slot[]
  started: number
  deadline: number
  /** Set by the first loop to see the deadline or the count reached; every loop then ends. */
  stop: boolean
  /** Set before the mid-run sample's gc, so the next tick does not start a second one. */
  midTaken: boolean
  /** RSS once half the run is done (gc'd, engine open): where RSS_STEADY_BOUND counts from. */
  rssMid?: number
}

const shouldStop = (run: LoadRun) => run.stop || Date.now() >= run.deadline || nextCallId > opts.count

/**
 * Quota faults go to the quota host, proxied ones to the proxy host; anything else to a
 * stable or chaos host.
 */
function hostsFor(slots: Slot[], fault: Fault): Slot[] {
  const role = fault === 'quota' ? 'quota' : fault === 'proxied' ? 'proxied' : undefined
  return slots.filter((s) => (role === undefined ? s.role === 'stable' || s.role === 'chaos' : s.role === role))
}

async function worker(run: LoadRun): Promise<void> {
  while (!(run.stop = shouldStop(run))) {
    const fault = weighted(FAULTS as Record<Fault, number>)
    const call = launch(pick(hostsFor(run.slots, fault)), fault)
    const settled = await within(call.done, DRAIN_MS)
    if (!settled) return // checked at the end as lost
  }
}

async function chaosLoop(run: LoadRun): Promise<void> {
  while (!(run.stop = shouldStop(run))) {
    await sleep(int(20, 250))
    if (!run.stop) await chaosEvent(run.slots, (old) => replaceSlot(run.slots, old))
  }
}

const midRunDue = (run: LoadRun) =>
  !run.midTaken && Math.max((Date.now() - run.started) / (opts.seconds * 1000), stats.downloads / opts.count) >= 0.5

async function progressLoop(run: LoadRun): Promise<void> {
  let lastReport = Date.now()
  while (!run.stop) {
    await sleep(250)
    sweep()
    // The test servers record every request; that is the harness's memory, not the library's.
    for (const server of Object.values(servers)) server.requests.splice(0)
    proxy.requests.splice(0)
    checkTempBound()
    if (midRunDue(run)) {
      run.midTaken = true
      await collect()
      run.rssMid = rss()
    }
    if (Date.now() - lastReport >= 15_000) {
      lastReport = Date.now()
      console.log(
        `soak: ${Math.round((Date.now() - run.started) / 1000)} s, ${stats.downloads} downloads, rss ${(rss() / MiB).toFixed(0)} MiB`,
      )
    }
  }
}

/** Until the deadline or the count: `concurrency` workers, the chaos loop, the progress loop. */
async function runLoad(slots: Slot[]): Promise<{ launchedMs: number; rssMid: number | undefined }> {
  const started = Date.now()
  const run: LoadRun = { slots, started, deadline: started + opts.seconds * 1000, stop: false, midTaken: false }
  await Promise.all([...Array.from({ length: opts.concurrency }, () => worker(run)), chaosLoop(run), progressLoop(run)])
  return { launchedMs: Date.now() - started, rssMid: run.rssMid }
}

// ---------------------------------------------------------------------------------------------
// The end of the run: the books of calls, temp/, hosts and files (fds and RSS: leaks.ts)

/**
 * Every call must complete within DRAIN_MS of the end; then a quiet period for late (double)
 * calls.
 */
async function drainCalls(): Promise<void> {
  await within(Promise.all([...pending].map((c) => c.done)), DRAIN_MS)
  await sleep(QUIET_MS)
  await Promise.all(verifications)
  sweep(Infinity)
  for (const call of [...pending]) finalize(call) // never completed: lost
}

/**
 * temp/: every file a success stored is still there or was evicted (counted by the host),
 * then clearTemp() empties it. Hosts closed by chaos can no longer be asked; their temp/
 * is only held to its bound.
 */
async function checkTempBooks(): Promise<void> {
  for (const slot of allSlots.filter((s) => !s.closed)) {
    const files = listTempSync(slot).length
    const evicted = slot.host.stats().tempEvicted
    stats.tempEvicted += evicted
    if (files + evicted !== slot.tempStored) {
      violation('lost', `host ${slot.id}: ${slot.tempStored} temp files stored, ${files} left + ${evicted} evicted`)
    }
    await slot.host.clearTemp()
  }
  checkTempBound()
}

/** Taken before closeEveryHost() marks every host closed. */
const dataDirsClosedByChaos = () => new Set(allSlots.filter((s) => s.closed).map((s) => s.tmp.dir))

async function closeEveryHost(): Promise<void> {
  for (const slot of allSlots) {
    slot.closed = true
    const closedInTime = await within(slot.host.close(), DRAIN_MS)
    if (!closedInTime) violation('hang', `host ${slot.id}: close() did not settle`)
  }
}

/** Returns how many connections reached the tripwire (each one a violation). */
async function checkAndCloseTripwireAndProxy(): Promise<number> {
  const tripwireConnections = tripwire.connections()
  if (tripwireConnections > 0) {
    violation('egress', `${tripwire.connections()} connection(s) reached the refused tripwire on 127.0.0.2`)
  }
  await tripwire.close()
  if (proxy.requests.length + proxy.connections === 0) violation('proxy', 'no download went through the proxy')
  await proxy.close()
  return tripwireConnections
}

/**
 * With every host closed, nothing may be left in staging, temp/ or user/ (every stored file
 * was verified and removed, temp/ cleared), but in the temp/ of hosts chaos closed.
 */
async function countLeftoverFiles(chaosClosed: Set<string>): Promise<{ stagingFiles: number; strayFiles: number }> {
  let strayFiles = 0
  let stagingFiles = 0
  for (const tmp of dataDirs) {
    const staging = await listFiles(join(tmp.dir, '.tt-download', 'staging'))
    const temp = chaosClosed.has(tmp.dir) ? [] : await listFiles(join(tmp.dir, 'temp'))
    const stray = [...temp, ...(await listFiles(join(tmp.dir, 'user')))]
    stagingFiles += staging.length
    strayFiles += stray.length
    if (staging.length > 0) violation('staging', `${tmp.dir}: ${staging.join(', ')}`)
    if (stray.length > 0) violation('stray', `${tmp.dir}: ${stray.slice(0, 5).join(', ')}${stray.length > 5 ? ', ...' : ''}`)
  }
  return { stagingFiles, strayFiles }
}

async function stopServersAndRemoveDataDirs(): Promise<void> {
  await Promise.all(Object.values(servers).map((s) => s.close()))
  await Promise.all(dataDirs.map((tmp) => rm(tmp.dir, { recursive: true, force: true, maxRetries: 3 })))
}

/**
 * The end of the run, in the order the measurements need: calls drained and temp/ booked
 * while the hosts are open; hosts, tripwire and proxy closed before the files are counted;
 * open files and RSS taken before engine.close(), fds and RSS again after it.
 */
async function endOfRun(warm: Baseline, load: { launchedMs: number; rssMid: number | undefined }): Promise<EndOfRun> {
  await drainCalls()
  await checkTempBooks()
  const chaosClosed = dataDirsClosedByChaos()
  await closeEveryHost()
  const tripwireConnections = await checkAndCloseTripwireAndProxy()
  const leftovers = await countLeftoverFiles(chaosClosed)
  const beforeEngineClose = await checkOpenFilesBeforeEngineClose(warm)
  const fdEnd = await closeEngineAndCheckFds(engine, warm)
  const memoryEnd = await checkMemoryAtEnd(warm, load.rssMid, beforeEngineClose.rss)
  await stopServersAndRemoveDataDirs()
  return { ...load, hostsCreated: allSlots.length, tripwireConnections, ...leftovers, warm, beforeEngineClose, fdEnd, memoryEnd }
}

// ---------------------------------------------------------------------------------------------
// main

/**
 * Nothing may keep the process alive now: this timer does not, so it only fires if
 * something else (a handle the library leaked) does.
 */
function failIfStillAliveIn10s(): void {
  setTimeout(() => {
    console.log('VIOLATION handle: the process is still alive 10 s after everything was closed')
    process.exit(1)
  }, 10_000).unref()
}

async function main(): Promise<void> {
  console.log(
    `soak: seed ${opts.seed}, up to ${opts.seconds} s or ${opts.count} downloads, ` +
      `${opts.concurrency} in flight, ${opts.hosts} hosts on one engine` +
      (gc === undefined ? ' (no --expose-gc: fd/RSS figures without forced gc)' : ''),
  )
  await startFixtures()
  await warmUp()
  const warm = await measureBaseline()
  const load = await runLoad(await openSlots())
  const end = await endOfRun(warm, load)

  const summary = buildSummary(opts.seed, stats, end)
  printSummary(summary, stats, end)
  process.exitCode = summary.violations === 0 ? 0 : 1
  if (opts.report !== undefined) {
    writeFileSync(opts.report, soakReport(summary, stats, opts))
    console.log(`soak: wrote ${opts.report}`)
  }
  failIfStillAliveIn10s()
}

main().catch((error: unknown) => {
  console.error('soak: crashed:', error)
  process.exit(1)
})
