// Plain-text output for the CLI: aligned tables and human units. Shared by the commands so
// they print alike.
import type { Profile } from '../index.js'

/** Left-aligns text columns and right-aligns columns whose cells all look numeric. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows]
  const widths = header.map((_, col) => Math.max(...all.map((row) => (row[col] ?? '').length)))
  const looksNumeric = (cell: string): boolean => /^-?[\d.,]+( ?[a-zA-Z/]+)?$/.test(cell)
  const numeric = header.map((_, col) => rows.length > 0 && rows.every((row) => looksNumeric(row[col] ?? '')))
  const line = (row: string[]): string =>
    row
      .map((cell, col) => (numeric[col] ? cell.padStart(widths[col] ?? 0) : cell.padEnd(widths[col] ?? 0)))
      .join('  ')
      .trimEnd()
  const rule = widths.map((width) => '-'.repeat(width)).join('  ')
  return [line(header), rule, ...rows.map(line)].join('\n')
}

/** Key/value lines with the keys padded to one width. */
export function fields(entries: Array<[string, string]>, indent = '  '): string {
  const width = Math.max(...entries.map(([key]) => key.length))
  return entries.map(([key, value]) => `${indent}${key.padEnd(width)}  ${value}`).join('\n')
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
}

export function formatMs(ms: number): string {
  return ms.toFixed(ms < 10 ? 2 : 1)
}

/** What a profile says about the connection, as `fields()` entries; `finishedAt`: success, ms. */
export function profileFields(p: Profile, finishedAt: number): Array<[string, string]> {
  return [
    ['connection', `${p.protocol} to ${p.peerIP}:${p.port}, ${p.socketReused ? 'reused from the pool' : 'new'}`],
    ['socket bytes', `${p.sentBytesCount} sent, ${p.receivedBytesCount} received, counted below TLS`],
    ['rtt', p.rtt > 0 ? `${p.rtt} ms` : 'not measured'],
    ['throughput', `${Math.round(p.throughputKbps)} kbit/s, estimateNetType '${p.estimateNetType}'`],
    ['latency', `${formatMs(finishedAt - p.invokeStart)} ms from downloadFile to success`],
  ]
}
