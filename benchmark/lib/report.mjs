// Tables (Markdown and terminal) and hand-written SVG bar charts.

export const PEER_LABEL = {
  curl: 'curl',
  'node-http': 'node:http',
  undici: 'undici 7',
  got: 'got 14',
  tt: 'tt-download',
  'tt-engine': 'tt binding only',
  'tt-baseline': 'tt-download (baseline addon)',
  'tt-threads': 'tt-download (--tt-threads)',
  'tt-hyper-http1': 'tt-download (HTTP/1.1 on hyper)',
}

const PEER_COLOR = {
  curl: '#4d4d4d',
  'node-http': '#5b9f4a',
  undici: '#e0a030',
  got: '#8a6fbf',
  tt: '#d1495b',
  'tt-engine': '#f08a96',
  'tt-baseline': '#8c2d3a',
  'tt-threads': '#b5651d',
  'tt-hyper-http1': '#e07a5f',
}

export function fmt(x, digits) {
  if (x === undefined || x === null || !Number.isFinite(x)) return '–'
  if (digits === undefined) {
    const a = Math.abs(x)
    digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3
  }
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** "median (min–max)" */
export function range(s, digits) {
  if (!s || !Number.isFinite(s.median)) return '–'
  if (s.n <= 1 || s.min === s.max) return fmt(s.median, digits)
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`
}

export function ratio(s) {
  if (!s || !Number.isFinite(s.median)) return '–'
  if (s.n <= 1 || s.min === s.max) return `${fmt(s.median, 2)}x`
  return `${fmt(s.median, 2)}x (${fmt(s.min, 2)}–${fmt(s.max, 2)})`
}

export function markdownTable(table) {
  const head = `| ${table.columns.join(' | ')} |`
  const sep = `|${table.columns.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`
  const rows = table.rows.map((r) => `| ${r.join(' | ')} |`)
  return [head, sep, ...rows].join('\n')
}

export function terminalTable(table) {
  const all = [table.columns, ...table.rows]
  const widths = table.columns.map((_, i) => Math.max(...all.map((r) => String(r[i] ?? '').length)))
  const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ')
  const out = [line(table.columns), widths.map((w) => '-'.repeat(w)).join('  '), ...table.rows.map(line)]
  return out.join('\n')
}

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function niceStep(max, count) {
  const raw = max / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag
  return 10 * mag
}

/**
 * Horizontal grouped bar chart with min–max whiskers.
 * groups: [{ label, bars: [{ peer, median, min, max }] }]
 */
export function barChart({ title, subtitle, unit, groups, digits }) {
  const width = 820
  const left = 190
  const right = 120
  const plotW = width - left - right
  const barH = 13
  const barGap = 3
  const groupGap = 12
  const groupLabelH = 16
  const top = 70
  const peers = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.peer)))]
  const maxV = Math.max(1e-9, ...groups.flatMap((g) => g.bars.map((b) => (Number.isFinite(b.max) ? b.max : b.median || 0))))
  const step = niceStep(maxV, 5)
  const axisMax = Math.ceil(maxV / step) * step
  const x = (v) => left + (Math.max(0, v) / axisMax) * plotW
  let y = top
  const parts = []
  for (const g of groups) {
    parts.push(`<text x="${left - 8}" y="${y + 11}" text-anchor="end" font-weight="bold">${esc(g.label)}</text>`)
    y += groupLabelH
    for (const b of g.bars) {
      const color = PEER_COLOR[b.peer] ?? '#888'
      parts.push(`<text x="${left - 8}" y="${y + barH - 3}" text-anchor="end">${esc(PEER_LABEL[b.peer] ?? b.peer)}</text>`)
      if (Number.isFinite(b.median)) {
        parts.push(`<rect x="${left}" y="${y}" width="${(x(b.median) - left).toFixed(1)}" height="${barH}" fill="${color}"/>`)
        if (Number.isFinite(b.min) && Number.isFinite(b.max) && b.max > b.min) {
          const cy = y + barH / 2
          parts.push(
            `<path d="M${x(b.min).toFixed(1)} ${cy}H${x(b.max).toFixed(1)}M${x(b.min).toFixed(1)} ${y + 2}V${y + barH - 2}M${x(b.max).toFixed(1)} ${y + 2}V${y + barH - 2}" stroke="#111" stroke-width="1"/>`,
          )
        }
        const labelX = Math.max(x(b.median), Number.isFinite(b.max) ? x(b.max) : 0) + 5
        parts.push(`<text x="${labelX.toFixed(1)}" y="${y + barH - 3}">${esc(fmt(b.median, digits))}</text>`)
      } else {
        parts.push(`<text x="${left + 4}" y="${y + barH - 3}" fill="#888">n/a</text>`)
      }
      y += barH + barGap
    }
    y += groupGap
  }
  const height = y + 30
  const grid = []
  for (let v = 0; v <= axisMax + 1e-9; v += step) {
    grid.push(`<line x1="${x(v).toFixed(1)}" y1="${top - 4}" x2="${x(v).toFixed(1)}" y2="${y - groupGap}" stroke="#ddd"/>`)
    const axisDigits = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)))
    grid.push(`<text x="${x(v).toFixed(1)}" y="${y - groupGap + 14}" text-anchor="middle" fill="#555">${esc(fmt(v, axisDigits))}</text>`)
  }
  grid.push(`<text x="${left + plotW / 2}" y="${y - groupGap + 28}" text-anchor="middle" fill="#555">${esc(unit)}</text>`)
  const legend = peers
    .map((p, i) => {
      const lx = left + i * 120
      return `<rect x="${lx}" y="40" width="12" height="12" fill="${PEER_COLOR[p] ?? '#888'}"/><text x="${lx + 16}" y="50">${esc(PEER_LABEL[p] ?? p)}</text>`
    })
    .join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 10}" viewBox="0 0 ${width} ${height + 10}" font-family="Helvetica, Arial, sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="20" font-size="14" font-weight="bold">${esc(title)}</text>
${subtitle ? `<text x="10" y="34" fill="#555">${esc(subtitle)}</text>` : ''}
${legend}
${grid.join('\n')}
${parts.join('\n')}
</svg>
`
}

/** Dot plot of per-pair ratios (on ÷ off) around 1.0; `axis` labels the x axis. */
export function ratioChart({ title, subtitle, ratios, axis = 'downloads/s with profile on ÷ profile off (one dot per pair)' }) {
  const width = 820
  const left = 60
  const right = 40
  const plotW = width - left - right
  const lo = Math.min(0.9, ...ratios) - 0.02
  const hi = Math.max(1.1, ...ratios) + 0.02
  const x = (v) => left + ((v - lo) / (hi - lo)) * plotW
  const y0 = 70
  const dots = ratios
    .map((r, i) => `<circle cx="${x(r).toFixed(1)}" cy="${y0 + 10 + (i % 5) * 8}" r="4" fill="#d1495b" fill-opacity="0.7"/>`)
    .join('\n')
  const ticks = []
  const step = niceStep(hi - lo, 10)
  for (let k = Math.ceil(lo / step); k * step <= hi + 1e-9; k++) {
    const v = k * step
    ticks.push(`<line x1="${x(v).toFixed(1)}" y1="${y0 - 5}" x2="${x(v).toFixed(1)}" y2="${y0 + 55}" stroke="#ddd"/>`)
    ticks.push(`<text x="${x(v).toFixed(1)}" y="${y0 + 70}" text-anchor="middle" fill="#555">${v.toFixed(step >= 0.1 ? 1 : 2)}</text>`)
  }
  ticks.push(`<line x1="${x(1).toFixed(1)}" y1="${y0 - 5}" x2="${x(1).toFixed(1)}" y2="${y0 + 55}" stroke="#111"/>`)
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="170" viewBox="0 0 ${width} 170" font-family="Helvetica, Arial, sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="20" font-size="14" font-weight="bold">${esc(title)}</text>
${subtitle ? `<text x="10" y="36" fill="#555">${esc(subtitle)}</text>` : ''}
${ticks.join('\n')}
${dots}
<text x="${left + plotW / 2}" y="${y0 + 88}" text-anchor="middle" fill="#555">${esc(axis)}</text>
</svg>
`
}
