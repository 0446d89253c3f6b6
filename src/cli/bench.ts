// `tt-download bench <url>`: COUNT downloads of one URL through one host, CONCURRENCY at a
// time; throughput, latency percentiles and the median of each derived phase (SPEC 10).
import { mkdtempSync, rmSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHost, DownloadError, now, phasesOf } from '../index.js'
import type { Host, Phases } from '../index.js'
import { CLI_APP_ID, HELP_OPTION, HOST_OPTIONS, HOST_OPTIONS_USAGE, hostConfigOf, intOption, oneUrl, parse, UsageError } from './args.js'
import { watchRefusals } from './egress.js'
import { fields, formatMs, table } from './format.js'
import { countView } from './progress.js'
import { proxyInUse, proxyNotice } from './proxy.js'

export const BENCH_USAGE = `Usage: tt-download bench <url> [options]

Downloads <url> COUNT times through one host, CONCURRENCY at a time, and prints
downloads/s, MB/s (10^6 bytes), latency p50/p90/p99 (downloadFile to success) and the
median of each phase from the profiles: dns, connect (TCP), tls, first byte (request to
response head) and transfer (the body). Downloads the egress policy refused name the
refused addresses on stderr, with the --allow that would allow them.

What is timed: from the first downloadFile call to the last download's end, the host's
whole path (policy, connection, transfer, storage, temp quota eviction). Not timed: the
removal of the stored files, which waits until the window has closed (temp/ holds at most
the host's tempQuota meanwhile); with --keep they stay.

Options:
  -n, --count COUNT         downloads to run (default 20)
  -c, --concurrency C       downloads at a time (default 4)
  --data-dir D              the host's dataDir; default: a temporary directory, removed
                            at the end
  --keep                    leave the stored files in --data-dir
${HOST_OPTIONS_USAGE}  --json                    print one JSON object: count, concurrency, proxy
                            (host:port, or null when direct), failed, failedByErrNo
                            {errNo: count}, downloadsPerSec, mbPerSec, latencyMs {p50,
                            p90, p99}, phasesMs {dns, connect, tls, firstByte,
                            transfer} (medians)
  -h, --help                show this help

Exit status: 0 when every download succeeded, 1 when any failed, 2 bad usage.
`

const OPTIONS = {
  ...HELP_OPTION,
  ...HOST_OPTIONS,
  count: { type: 'string', short: 'n' },
  concurrency: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  keep: { type: 'boolean' },
} as const

/** Stored files removed at a time once the window has closed: enough to keep the disk busy. */
const REMOVALS_AT_ONCE = 16

const MAX_COUNT = 1_000_000
const MAX_CONCURRENCY = 1_000

export interface BenchReport {
  count: number
  concurrency: number
  /** The proxy the downloads went through, `host:port`; null when they went direct. */
  proxy: string | null
  /** Downloads that ended in `fail`; the figures below cover the successes. */
  failed: number
  /** The failed downloads by their fail objects' errNo. */
  failedByErrNo: Record<number, number>
  /** Body bytes stored. */
  bytes: number
  /** From the first downloadFile call to the last download's end, ms. */
  elapsedMs: number
  downloadsPerSec: number
  /** 10^6 bytes per second. */
  mbPerSec: number
  /** null when nothing succeeded. */
  latencyMs: { p50: number | null; p90: number | null; p99: number | null }
  phasesMs: { [K in keyof Phases]: number | null }
}

export async function runBench(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, OPTIONS)
  if (values.help === true) {
    process.stdout.write(BENCH_USAGE)
    return 0
  }
  const url = oneUrl(positionals)
  const hostConfig = hostConfigOf(values)
  // Read now, as the host reads `proxy: 'env'` when it is created below.
  const proxyUse = proxyInUse(url, hostConfig.proxy, process.env)
  const count = intOption('count', values.count, 20, 1, MAX_COUNT)
  const concurrency = intOption('concurrency', values.concurrency, 4, 1, MAX_CONCURRENCY)
  const json = values.json === true

  const tempDir = values['data-dir'] === undefined
  if (tempDir && values.keep === true) throw new UsageError('--keep needs --data-dir: the default data directory is removed at the end')
  const dataDir = values['data-dir'] ?? mkdtempSync(join(tmpdir(), 'tt-download-bench-'))
  let host: Host | undefined
  const refusals = watchRefusals(CLI_APP_ID)
  try {
    try {
      host = createHost({ appId: CLI_APP_ID, dataDir, ...hostConfig, maxConcurrent: concurrency })
    } catch (error) {
      if (error instanceof TypeError) throw new UsageError(error.message)
      throw error
    }
    if (proxyUse !== undefined) process.stderr.write(proxyNotice('bench', proxyUse))
    if (!json) process.stdout.write(`tt-download bench: ${count} x GET ${url}, ${concurrency} at a time\n`)
    const proxy = proxyUse === undefined ? null : proxyUse.hostPort
    const { report, stored } = await bench(host, url, count, concurrency, proxy)
    // The temporary data directory goes as a whole below.
    if (!tempDir && values.keep !== true) await removeAll(stored)
    const hint = refusals.hint('bench')
    if (hint !== undefined) process.stderr.write(hint)
    process.stdout.write(json ? JSON.stringify(report) + '\n' : describe(report))
    return report.failed === 0 ? 0 : 1
  } finally {
    refusals.stop()
    await host?.close()
    if (tempDir) rmSync(dataDir, { recursive: true, force: true })
  }
}

interface Sample {
  latency: number
  bytes: number
  phases: Phases
}

async function removeAll(paths: string[]): Promise<void> {
  const queue = [...paths]
  const worker = async () => {
    for (let path = queue.pop(); path !== undefined; path = queue.pop()) await rm(path, { force: true })
  }
  await Promise.all(Array.from({ length: REMOVALS_AT_ONCE }, worker))
}

async function bench(
  host: Host,
  url: string,
  count: number,
  concurrency: number,
  proxy: string | null,
): Promise<{ report: BenchReport; stored: string[] }> {
  const samples: Sample[] = []
  // Removing a file as soon as it is stored would put an unlink (and on some disks a slower
  // create after it) inside the window: the bench would time its own bookkeeping.
  const stored: string[] = []
  let firstFail: string | undefined
  let next = 0
  const progress = countView('bench', count)
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++
      try {
        const result = await host.download({ url })
        const finishedAt = now()
        const p = result.profile
        if (p !== undefined) samples.push({ latency: finishedAt - p.invokeStart, bytes: result.dataLength, phases: phasesOf(p) })
        stored.push(host.realPath(result.tempFilePath ?? result.filePath))
      } catch (error) {
        if (!(error instanceof DownloadError)) throw error
        firstFail ??= error.errMsg
      }
      progress.increment()
    }
  }
  const started = now()
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  } finally {
    progress.stop()
  }
  const elapsedMs = now() - started
  // The failure counts are the host's own (SPEC 12 `stats()`), as an operator would read them.
  const { failed, failedByErrNo } = host.stats()
  if (firstFail !== undefined) process.stderr.write(`tt-download bench: ${failed} of ${count} failed, first: ${firstFail}\n`)

  const seconds = elapsedMs / 1000
  const bytes = samples.reduce((sum, s) => sum + s.bytes, 0)
  const latencies = samples.map((s) => s.latency)
  const at = (values: number[], p: number) => round(percentile(values, p))
  const median = (key: keyof Phases) =>
    at(
      samples.map((s) => s.phases[key]),
      50,
    )
  const report = {
    count,
    concurrency,
    proxy,
    failed,
    failedByErrNo,
    bytes,
    elapsedMs: round(elapsedMs),
    downloadsPerSec: round(samples.length / seconds),
    mbPerSec: round(bytes / 1e6 / seconds),
    latencyMs: { p50: at(latencies, 50), p90: at(latencies, 90), p99: at(latencies, 99) },
    phasesMs: {
      dns: median('dns'),
      connect: median('connect'),
      tls: median('tls'),
      firstByte: median('firstByte'),
      transfer: median('transfer'),
    },
  }
  return { report, stored }
}

/** Microsecond precision: the clock's digits beyond it are noise in a report. */
function round<T extends number | null>(value: T): T {
  return (value === null ? null : Math.round(value * 1000) / 1000) as T
}

/** Nearest-rank percentile (a value that was measured, never an interpolation); null if empty. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[rank - 1]!
}

function describe(r: BenchReport): string {
  const ms = (value: number | null) => (value === null ? '-' : formatMs(value))
  const failures = Object.entries(r.failedByErrNo).map(([errNo, n]) => `${n} x ${errNo}`)
  const summary = fields([
    ['succeeded', `${r.count - r.failed} of ${r.count}`],
    ...(failures.length === 0 ? [] : [['failed', failures.join(', ')] as [string, string]]),
    ['proxy', r.proxy ?? 'none (direct)'],
    ['elapsed', `${formatMs(r.elapsedMs)} ms`],
    ['downloads/s', r.downloadsPerSec.toFixed(1)],
    ['MB/s', `${r.mbPerSec.toFixed(2)} (10^6 bytes)`],
    ['latency ms', `p50 ${ms(r.latencyMs.p50)}, p90 ${ms(r.latencyMs.p90)}, p99 ${ms(r.latencyMs.p99)}`],
  ])
  const ph = r.phasesMs
  const phases = table(
    ['dns', 'connect', 'tls', 'first byte', 'transfer'],
    [[ms(ph.dns), ms(ph.connect), ms(ph.tls), ms(ph.firstByte), ms(ph.transfer)]],
  )
  return `${summary}\n\nPhase medians, ms (connect = TCP, first byte = request to head, transfer = body)\n${phases}\n`
}
