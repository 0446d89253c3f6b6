#!/usr/bin/env node
// tt-download benchmark (issue 7): tt-download against curl, node:http, undici 7 and got 14,
// all downloading from a local nginx over HTTP/1.1 (and, for the small-h2 grid, HTTP/2) to
// the same disk, each run in its own process, entries of one comparison interleaved in a
// shuffled order every round.
//
//   node benchmark/run.mjs [--quick] [--runs N] [--count N] [--warm-count N] [--pairs N] [--idle-ms MS]
//                          [--only large,small,small-h2,idle,profile,egress] [--peers tt,curl,...]
//                          [--addon PATH|dev] [--baseline-addon PATH [--baseline-tree DIR]] [--out FILE]
//                          [--no-write] [--help]
import { spawn, spawnSync } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  copyFileSync,
  openSync,
  writeSync,
  closeSync,
  renameSync,
} from 'node:fs'
import { cpus, release, totalmem } from 'node:os'
import { dirname, join, relative, resolve as resolvePath } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { median, shuffle, summary } from './lib/stats.mjs'
import { ensureFile, ensureNginx, startNginx } from './lib/server.mjs'
import { PEER_LABEL, fmt, markdownTable, terminalTable } from './lib/report.mjs'
import { H2_PEERS, parseArgs } from './lib/args.mjs'
import { tablesAndCharts } from './lib/tables.mjs'
import { targetRows } from './lib/targets.mjs'
import { diskFloorText } from './lib/disk-floor.mjs'
import { PROBE_FILES, createCost } from './lib/disk-probe.mjs'
import { childPid, curlBlocks, watchLines } from './lib/curl-blocks.mjs'
import { checkProtocol, curlProtocols } from './lib/protocols.mjs'
import { smallMetrics, threadMetrics } from './lib/small-metrics.mjs'

const benchDir = dirname(fileURLToPath(import.meta.url))
const root = join(benchDir, '..')
const stateDir = join(benchDir, '.bench') // git-ignored: served files, addon copy, run dirs
const MiB = 1024 * 1024

// ---------------------------------------------------------------- options

const LARGE = { name: '200m.bin', size: 200 * MiB }
const SMALL_FILES = { '1k': { name: '1k.bin', size: 1024 }, '64k': { name: '64k.bin', size: 64 * 1024 } }

const opts = parseArgs(process.argv.slice(2), { defaultOut: join(root, 'BENCHMARKS.md'), smallFiles: SMALL_FILES })
const log = (...a) => process.stderr.write(`${a.join(' ')}\n`)

// ---------------------------------------------------------------- preparation

function sh(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...options })
  if (r.error) throw r.error
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})\n${r.stderr ?? ''}`)
  return (r.stdout ?? '').trim()
}

function newestMtime(dir, filter) {
  let newest = 0
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (filter(p)) newest = Math.max(newest, statSync(p).mtimeMs)
    }
  }
  walk(dir)
  return newest
}

/** dist/ (the compiled TypeScript) must be current: rebuilt with `npm run build:ts` when stale. */
function ensureDist() {
  if (!existsSync(join(root, 'node_modules'))) {
    throw new Error('the repository root has no node_modules: run `npm install` there first (it builds the addon and dist/)')
  }
  const index = join(root, 'dist', 'index.js')
  const stale = !existsSync(index) || newestMtime(join(root, 'src'), (p) => p.endsWith('.ts')) > statSync(index).mtimeMs
  if (stale) {
    log('dist/ is missing or older than src/: npm run build:ts')
    sh('npm', ['run', 'build:ts'], { cwd: root, stdio: 'inherit' })
  }
}

/** The addon the tt-download runs load (through NAPI_RS_NATIVE_LIBRARY_PATH). */
function ensureAddon() {
  if (opts.addon === 'dev') {
    const p = join(root, 'tt-download.linux-x64-gnu.node')
    return { path: p, profile: 'dev (root npm install build)' }
  }
  if (opts.addon) return { path: opts.addon, profile: 'given with --addon' }
  const triple = sh('rustc', ['-vV']).match(/^host: (.+)$/m)[1]
  const meta = JSON.parse(sh('cargo', ['metadata', '--format-version', '1', '--no-deps'], { cwd: root }))
  log('building the addon with the bench-release profile (a no-op when current; minutes on a cold target/)')
  // --features bench-switches: the egress pairs skip the egress check on one host of each
  // pair (egress.benchSkipCheck), and only an addon built with this feature accepts that;
  // every other build (npm install, releases) refuses it, so only the bench may skip the check.
  const r = spawnSync(
    'cargo',
    [
      'build',
      '--manifest-path',
      join(root, 'crates', 'node', 'Cargo.toml'),
      '--profile',
      'bench-release',
      '--target',
      triple,
      '--features',
      'bench-switches',
    ],
    { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] },
  )
  if (r.status !== 0) throw new Error('cargo build --profile bench-release failed')
  const built = join(meta.target_directory, triple, 'bench-release', 'libtt_download_node.so')
  const dest = join(stateDir, 'addon', 'tt-download.bench-release.node')
  mkdirSync(dirname(dest), { recursive: true })
  if (!existsSync(dest) || statSync(dest).mtimeMs < statSync(built).mtimeMs) copyFileSync(built, dest)
  return { path: dest, profile: 'bench-release (release + lto = "fat", codegen-units = 1), feature bench-switches' }
}

/** The file system of the bench's directories: "ext4 without a journal" when that is so. */
function fileSystem() {
  try {
    const [type, source] = sh('findmnt', ['-no', 'FSTYPE,SOURCE', '-T', stateDir]).split(/\s+/)
    if (type === 'ext4' && source?.startsWith('/dev/')) {
      const dev = source.slice(5).replace(/\//g, '!')
      if (existsSync(`/proc/fs/ext4/${dev}`) && !existsSync(`/proc/fs/jbd2/${dev}-8`)) return 'ext4 without a journal'
    }
    return type
  } catch {
    return 'unknown'
  }
}

function environment(server, addon) {
  const tryRun = (cmd, args) => {
    try {
      return sh(cmd, args)
    } catch {
      return 'unknown'
    }
  }
  const pkgVersion = (name) => {
    try {
      return JSON.parse(readFileSync(join(benchDir, 'node_modules', name, 'package.json'), 'utf8')).version
    } catch {
      return 'missing'
    }
  }
  const dirty = tryRun('git', ['-C', root, 'status', '--porcelain', '--', 'crates', 'src', 'Cargo.toml', 'Cargo.lock']) !== ''
  return {
    date: new Date().toISOString(),
    cpu: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    cores: cpus().length,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    kernel: release(),
    fs: fileSystem(),
    node: process.version,
    curl: tryRun('curl', ['--version']).split('\n')[0],
    nginx: server.version,
    undici: pkgVersion('undici'),
    got: pkgVersion('got'),
    commit: `${tryRun('git', ['-C', root, 'rev-parse', '--short', 'HEAD'])}${dirty ? ' + uncommitted changes in crates/ or src/' : ''}`,
    addon: `${addon.profile}; ${relative(root, addon.path)} (${(statSync(addon.path).size / MiB).toFixed(1)} MiB)${
      opts.baselineAddon === undefined
        ? ''
        : `; baseline (peer tt-baseline): ${opts.baselineAddon}${opts.baselineTree === undefined ? '' : ` with the host code of ${opts.baselineTree}`}`
    }${opts.ttThreads === undefined ? '' : `; peer tt-threads: createEngine({ threads: ${opts.ttThreads} })`}`,
  }
}

// ---------------------------------------------------------------- running one entry

const workRoot = join(stateDir, 'work')
const hasGnuTime = existsSync('/usr/bin/time')
let addonPath
let caFile

/**
 * Mass deletes slow down file creation here for tens of seconds: this file system (ext4 without
 * a journal) skips inodes deleted in the last 5-30 s when it allocates new ones, scanning them
 * in kernel time on every create (measured: 40 µs per 1 KiB file on a settled disk, 400-700 µs
 * while thousands of inodes were just freed, for curl as for every other peer). So the
 * directories of small-file runs are not deleted right after the run: they go to a trash,
 * emptied between comparisons when it grows large (the next comparison then waits in
 * settleDisk until creating a file is cheap again) and at the end. A 200 MiB run (one inode) is deleted at once.
 */
const trash = { dirs: [], bytes: 0, files: 0 }
const TRASH_MAX_BYTES = 6 * 2 ** 30
const TRASH_MAX_FILES = 250_000

function trashRun(runDir, files, bytes) {
  trash.dirs.push(runDir)
  trash.files += files
  // 4 KiB blocks at least per file.
  trash.bytes += Math.max(bytes, files * 4096)
}

/** Deletes the trash (when `force` or over its limits), then waits for the disk to settle. */
async function emptyTrash(force, settle = true) {
  if (!force && trash.bytes < TRASH_MAX_BYTES && trash.files < TRASH_MAX_FILES) return
  if (trash.dirs.length === 0) return
  const { files } = trash
  for (const d of trash.dirs) rmSync(d, { recursive: true, force: true })
  trash.dirs = []
  trash.bytes = 0
  trash.files = 0
  spawnSync('sync')
  if (settle) log(`  deleted ${files} files of earlier runs`)
}

/**
 * After deletes (here or by other processes) creating a file stays expensive for a while.
 * Before a comparison: probe the create cost every 5 s while it is above 100 µs, for at most
 * `settleMs`. A machine where a full wait never got it below 100 µs is not waited for again
 * beyond twice its cheapest probe. Returns the last probe (µs per file).
 */
let settleGaveUp = false
async function settleDisk(label) {
  let probe = createProbe()
  const deadline = performance.now() + opts.settleMs
  const limit = () => (settleGaveUp ? Math.max(100, 2 * Math.min(...results.createProbes, probe)) : 100)
  while (probe > limit() && performance.now() < deadline) {
    log(`  ${label}: creating a 1 KiB file costs ${fmt(probe, 0)} µs; waiting for the file system to settle`)
    await sleep(5000)
    probe = createProbe()
  }
  if (probe > 100 && performance.now() >= deadline) settleGaveUp = true
  results.createProbes.push(probe)
  return probe
}

/** Runs one peer once in a fresh directory (a 200 MiB run's is deleted at once, others trashed). */
async function runOne(peer, job) {
  mkdirSync(workRoot, { recursive: true })
  const runDir = mkdtempSync(join(workRoot, `${peer}-`))
  const outDir = join(runDir, 'out')
  mkdirSync(outDir)
  let stored
  try {
    const full = { ...job, outDir, caFile }
    const result = peer === 'curl' ? await runCurl(full, runDir) : await runNode(peer, full)
    stored = result.stored
    checkStored(peer, job, result)
    checkProtocol(peer, job, result)
    return result
  } finally {
    if (job.mode === 'large' || !stored) {
      rmSync(runDir, { recursive: true, force: true })
    } else {
      trashRun(runDir, stored.files, stored.bytes)
    }
    // What the run left dirty is written out now, between runs.
    spawnSync('sync')
  }
}

/**
 * The cost of creating a file right now (200 x 1 KiB, kept until the trash is emptied), µs per
 * file: recorded before every comparison so that a disturbed disk shows in the report.
 */
function createProbe() {
  mkdirSync(workRoot, { recursive: true })
  const { us, dir } = createCost(workRoot)
  trashRun(dir, PROBE_FILES, PROBE_FILES * 1024)
  return us
}

function checkStored(peer, job, result) {
  const expected =
    job.mode === 'large' ? 1 : job.mode === 'pairs' ? job.warmup + 2 * job.pairs * job.count : job.count + (job.warmCount ?? 0)
  const { files, bytes } = result.stored
  if (files !== expected || bytes !== expected * job.size) {
    throw new Error(`${peer}: stored ${files} files / ${bytes} bytes, expected ${expected} / ${expected * job.size}`)
  }
}

/** `stdoutFd`: the child's stdout goes to that file instead of the result's `stdout`. */
function runChild(cmd, args, env, { timeoutMs = 600_000, onSpawn, stdoutFd } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const stdio = ['ignore', stdoutFd ?? 'pipe', 'pipe']
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio })
    onSpawn?.(child)
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, wallMs: performance.now() - t0 })
    })
  })
}

async function runNode(peer, job) {
  const args = job.mode === 'idle' ? ['--expose-gc'] : []
  const addon = peer === 'tt-baseline' ? opts.baselineAddon : addonPath
  const env = peer.startsWith('tt') ? { NAPI_RS_NATIVE_LIBRARY_PATH: addon } : {}
  if (peer === 'tt-baseline' && opts.baselineTree !== undefined) env.TT_BENCH_TREE = resolvePath(opts.baselineTree)
  if (peer === 'tt-threads') env.TT_BENCH_THREADS = String(opts.ttThreads)
  if (peer === 'tt-hyper-http1') env.TT_BENCH_HTTP1 = 'hyper'
  const r = await runChild(process.execPath, [...args, join(benchDir, 'peers', 'worker.mjs'), peer, JSON.stringify(job)], env)
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '))
  if (r.code !== 0 || !line) throw new Error(`${peer} exited ${r.code ?? r.signal}: ${r.stderr.trim().slice(-2000)}`)
  const result = JSON.parse(line.slice(7))
  if (peer.startsWith('tt') && !result.extra?.addons?.some((a) => a === addon)) {
    throw new Error(`${peer} loaded ${result.extra?.addons?.join(', ')} instead of ${addon}`)
  }
  return result
}

/**
 * curl, one process per run: `--http1.1 --parallel --parallel-max C -K <config>` (the HTTP/2
 * grid: `--http2`, and curl multiplexes the parallel transfers on one connection). Its time
 * is the wall time from spawn to exit (process start included: conservative for curl); per
 * download latency is curl's own `time_total`; CPU, context switches and peak RSS come from
 * GNU time. With a warm block, see lib/curl-blocks.mjs.
 */
async function runCurl(job, runDir) {
  const write = '%{http_code} %{time_total} %{size_download} %{http_version} %{num_connects}\\n'
  const version = job.http === '2' ? '--http2' : '--http1.1'
  const args = [version, '--silent', '--show-error', '--cacert', job.caFile, '--write-out', write]
  const warm = job.mode === 'small' ? (job.warmCount ?? 0) : 0
  if (job.mode === 'large') {
    args.push('--output', join(job.outDir, '0.bin'), job.url)
  } else {
    const cfg = join(runDir, 'curl.cfg')
    let text = ''
    for (let i = 0; i < job.count + warm; i++) text += `url = "${job.url}"\noutput = "${join(job.outDir, `${i}.bin`)}"\n`
    writeFileSync(cfg, text)
    args.push('--parallel', '--parallel-max', String(job.concurrency), '--config', cfg)
  }
  const timeFile = join(runDir, 'time.txt')
  // A warm block: the --write-out lines go, one write per line, to a file watched meanwhile.
  const linesFile = join(runDir, 'lines.txt')
  const linesFd = warm > 0 ? openSync(linesFile, 'w') : undefined
  const cmd = warm > 0 ? ['stdbuf', '-oL', 'curl', ...args] : ['curl', ...args]
  let spawnedAt
  let watch
  const onSpawn = (child) => {
    spawnedAt = performance.now()
    const pidOf = hasGnuTime ? () => childPid(child.pid) : () => child.pid
    if (warm > 0) watch = watchLines({ linesFile, boundaries: [job.count, job.count + warm], pidOf })
  }
  let r
  try {
    r = hasGnuTime
      ? await runChild('/usr/bin/time', ['-f', '%e %U %S %M %w %c', '-o', timeFile, ...cmd], {}, { onSpawn, stdoutFd: linesFd })
      : await runChild(cmd[0], cmd.slice(1), {}, { onSpawn, stdoutFd: linesFd })
  } finally {
    if (linesFd !== undefined) closeSync(linesFd)
  }
  const marks = watch?.stop()
  if (r.code !== 0) throw new Error(`curl exited ${r.code ?? r.signal}: ${r.stderr.trim().slice(-2000)}`)
  const lines = (warm > 0 ? readFileSync(linesFile, 'utf8') : r.stdout)
    .trim()
    .split('\n')
    .map((l) => l.split(' '))
  if (lines.some((f) => f[0] !== '200')) throw new Error('curl: a download did not return 200')
  const result = { peer: 'curl', mode: job.mode, elapsedMs: r.wallMs, stored: tally(job.outDir), extra: curlProtocols(lines) }
  const latencies = lines.map((f) => Number(f[1]) * 1000)
  if (job.mode === 'small') result.latencies = latencies
  const exit = { t: spawnedAt + r.wallMs, cpuMs: NaN, switches: NaN }
  if (hasGnuTime) {
    const [, user, sys, maxKb, voluntary, involuntary] = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number)
    exit.cpuMs = (user + sys) * 1000
    exit.switches = voluntary + involuntary
    result.procCpuMs = exit.cpuMs
    result.switches = exit.switches
    result.rssPeak = maxKb * 1024
  }
  if (warm > 0) {
    const { cold, warm: block } = curlBlocks({ marks, spawnedAt, exit, count: job.count, latencies })
    Object.assign(result, cold)
    result.warm = block
  }
  return result
}

function tally(dir) {
  let files = 0
  let bytes = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isFile()) {
      files++
      bytes += statSync(join(dir, e.name)).size
    }
  }
  return { files, bytes }
}

// ---------------------------------------------------------------- comparisons

/**
 * Runs `rounds` rounds of the peers in a new shuffled order each round. Returns, per round,
 * a map peer -> metrics (from `metrics(result)`), or { error } for a failed entry.
 */
async function compare(label, peers, rounds, job, metrics) {
  await emptyTrash(false)
  const probe = await settleDisk(label)
  results.probeByLabel[label] = probe
  log(`  ${label}: creating a 1 KiB file costs ${fmt(probe, 0)} µs now`)
  const out = []
  for (let r = 0; r < rounds; r++) {
    await beforeRound(label)
    const round = {}
    const order = shuffle(peers)
    for (const peer of order) {
      try {
        const result = await runOne(peer, job)
        round[peer] = metrics(result, job)
      } catch (error) {
        log(`  ${label} round ${r + 1} ${peer}: FAILED ${error.message}`)
        round[peer] = { error: error.message }
      }
    }
    log(`  ${label} round ${r + 1}/${rounds} (${order.map((p) => PEER_LABEL[p]).join(', ')}): ${brief(round)}`)
    out.push(round)
  }
  return out
}

function brief(round) {
  return Object.entries(round)
    .map(([p, m]) => `${PEER_LABEL[p]} ${m.error ? 'ERR' : fmt(m.dps ?? m.mbps ?? m.idleGrowthMiB)}`)
    .join(' · ')
}

/** Share of the machine's CPU time that was busy over `ms` (nothing of the bench runs then). */
async function cpuBusy(ms) {
  const sample = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    const idle = f[3] + (f[4] || 0)
    return { idle, total: f.reduce((a, b) => a + b, 0) }
  }
  const a = sample()
  await sleep(ms)
  const b = sample()
  return b.total > a.total ? 1 - (b.idle - a.idle) / (b.total - a.total) : 0
}

/**
 * Other processes on the machine distort every figure: the CPU use of the machine is sampled
 * for 300 ms before each round (the bench itself idle) and reported; with --wait-quiet the
 * round waits (up to 2 minutes) until it is below 15%.
 */
async function beforeRound(label) {
  let busy = await cpuBusy(300)
  if (opts.waitQuiet) {
    const deadline = performance.now() + 120_000
    while (busy > 0.15 && performance.now() < deadline) {
      log(`  ${label}: machine ${fmt(busy * 100, 0)}% busy before the round, waiting`)
      await sleep(2000)
      busy = await cpuBusy(300)
    }
  }
  results.busy.push(busy)
}

// ---------------------------------------------------------------- scenarios

const results = {
  large: {},
  small: {},
  smallH2: {},
  idle: undefined,
  profile: undefined,
  egress: undefined,
  diagnostics: undefined,
  curlStart: {},
  busy: [],
  createProbes: [],
  probeByLabel: {},
}

async function scenarioLarge(server) {
  for (const proto of opts.protocols) {
    const url = `${proto === 'https' ? server.httpsBase : server.httpBase}/${LARGE.name}`
    // curl's baseline RSS (a 1 KiB download) makes its peak comparable as a growth.
    let curlBase = NaN
    if (opts.peers.includes('curl') && hasGnuTime) {
      const small = `${proto === 'https' ? server.httpsBase : server.httpBase}/1k.bin`
      const peaks = []
      for (let i = 0; i < 3; i++) {
        peaks.push((await runOne('curl', { mode: 'large', url: small, size: 1024 })).rssPeak)
      }
      curlBase = median(peaks)
    }
    log(`200 MiB over ${proto.toUpperCase()} to disk`)
    const job = { mode: 'large', url, size: LARGE.size, concurrency: 1 }
    results.large[proto] = await compare(`200MiB ${proto}`, opts.peers, opts.runs, job, (r) => ({
      mbps: LARGE.size / 1e6 / (r.elapsedMs / 1000),
      rssPeakMiB: r.rssPeak / MiB,
      rssGrowthMiB: r.peer === 'curl' ? (r.rssPeak - curlBase) / MiB : (r.rssPeak - r.rssBefore) / MiB,
      mainCpuMs: r.mainCpuMs,
      ...threadMetrics(r, 1),
    }))
    emit()
  }
}

async function scenarioSmall(server) {
  for (const size of opts.sizes) {
    for (const proto of opts.protocols) {
      for (const c of opts.concurrency) {
        const file = SMALL_FILES[size]
        const url = `${proto === 'https' ? server.httpsBase : server.httpBase}/${file.name}`
        const key = `${size} ${proto} c${c}`
        log(`${opts.count} + ${opts.warmCount} x ${size} over ${proto.toUpperCase()} at concurrency ${c}`)
        const job = { mode: 'small', url, size: file.size, count: opts.count, warmCount: opts.warmCount, concurrency: c }
        results.small[key] = {
          size,
          proto,
          c,
          rounds: await compare(key, opts.peers, opts.runs, job, smallMetrics),
        }
        emit()
      }
    }
  }
}

/**
 * The small-file grid over HTTPS with HTTP/2 (nginx's http2 port): the peers that speak h2,
 * each on one connection that carries every download (tt-download and curl multiplex on
 * their own; undici's Agent is given one connection). runOne checks that every download
 * really went over h2 (lib/protocols.mjs).
 */
async function scenarioSmallH2(server) {
  const peers = opts.peers.filter((p) => H2_PEERS.includes(p))
  if (peers.length === 0) {
    log(`small-h2: none of the peers ${opts.peers.join(',')} speaks HTTP/2 here (${H2_PEERS.join(',')}); skipped`)
    return
  }
  for (const size of opts.sizes) {
    for (const c of opts.concurrency) {
      const file = SMALL_FILES[size]
      const key = `${size} h2 c${c}`
      log(`${opts.count} + ${opts.warmCount} x ${size} over HTTPS with HTTP/2 at concurrency ${c}`)
      const url = `${server.h2Base}/${file.name}`
      const job = { mode: 'small', http: '2', url, size: file.size, count: opts.count, warmCount: opts.warmCount, concurrency: c }
      results.smallH2[key] = { size, proto: 'h2', c, rounds: await compare(key, peers, opts.runs, job, smallMetrics) }
      emit()
    }
  }
}

/**
 * The disk's own cost for one small file, the floor of every peer here: open(O_CREAT|O_EXCL)
 * + write 1 KiB + close, in a fresh directory; and the same in a staging directory followed
 * by a rename into another directory (tt-download's storage path). µs per file, median of 3 x 1000.
 */
function diskBaseline() {
  const buf = Buffer.alloc(1024, 1)
  const once = (rename) => {
    mkdirSync(workRoot, { recursive: true })
    const dir = mkdtempSync(join(workRoot, 'disk-'))
    const staging = join(dir, 'staging')
    const target = join(dir, 'target')
    mkdirSync(staging)
    mkdirSync(target)
    const t0 = performance.now()
    for (let i = 0; i < 1000; i++) {
      const p = join(rename ? staging : target, `${i}.part`)
      const fd = openSync(p, 'wx')
      writeSync(fd, buf)
      closeSync(fd)
      if (rename) renameSync(p, join(target, `${i}.bin`))
    }
    const us = ((performance.now() - t0) * 1000) / 1000
    trashRun(dir, 1000, 1000 * 1024)
    return us
  }
  const plain = []
  const renamed = []
  for (let i = 0; i < 3; i++) {
    plain.push(once(false))
    renamed.push(once(true))
  }
  return { createUs: median(plain), createRenameUs: median(renamed) }
}

async function scenarioIdle(server) {
  const peers = opts.peers.filter((p) => p !== 'curl')
  const url = `${server.httpsBase}/64k.bin`
  log(`RSS over an idle client: 200 x 64 KiB over HTTPS at concurrency 16, then ${opts.idleMs} ms idle`)
  const job = { mode: 'idle', url, size: 64 * 1024, count: 200, concurrency: 16, idleMs: opts.idleMs }
  results.idle = await compare('idle', peers, opts.runs, job, (r) => ({
    loadedMiB: (r.rssLoaded - r.rssBoot) / MiB,
    rssLoadedMiB: r.rssLoaded / MiB,
    afterWorkMiB: r.rssAfterWork / MiB,
    idleGrowthMiB: (r.rssAfterIdle - r.rssAfterWork) / MiB,
    maxIdleMiB: r.rssMaxIdle / MiB,
  }))
  emit()
}

/** Pairs per measuring process: several processes, so their differences show too. */
const PAIRS_PER_PROCESS = 5

/**
 * The on/off comparisons of tt-download: `flip` is the switch the worker's pairs mode turns
 * on and off (peers/tt.mjs: `profile` is enableProfile; `egress` false downloads through a
 * second host that skips the egress check). results[name] holds the pairs.
 */
const PAIR_SCENARIOS = {
  profile: { flip: 'profile', label: 'profile on vs off', on: 'on', off: 'off' },
  egress: { flip: 'egress', label: 'egress check on vs off', on: 'check on', off: 'check off' },
  diagnostics: { flip: 'diagnostics', label: 'diagnostics subscriber on vs off', on: 'observed', off: 'unobserved' },
}

async function scenarioPairs(server, name) {
  const { flip, label, on, off } = PAIR_SCENARIOS[name]
  const url = `${server.httpBase}/1k.bin`
  const c = 16
  const warmup = Math.min(opts.profileCount, 1000)
  log(
    `${label}: ${opts.pairs} pairs of ${opts.profileCount} x 1 KiB over HTTP at concurrency ${c}, interleaved inside ${Math.ceil(opts.pairs / PAIRS_PER_PROCESS)} processes`,
  )
  await emptyTrash(false)
  await settleDisk(name)
  const pairs = []
  // Connections each process opened (both sides, warm-up included): where the egress check runs.
  const dials = []
  for (let done = 0; done < opts.pairs; done += PAIRS_PER_PROCESS) {
    const n = Math.min(PAIRS_PER_PROCESS, opts.pairs - done)
    await beforeRound(`${name} pairs ${done + 1}-${done + n}`)
    const job = { mode: 'pairs', flip, url, size: 1024, count: opts.profileCount, warmup, pairs: n, concurrency: c }
    try {
      const r = await runOne('tt', job)
      for (const pair of r.pairs) {
        log(
          `  ${name} pair ${pairs.length + 1}/${opts.pairs}: ${on} ${fmt(pair.on.dps)}/s ${fmt(pair.on.cpuUsPerDl)} µs CPU/dl, ${off} ${fmt(pair.off.dps)}/s ${fmt(pair.off.cpuUsPerDl)} µs CPU/dl, ratio ${fmt(pair.ratio, 3)}`,
        )
        pairs.push(pair)
      }
      // Every download of the egress pairs is profiled (on both sides), so this counts them all.
      if (flip === 'egress' && r.extra) dials.push(r.extra.profiled - r.extra.reused)
    } catch (error) {
      log(`  ${name} pairs ${done + 1}-${done + n}: FAILED ${error.message}`)
      results.notes.push(`${label}: the process of pairs ${done + 1}-${done + n} failed (${error.message.split('\n')[0]}).`)
    }
  }
  results[name] = { pairs, c, size: '1k', proto: 'http', inProcess: PAIRS_PER_PROCESS, warmup, ...(flip === 'egress' ? { dials } : {}) }
  emit()
}

// ---------------------------------------------------------------- report

let env
let startedAt

/** Notes on the disk, from the probes (computed at each emit, so a re-render rewrites them). */
function diskNotes() {
  if (!results.disk?.end) return []
  const notes = []
  notes.push(
    `Disk floor (the same directory tree the peers write to; one synchronous process): ${diskFloorText(results.disk)}. Every small-file run creates one file per download, so this cost bounds all peers alike; tt-download's storage path adds the rename.`,
  )
  const probes = summary(results.createProbes)
  const why =
    env.fs === 'ext4 without a journal'
      ? `This file system (${env.fs}) skips inodes deleted in the last 5-30 s when it allocates new ones and checks each of them in kernel time on every create (recently_deleted() in perf profiles): right after thousands of deletes, creating a 1 KiB file costs 400-700 µs of system CPU instead of about 30-80 µs, for every peer alike.`
      : 'Mass deletes can make file creation expensive for a while (ext4 without a journal, for one, skips recently deleted inodes when it allocates new ones).'
  notes.push(
    `${why} The bench therefore keeps the files of small-file runs until the end, or until they pass ${TRASH_MAX_FILES.toLocaleString('en-US')} files / ${TRASH_MAX_BYTES / 2 ** 30} GiB, and before each comparison probes the create cost (200 x 1 KiB) and waits (up to ${opts.settleMs / 1000} s) while it is above 100 µs. Create cost at the start of the comparisons: median ${fmt(probes.median, 0)} µs, range ${fmt(probes.min, 0)}–${fmt(probes.max, 0)} µs per file.`,
  )
  return notes
}

function emit(final = false) {
  const { sections, charts } = tablesAndCharts({ opts, results, pairScenarios: PAIR_SCENARIOS })
  const targets = targetRows({ opts, results })
  const chartDir = join(benchDir, 'charts')
  if (opts.write) {
    mkdirSync(chartDir, { recursive: true })
    for (const c of charts) writeFileSync(join(chartDir, c.file), c.svg)
  }
  const outDir = dirname(opts.out)
  const md = []
  md.push('# tt-download benchmarks', '')
  results.argv ??= process.argv.slice(2)
  md.push(
    `Written by \`npm run bench\` (benchmark/run.mjs${results.argv.length ? ' ' + results.argv.join(' ') : ''})${final ? '' : ' — run in progress, partial results'}.`,
    '',
  )
  md.push('## Setup', '')
  const pairNames = Object.keys(PAIR_SCENARIOS)
    .filter((name) => results[name])
    .map((name) => PAIR_SCENARIOS[name].label)
  md.push(
    `- Date: ${env.date.slice(0, 16).replace('T', ' ')} UTC; ${opts.quick ? '**quick mode** (fewer runs and downloads: indicative only)' : 'full mode'}: ${opts.runs} runs per comparison, ${opts.count} downloads per small-file run${opts.warmCount ? ` then ${opts.warmCount} more in the same process (the warm block)` : ''}, ${opts.pairs} pairs of ${opts.profileCount} downloads per on/off comparison${pairNames.length ? ` (${pairNames.join(', ')})` : ''}.`,
    `- Machine: ${env.cpu} (${env.cores} cores), ${env.memory} RAM, Linux ${env.kernel}; files on ${env.fs} on the same disk for every peer; all traffic over loopback (127.0.0.1).`,
    `- Server: nginx ${env.nginx} (Debian package), started by the bench: worker_processes auto, sendfile, tcp_nopush, keep-alive, access log off; HTTPS with a CA generated by the bench, TLS 1.2/1.3, ALPN http/1.1 only${Object.keys(results.smallH2).length ? '; for the HTTP/2 grid a third port with `http2` (ALPN offers h2)' : ''}. Server and clients share the ${env.cores} cores.`,
    `- Peers, each its own process per run, all over HTTP/1.1: ${env.curl.split(' (')[0]} (one process per run: \`--http1.1 --parallel --parallel-max C -K <config>\`), Node ${env.node} node:http piped to a file stream, undici ${env.undici} \`stream()\` to a file stream, got ${env.got} \`got.stream()\` piped to a file stream, tt-download through a full host (\`createHost\`, env test, profile on, \`host.download()\` into \`ttfile://temp\`: staging file then rename; maxConcurrent = C).${Object.keys(results.smallH2).length ? ' The HTTP/2 grid: curl `--http2 --parallel --parallel-max C`, undici `allowH2` on an Agent of one connection, tt-download as above (it offers h2 in ALPN and multiplexes on one connection), each download checked to have gone over h2.' : ''}`,
    `- tt-download: commit ${env.commit}; addon ${env.addon}.`,
    '- Entries of one comparison run in a new shuffled order every round; each run writes into a fresh directory, and its files are checked (count and bytes) after it was measured. A 200 MiB file is deleted right after its run; the files of small-file runs are deleted in batches between comparisons (see Notes).',
    '- Figures: median (min–max) over runs; ratios are computed within each round and then summarized the same way.',
    '',
  )
  md.push('## Targets (issue 7)', '')
  md.push(markdownTable({ columns: ['Target', 'This run (tt-download)', 'Status'], rows: targets }), '')
  const term = []
  term.push(
    '',
    '=== Targets (issue 7) ===',
    terminalTable({ columns: ['Target', 'This run', 'Status'], rows: targets.map((r) => r.map((c) => c.replace(/\*\*/g, ''))) }),
  )
  for (const s of sections) {
    md.push(`## ${s.title}`, '', s.text, '')
    term.push('', `=== ${s.title} ===`)
    for (const t of s.tables) {
      if (t.caption) md.push(`**${t.caption}**`, '')
      md.push(markdownTable(t), '')
      if (t.caption) term.push(`-- ${t.caption}`)
      term.push(terminalTable(t))
    }
    for (const c of s.charts) md.push(`![${s.title}](${relative(outDir, join(chartDir, c)).split('\\').join('/')})`, '')
  }
  const notes = [...(results.notes ?? []), ...diskNotes()]
  if (results.busy.length) {
    const b = summary(results.busy.map((x) => x * 100))
    const over = results.busy.filter((x) => x > 0.15).length
    notes.push(
      `Machine CPU busy (other processes) sampled for 300 ms before each of ${b.n} rounds: median ${fmt(b.median, 0)}%, max ${fmt(b.max, 0)}%; ${over} rounds started above 15%.${over ? ' Figures of those rounds are disturbed by other work on the machine.' : ''}`,
    )
  }
  if (notes.length) {
    md.push('## Notes', '', ...notes.map((n) => `- ${n}`), '')
    term.push('', '=== Notes ===', ...notes.map((n) => `- ${n}`))
  }
  if (!results.rerendered) results.totalMinutes = (performance.now() - startedAt) / 60000
  md.push(`Total bench time: ${fmt(results.totalMinutes, 1)} min.`, '')
  if (opts.write) {
    writeFileSync(opts.out, md.join('\n'))
    writeFileSync(
      join(benchDir, 'results.json'),
      JSON.stringify({ env, opts: { ...opts, out: relative(root, opts.out) }, results }, null, 1),
    )
  }
  if (final) process.stdout.write(term.join('\n') + '\n')
}

// ---------------------------------------------------------------- main

/** Re-renders the report from a saved results.json (e.g. after a change of the report code). */
function rerender(file) {
  startedAt = performance.now()
  const saved = JSON.parse(readFileSync(file, 'utf8'))
  env = saved.env
  Object.assign(results, saved.results)
  results.probeByLabel ??= {}
  // Saved before the HTTP/2 grid and the warm block existed.
  results.smallH2 ??= {}
  if (Object.keys(results.probeByLabel).length === 0) {
    // Saved before probes were keyed: they were taken in the order of the comparisons.
    const labels = [
      ...(saved.opts.only.includes('large') ? saved.opts.protocols.map((p) => `200MiB ${p}`) : []),
      ...(saved.opts.only.includes('small')
        ? saved.opts.sizes.flatMap((z) => saved.opts.protocols.flatMap((p) => saved.opts.concurrency.map((c) => `${z} ${p} c${c}`)))
        : []),
    ]
    labels.forEach((l, i) => (results.probeByLabel[l] = results.createProbes[i]))
  }
  results.rerendered = true
  const keep = { out: opts.out, write: opts.write }
  Object.assign(opts, saved.opts, keep)
  opts.warmCount = saved.opts.warmCount ?? 0
  emit(true)
  if (opts.write) log(`\nwrote ${relative(process.cwd(), opts.out)}, benchmark/charts/*.svg, benchmark/results.json`)
}

async function main() {
  if (opts.fromResults) return rerender(opts.fromResults)
  startedAt = performance.now()
  if (process.platform !== 'linux') throw new Error('the bench reads /proc: Linux only')
  ensureDist()
  const addon = ensureAddon()
  addonPath = addon.path
  const nginx = ensureNginx(log)
  const wwwDir = join(stateDir, 'www')
  mkdirSync(wwwDir, { recursive: true })
  ensureFile(join(wwwDir, LARGE.name), LARGE.size)
  for (const f of Object.values(SMALL_FILES)) ensureFile(join(wwwDir, f.name), f.size)
  if (existsSync(workRoot)) {
    // Left by an interrupted bench: deleting it makes creates slow for a while (see emptyTrash).
    rmSync(workRoot, { recursive: true, force: true })
    spawnSync('sync')
    log(`removed an old ${relative(root, workRoot)}`)
  }

  const server = await startNginx({ nginx, dir: mkdtempSync(join(stateDir, 'nginx-')), wwwDir, root, log })
  caFile = server.caFile
  const stop = async () => {
    await server.stop()
    rmSync(dirname(server.caFile), { recursive: true, force: true })
  }
  let interrupted = false
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      interrupted = true
      stop().finally(() => {
        rmSync(workRoot, { recursive: true, force: true })
        process.exit(130)
      })
    })
  }
  try {
    env = environment(server, addon)
    results.notes = []
    // curl's own start-up, included in its figures: a single 1 KiB download, median of 5.
    if (opts.peers.includes('curl')) {
      for (const proto of opts.protocols) {
        const url = `${proto === 'https' ? server.httpsBase : server.httpBase}/1k.bin`
        const times = []
        for (let i = 0; i < 5; i++) times.push((await runOne('curl', { mode: 'large', url, size: 1024 })).elapsedMs)
        results.curlStart[proto] = median(times)
      }
      results.notes.push(
        `curl's figures include its process start: one curl process downloading a single 1 KiB file takes ${Object.entries(
          results.curlStart,
        )
          .map(([p, t]) => `${fmt(t, 1)} ms (${p.toUpperCase()})`)
          .join(
            ', ',
          )} from spawn to exit. The Node peers' clocks start after their modules are loaded and the client constructed (no connection open yet).`,
      )
    }
    results.disk = { start: diskBaseline() }
    log(`disk floor: ${diskFloorText(results.disk)}`)
    if (!hasGnuTime) results.notes.push('GNU time (/usr/bin/time) is missing: curl CPU and RSS figures are not available.')
    if (opts.only.includes('large')) await scenarioLarge(server)
    if (opts.only.includes('small')) await scenarioSmall(server)
    if (opts.only.includes('small-h2')) await scenarioSmallH2(server)
    if (opts.only.includes('idle')) await scenarioIdle(server)
    for (const name of Object.keys(PAIR_SCENARIOS)) {
      if (opts.only.includes(name) && opts.peers.includes('tt')) await scenarioPairs(server, name)
    }
    results.disk.end = diskBaseline()
    emit(true)
    if (opts.write) log(`\nwrote ${relative(process.cwd(), opts.out)}, benchmark/charts/*.svg, benchmark/results.json`)
  } finally {
    if (!interrupted) await stop()
    rmSync(workRoot, { recursive: true, force: true })
  }
}

main().catch((error) => {
  log(error.stack ?? String(error))
  process.exit(1)
})
