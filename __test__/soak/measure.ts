// What the leak checks measure: this process's file descriptors and memory.
import { readdirSync, readlinkSync } from 'node:fs'
import { MiB } from './bounds.js'
import { sleep } from './time.js'

export interface FdCount {
  total: number
  files: number
  sockets: number
  other: number
}

export function fdCount(): FdCount {
  const out: FdCount = { total: 0, files: 0, sockets: 0, other: 0 }
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`)
    } catch {
      continue // the directory handle readdirSync itself used, closed by now
    }
    out.total++
    if (target.startsWith('socket:')) out.sockets++
    else if (target.startsWith('/') && !target.startsWith('/dev/')) out.files++
    else out.other++
  }
  return out
}

export const gc = (globalThis as { gc?: () => void }).gc
export async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc?.()
    await sleep(50)
  }
}

export const rss = () => process.memoryUsage().rss
/** RSS outside V8's committed heap. */
export const native = () => {
  const m = process.memoryUsage()
  return m.rss - m.heapTotal
}
export const heap = () => process.memoryUsage().heapUsed
/** Where the memory is: V8 heap committed, of it used, Buffers and other external memory (MiB). */
export function memoryBreakdown(): string {
  const m = process.memoryUsage()
  const f = (n: number) => (n / MiB).toFixed(1)
  return `heap committed ${f(m.heapTotal)} (used ${f(m.heapUsed)}), external ${f(m.external)} (buffers ${f(m.arrayBuffers)})`
}

export interface MemorySample {
  rss: number
  native: number
  heap: number
  breakdown: string
}

export function sampleMemory(): MemorySample {
  return { rss: rss(), native: native(), heap: heap(), breakdown: memoryBreakdown() }
}
