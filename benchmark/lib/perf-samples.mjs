// Reads `perf script -F comm,pid,tid,ip,sym,dso` output of one process and says where its CPU
// went, per thread group and, inside each, per system call or user-space library and by its
// hottest user-space functions, with the inclusive share of the stacks that pass through
// tokio's timer (the cost a coarse deadline sweep would save, issue 18).

import { threadGroup } from './thread-groups.mjs'

/** Samples as { thread, frames: [{ sym, dso }] }, leaf first. */
export function parseSamples(text, pid) {
  const samples = []
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '')
    if (lines.length === 0) continue
    const head = lines[0].trim().match(/^(.*\S)\s+(\d+)\/(\d+)\s*$/)
    if (head === null || Number(head[2]) !== pid) continue
    const frames = lines.slice(1).map((line) => {
      const m = line.trim().match(/^[0-9a-f]+\s+(.*?)\s*\(([^)]*)\)$/)
      return m === null ? { sym: line.trim(), dso: '' } : { sym: m[1], dso: m[2] }
    })
    samples.push({ thread: threadGroup(head[1], Number(head[3]) === pid), frames })
  }
  return samples
}

const SYSCALL = /^(__x64_sys_|__do_sys_|__se_sys_)(\w+)/
const TIMER = /tokio::(runtime::)?time::|tokio::time::/

/** What one sample was doing: a system call, other kernel work, or user code of one library. */
function activity(frames) {
  for (const { sym } of frames) {
    const m = sym.match(SYSCALL)
    if (m !== null) return `kernel: ${m[2]}`
  }
  const leaf = frames[0] ?? { sym: '', dso: '' }
  if (leaf.dso.includes('kernel'))
    return frames.some((f) => f.sym.includes('page_fault')) ? 'kernel: page faults' : 'kernel: other (interrupts, scheduling)'
  const dso = leaf.dso.split('/').pop() || 'unknown'
  return `user: ${dso.startsWith('perf-') ? '[JIT] (JavaScript)' : dso}`
}

/** A Rust or C++ symbol without its generic arguments and hash, short enough for a row. */
function shortSymbol(sym) {
  let out = sym.replace(/::h[0-9a-f]{16}$/, '')
  // Innermost generic arguments first, a bounded number of passes.
  for (let i = 0; i < 8 && /<[^<>]*>/.test(out); i++) out = out.replace(/<[^<>]*>/g, '<>')
  return out.length > 110 ? `${out.slice(0, 107)}...` : out
}

/** Per group: samples, µs per download, and its activities; plus the tokio timer's share. */
export function attribute(samples, { frequency, downloads }) {
  const usPerDl = (n) => (n * 1e6) / frequency / downloads
  const groups = new Map()
  let timer = 0
  for (const s of samples) {
    const g = groups.get(s.thread) ?? { samples: 0, activities: new Map(), symbols: new Map() }
    g.samples++
    const a = activity(s.frames)
    g.activities.set(a, (g.activities.get(a) ?? 0) + 1)
    if (a.startsWith('user: ')) {
      const sym = shortSymbol(s.frames[0]?.sym ?? '[unknown]')
      g.symbols.set(sym, (g.symbols.get(sym) ?? 0) + 1)
    }
    groups.set(s.thread, g)
    if (s.frames.some((f) => TIMER.test(f.sym))) timer++
  }
  return {
    total: samples.length,
    usPerDl,
    groups: [...groups].sort((a, b) => b[1].samples - a[1].samples),
    timer,
  }
}

/** The report's text: one table per thread group, the top activities of each. */
export function attributionText({ total, usPerDl, groups, timer }, top = 8) {
  const pct = (n) => `${((100 * n) / total).toFixed(1)}%`
  const us = (n) => usPerDl(n).toFixed(1)
  const out = [`${total} samples; CPU per download ${us(total)} µs in all`]
  for (const [name, g] of groups) {
    out.push('', `${name}: ${pct(g.samples)} of samples, ${us(g.samples)} µs per download`)
    for (const [a, n] of [...g.activities].sort((x, y) => y[1] - x[1]).slice(0, top)) {
      out.push(`  ${us(n).padStart(7)} µs  ${pct(n).padStart(6)}  ${a}`)
    }
    out.push('  its hottest user-space functions (self time):')
    for (const [sym, n] of [...g.symbols].sort((x, y) => y[1] - x[1]).slice(0, top)) {
      out.push(`  ${us(n).padStart(7)} µs  ${pct(n).padStart(6)}  ${sym}`)
    }
  }
  out.push('', `stacks through tokio's timer (inclusive): ${timer} samples, ${pct(timer)}, ${us(timer)} µs per download`)
  return out.join('\n')
}
