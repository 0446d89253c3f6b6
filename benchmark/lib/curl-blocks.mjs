// curl's cold and warm blocks (see blocks.mjs). One curl process downloads both blocks with
// no barrier between them, and it prints one --write-out line as each transfer completes:
// line-buffered (stdbuf -oL) into a file that this process polls every SAMPLE_MS, reading
// only the bytes added since. The poll that finds the count-th line (and then the last one)
// reads, at that moment, the clock and curl's CPU and context switches from /proc: a block's
// end, late by at most one interval. Reading the lines from a pipe as they come would wake
// this process once per download, on the cores curl and nginx share; file modification
// times would cost nothing but are only as fine as the kernel's coarse clock (a jiffy).
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { processCpuMs, threadsByName } from './proc.mjs'

export const SAMPLE_MS = 2

/** The pid of the one child of `pid` (curl under GNU time), once it was started. */
export function childPid(pid) {
  try {
    const first = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]
    return first ? Number(first) : undefined
  } catch {
    return undefined
  }
}

/**
 * Watches `linesFile` (curl's --write-out, one line per completed transfer) while the process
 * `pidOf()` runs; `stop()` returns one mark `{ t, cpuMs, switches }` per line count of
 * `boundaries` that was reached while curl was still there to be sampled (t: performance.now()).
 */
export function watchLines({ linesFile, boundaries, pidOf }) {
  const fd = openSync(linesFile, 'r')
  const buf = Buffer.alloc(1 << 16)
  let offset = 0
  let lines = 0
  const marks = []
  const poll = () => {
    if (marks.length === boundaries.length) return
    // Bounded: each pass reads what curl wrote since the last one, at most its size now.
    const size = fstatSync(fd).size
    while (offset < size) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - offset), offset)
      if (n === 0) break
      for (let i = 0; i < n; i++) if (buf[i] === 10) lines++
      offset += n
    }
    while (marks.length < boundaries.length && lines >= boundaries[marks.length]) {
      const mark = sample(pidOf())
      if (!mark) return
      marks.push(mark)
    }
  }
  const timer = setInterval(poll, SAMPLE_MS)
  return {
    stop: () => {
      clearInterval(timer)
      closeSync(fd)
      return marks
    },
  }
}

function sample(pid) {
  if (pid === undefined) return undefined
  try {
    const t = performance.now()
    const threads = Object.values(threadsByName(pid))
    if (threads.length === 0) return undefined
    return { t, cpuMs: processCpuMs(pid), switches: threads.reduce((a, v) => a + v.switches, 0) }
  } catch {
    return undefined // curl ended between the read of its line and this sample
  }
}

/**
 * The blocks of a finished curl run from the marks of watchLines (boundaries: count, then
 * count + warm), `spawnedAt` (performance.now() at spawn) and `exit` (its clock, and GNU
 * time's totals when there is no second mark: curl exited before the poll saw its last line).
 * Cold: spawn to the count-th line (curl's start included, as without a warm block); warm:
 * from there to the last line. `latencies`: the --write-out ones, in completion order.
 */
export function curlBlocks({ marks, spawnedAt, exit, count, latencies }) {
  const none = { t: NaN, cpuMs: NaN, switches: NaN }
  const [boundary = none, last = exit] = marks
  const block = (from, to, slice) => ({
    elapsedMs: to.t - from.t,
    procCpuMs: to.cpuMs - from.cpuMs,
    switches: to.switches - from.switches,
    latencies: slice,
  })
  return {
    cold: block({ t: spawnedAt, cpuMs: 0, switches: 0 }, boundary, latencies.slice(0, count)),
    warm: block(boundary, last, latencies.slice(count)),
  }
}
