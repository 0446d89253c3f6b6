// The figures of one small-file run, per download: the cold block's at the top level (the
// first job.count downloads, what a run without a warm block measures), the warm block's
// under `warm` when the run had one (see blocks.mjs).
import { percentile } from './stats.mjs'
import { byThreadGroup, ENGINE_THREADS, OTHER_THREADS } from './thread-groups.mjs'

export function smallMetrics(r, job) {
  const extra = r.extra
  return {
    ...blockMetrics(r, job.count),
    threads: r.threads,
    ttPre: extra?.medianPreMs,
    ttEngine: extra?.medianEngineMs,
    ttPost: extra?.medianPostMs,
    ttReused: extra?.profiled === undefined ? undefined : extra.reused / Math.max(1, extra.profiled),
    protocols: extra?.protocols,
    connections: extra?.connections,
    ...(r.warm ? { warm: blockMetrics(r.warm, job.warmCount) } : {}),
  }
}

/** One block: `count` downloads, its clock, latencies and the CPU and switches it took. */
function blockMetrics(b, count) {
  return {
    dps: count / (b.elapsedMs / 1000),
    p50: percentile(b.latencies, 50),
    p99: percentile(b.latencies, 99),
    // Little's law: the time all downloads spent in flight over the wall time is how many
    // were in flight on average (C when every lane is always busy).
    inFlight: b.latencies.reduce((sum, ms) => sum + ms, 0) / b.elapsedMs,
    mainCpuUs: b.mainCpuMs === undefined ? NaN : (b.mainCpuMs * 1000) / count,
    procCpuUs: b.procCpuMs === undefined ? NaN : (b.procCpuMs * 1000) / count,
    // curl's come as one total (GNU time, or /proc samples at a block boundary).
    ...(b.switches === undefined ? {} : { switchesPerDl: b.switches / count }),
    ...threadMetrics(b, count),
  }
}

/** CPU by thread group and context switches, per download (from the worker's /proc samples). */
export function threadMetrics(r, count) {
  const td = r.threadsDelta
  if (!td) return {}
  const groups = byThreadGroup(td)
  const engine = groups[ENGINE_THREADS]
  return {
    engineThreadsCpuUs: engine === undefined ? NaN : (engine.cpuMs * 1000) / count,
    engineThreads: engine?.threads,
    otherThreadsCpuUs: ((groups[OTHER_THREADS]?.cpuMs ?? 0) * 1000) / count,
    switchesPerDl: Object.values(groups).reduce((a, g) => a + g.switches, 0) / count,
  }
}
