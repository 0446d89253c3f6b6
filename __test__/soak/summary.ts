// The run's summary: the figures it prints, and the `SOAK-RESULT <json>` line soak.spec.ts reads.
import { MiB, NATIVE_BOUND, RSS_BOUND, TEMP_QUOTA } from './bounds.js'
import type { Baseline } from './leaks.js'
import type { FdCount, MemorySample } from './measure.js'
import { violations } from './violations.js'

/** The counters run.ts keeps as calls are launched, end and are verified. */
export interface Counters {
  downloads: number
  launched: ReadonlyMap<string, number>
  successes: number
  fails: ReadonlyMap<number, number>
  chaos: ReadonlyMap<string, number>
  verified: number
  verifiedBytes: number
  tempStored: number
  tempEvicted: number
  h2Defence: number
}

/** What the end of the run found and measured, beside the counters. */
export interface EndOfRun {
  launchedMs: number
  hostsCreated: number
  tripwireConnections: number
  stagingFiles: number
  strayFiles: number
  warm: Baseline
  rssMid: number | undefined
  beforeEngineClose: { fd: FdCount; rss: number }
  fdEnd: FdCount
  memoryEnd: MemorySample
}

export interface Summary {
  seed: number
  seconds: number
  downloads: number
  successes: number
  failsByErrNo: Record<string, number>
  faults: Record<string, number>
  chaos: Record<string, number>
  hostsCreated: number
  verifiedFiles: number
  verifiedMiB: number
  tempStored: number
  tempEvicted: number
  lostCallbacks: number
  doubleCallbacks: number
  unexpectedOutcomes: number
  h2ServerDefence: number
  hashMismatches: number
  tripwireConnections: number
  stagingFiles: number
  strayFiles: number
  fd: { warm: number; beforeEngineClose: number; end: number }
  rssMiB: {
    warm: number
    mid: number | null
    beforeEngineClose: number
    end: number
    bound: number
    nativeGrowth: number
    nativeBound: number
  }
  heapUsedMiB: { warm: number; end: number }
  leaks: number
  violations: number
}

const violationCount = (kind: string) => violations.get(kind)?.length ?? 0
const inMiB = (bytes: number) => +(bytes / MiB).toFixed(1)

/** The key order is the order of the SOAK-RESULT json. */
export function buildSummary(seed: number, stats: Counters, end: EndOfRun): Summary {
  const { warm, memoryEnd } = end
  return {
    seed,
    seconds: Math.round(end.launchedMs / 100) / 10,
    downloads: stats.downloads,
    successes: stats.successes,
    failsByErrNo: Object.fromEntries([...stats.fails].sort((a, b) => a[0] - b[0])),
    faults: Object.fromEntries(stats.launched),
    chaos: Object.fromEntries(stats.chaos),
    hostsCreated: end.hostsCreated,
    verifiedFiles: stats.verified,
    verifiedMiB: Math.round((stats.verifiedBytes / MiB) * 10) / 10,
    tempStored: stats.tempStored,
    tempEvicted: stats.tempEvicted,
    lostCallbacks: violationCount('lost'),
    doubleCallbacks: violationCount('double'),
    unexpectedOutcomes: violationCount('outcome'),
    h2ServerDefence: stats.h2Defence,
    hashMismatches: violationCount('hash'),
    tripwireConnections: end.tripwireConnections,
    stagingFiles: end.stagingFiles,
    strayFiles: end.strayFiles,
    fd: { warm: warm.fd.total, beforeEngineClose: end.beforeEngineClose.fd.total, end: end.fdEnd.total },
    rssMiB: {
      warm: inMiB(warm.memory.rss),
      mid: end.rssMid === undefined ? null : inMiB(end.rssMid),
      beforeEngineClose: inMiB(end.beforeEngineClose.rss),
      end: inMiB(memoryEnd.rss),
      bound: RSS_BOUND / MiB,
      nativeGrowth: inMiB(memoryEnd.native - warm.memory.native),
      nativeBound: NATIVE_BOUND / MiB,
    },
    heapUsedMiB: { warm: inMiB(warm.memory.heap), end: inMiB(memoryEnd.heap) },
    leaks: violationCount('fd') + violationCount('staging') + violationCount('stray') + violationCount('rss'),
    violations: [...violations.values()].reduce((n, list) => n + list.length, 0),
  }
}

function formatMap<K>(map: ReadonlyMap<K, number>): string {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${String(k)}: ${v}`)
    .join(', ')
}

/** The figures, then every violation (at most 10 lines of each kind), then the SOAK-RESULT line. */
export function printSummary(summary: Summary, stats: Counters, end: EndOfRun): void {
  printFigures(summary, stats, end)
  printViolations()
  console.log(`SOAK-RESULT ${JSON.stringify(summary)}`)
}

function printFigures(summary: Summary, stats: Counters, end: EndOfRun): void {
  const { warm, beforeEngineClose } = end
  console.log(`soak: seed ${summary.seed}`)
  console.log(
    `  downloads     ${summary.downloads} in ${summary.seconds} s (${(summary.downloads / summary.seconds).toFixed(0)}/s), ${summary.hostsCreated} hosts`,
  )
  console.log(`  successes     ${summary.successes} (${summary.verifiedFiles} files verified by sha256, ${summary.verifiedMiB} MiB)`)
  console.log(
    `  temp/         ${summary.tempStored} files stored and checked at delivery, ${summary.tempEvicted} evicted (tempQuota ${TEMP_QUOTA / 1024} KiB per host)`,
  )
  console.log(`  fails         ${formatMap(stats.fails)}`)
  console.log(`  faults        ${formatMap(stats.launched)}`)
  console.log(`  chaos         ${formatMap(stats.chaos)}`)
  console.log(`  h2 churn      ${stats.h2Defence} downloads refused by the h2Churn server's reset defences (121591, allowed there only)`)
  console.log(
    `  callbacks     lost ${summary.lostCallbacks}, double ${summary.doubleCallbacks}, unexpected outcomes ${summary.unexpectedOutcomes}, hash mismatches ${summary.hashMismatches}`,
  )
  console.log(
    `  fds           after warm-up ${warm.fd.total}, before engine.close ${beforeEngineClose.fd.total} (${beforeEngineClose.fd.files} files, ${beforeEngineClose.fd.sockets} sockets), at the end ${end.fdEnd.total}`,
  )
  console.log(
    `  rss           after warm-up ${summary.rssMiB.warm} MiB, mid-run ${summary.rssMiB.mid ?? '-'} MiB, ` +
      `before engine.close ${summary.rssMiB.beforeEngineClose} MiB, at the end ${summary.rssMiB.end} MiB (bound: warm-up + ${RSS_BOUND / MiB} MiB; ` +
      `outside the V8 heap ${summary.rssMiB.nativeGrowth >= 0 ? '+' : ''}${summary.rssMiB.nativeGrowth} MiB, bound ${NATIVE_BOUND / MiB} MiB)`,
  )
  console.log(`  js memory     after warm-up: ${warm.memory.breakdown}`)
  console.log(`                at the end:    ${end.memoryEnd.breakdown}`)
  console.log(`  staging files ${summary.stagingFiles}, stray files ${summary.strayFiles}`)
  console.log(`  leaks found:  ${summary.leaks}`)
}

function printViolations(): void {
  for (const [kind, list] of violations) {
    console.log(`VIOLATION ${kind} (${list.length}):`)
    for (const line of list.slice(0, 10)) console.log(`  ${line}`)
  }
}
