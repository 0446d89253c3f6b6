// Readers of /proc for the measuring processes (Linux only).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

let clockTicks
/** Clock ticks per second of utime/stime in /proc stat files (getconf CLK_TCK, usually 100). */
export function clkTck() {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/** utime + stime of a `stat` line, in milliseconds. */
function statCpuMs(stat) {
  // Fields after the command name, which sits in parentheses and may hold spaces; fields[0]
  // is field 3 (state): utime is field 14, stime field 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clkTck()
}

/**
 * One thread's CPU in milliseconds (the main thread: tid = pid), as the scheduler accounts it
 * in schedstat (time on CPU in ns, brought up to date at every context switch and tick, so a
 * thread running while it is read is at most one tick behind), where the kernel keeps it; else
 * utime + stime from `stat`, whose clock ticks (10 ms) are too coarse for short blocks.
 */
export function threadCpuMs(pid = process.pid, tid = pid) {
  let ns = NaN
  try {
    ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
  } catch {
    // no schedstat in this kernel
  }
  // A kernel without scheduler statistics prints zeros.
  return Number.isFinite(ns) && ns > 0 ? ns / 1e6 : statCpuMs(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'))
}

/** utime + stime of a whole process (all threads, ended ones included) in milliseconds. */
export function processCpuMs(pid = process.pid) {
  return statCpuMs(readFileSync(`/proc/${pid}/stat`, 'utf8'))
}

/** VmRSS and VmHWM (peak) of a process in bytes. */
export function memStatus(pid = process.pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (name) => {
    const m = status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))
    return m ? Number(m[1]) * 1024 : NaN
  }
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

/** Resets the peak RSS (VmHWM) of this process to its current RSS (Linux >= 4.0). */
export function resetPeakRss() {
  try {
    writeFileSync('/proc/self/clear_refs', '5')
    return true
  } catch {
    return false
  }
}

/** Thread count of a process. */
export function threadCount(pid = process.pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const m = status.match(/^Threads:\s+(\d+)/m)
  return m ? Number(m[1]) : NaN
}

/** Shared objects named *.node mapped into this process (which addon really loaded). */
export function loadedAddons() {
  const maps = readFileSync('/proc/self/maps', 'utf8')
  const paths = new Set()
  for (const line of maps.split('\n')) {
    const i = line.indexOf('/')
    if (i !== -1 && line.endsWith('.node')) paths.add(line.slice(i))
  }
  return [...paths]
}

/**
 * Per-thread CPU (ms) and context switches of this process, summed by thread name (comm):
 * `{ [name]: { cpuMs, switches, threads } }`, the main thread under 'main'.
 */
export function threadsByName(pid = process.pid) {
  const out = {}
  let dir
  try {
    dir = readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of dir) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const cpuMs = threadCpuMs(pid, tid)
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')
      const sw = (name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm'))?.[1] ?? 0)
      const name = Number(tid) === pid ? 'main' : comm
      const e = (out[name] ??= { cpuMs: 0, switches: 0, threads: 0 })
      e.cpuMs += cpuMs
      e.switches += sw('voluntary_ctxt_switches') + sw('nonvoluntary_ctxt_switches')
      e.threads++
    } catch {
      // the thread ended meanwhile
    }
  }
  return out
}

/** `after - before` of two threadsByName() samples (threads that ended are lost). */
export function threadsDelta(before, after) {
  const out = {}
  for (const [name, a] of Object.entries(after)) {
    const b = before[name] ?? { cpuMs: 0, switches: 0 }
    out[name] = { cpuMs: a.cpuMs - b.cpuMs, switches: a.switches - b.switches, threads: a.threads }
  }
  return out
}
