// Cold and warm blocks of one small-file run: the first `count` downloads of a fresh process
// (cold: connections, TLS sessions, JIT and thread pools all start empty) and the `warmCount`
// after them in the same process (warm). The lanes run straight through the boundary, with
// no barrier, as curl's --parallel does (it has none): a block ends when its last download
// completed, in completion order. Each block's clock, CPU and context switches are read at
// its own ends; neither block's figures are derived from the other's or from the whole run.
import { performance } from 'node:perf_hooks'
import { processCpuMs, threadCpuMs, threadsByName, threadsDelta } from './proc.mjs'

/**
 * This process's clocks now. Reading every thread's /proc files takes a while (about a
 * millisecond with 20 threads): `before` and `after` bracket it, so that a block's clock
 * leaves out the samples at its ends (the boundary's reading stalls the lanes once per run).
 */
export function sampleSelf() {
  const before = performance.now()
  const sample = { mainCpuMs: threadCpuMs(), procCpuMs: processCpuMs(), threads: threadsByName() }
  return { ...sample, before, after: performance.now() }
}

/** What the process spent between two samples; `latencies` are the block's downloads. */
export function blockBetween(a, b, latencies) {
  return {
    elapsedMs: b.before - a.after,
    mainCpuMs: b.mainCpuMs - a.mainCpuMs,
    procCpuMs: b.procCpuMs - a.procCpuMs,
    threadsDelta: threadsDelta(a.threads, b.threads),
    latencies: latencies.map((x) => Math.round(x * 1000) / 1000),
  }
}
