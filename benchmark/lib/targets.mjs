// The targets of issue 7 against a run's medians: rows of [target, this run, status].
import { fmt, range, ratio } from './report.mjs'
import { pairSummary, ratios, stat } from './rounds.mjs'

export function targetRows({ results, opts }) {
  return [
    ...largeTargets(results.large),
    ...smallTargets(Object.values(results.small)),
    ...(results.idle ? [idleTarget(results.idle, opts.idleMs)] : []),
    ...(results.profile ? [profileTarget(results.profile)] : []),
  ]
}

/** `ok` undefined: no figure to judge, or no target to meet. */
const row = (name, value, ok) => [name, value, ok === undefined ? '–' : ok ? 'met' : '**missed**']

function largeTargets(large) {
  return Object.entries(large).flatMap(([proto, rounds]) => {
    const r = ratios(rounds, 'tt', 'mbps', true).curl
    const goal = proto === 'http' ? 1.0 : 0.95
    const g = stat(rounds, 'tt', 'rssGrowthMiB')
    return [
      row(
        `200 MiB ${proto.toUpperCase()} → disk >= ${goal.toFixed(2)}x curl`,
        ratio(r),
        Number.isFinite(r.median) ? r.median >= goal : undefined,
      ),
      row(
        `RSS growth during 200 MiB ${proto.toUpperCase()} <= 10 MiB`,
        `${range(g, 1)} MiB`,
        Number.isFinite(g.median) ? g.median <= 10 : undefined,
      ),
    ]
  })
}

function smallTargets(small) {
  if (!small.length) return []
  const vsCurl = small.map((e) => ({ e, r: ratios(e.rounds, 'tt', 'dps', true).curl.median }))
  const vsNode = small.map((e) => ({ e, r: ratios(e.rounds, 'tt', 'dps', true).node.median }))
  const worst = (xs) => xs.reduce((a, b) => (b.r < a.r ? b : a))
  const wc = worst(vsCurl)
  const wn = worst(vsNode)
  const missC = vsCurl.filter((x) => x.r < 1).length
  const missN = vsNode.filter((x) => x.r < 2).length
  const rows = [
    row(
      'small files: downloads/s >= 1.0x curl (every size, concurrency, protocol)',
      `worst ${fmt(wc.r, 2)}x (${wc.e.size} ${wc.e.proto} c=${wc.e.c}); ${missC} of ${small.length} below`,
      missC === 0,
    ),
    row(
      'small files: downloads/s >= 2x best Node peer',
      `worst ${fmt(wn.r, 2)}x (${wn.e.size} ${wn.e.proto} c=${wn.e.c}); ${missN} of ${small.length} below`,
      missN === 0,
    ),
  ]
  const c64 = small.filter((e) => e.c === 64)
  if (c64.length) {
    const p99 = c64.map((e) => ({ e, r: ratios(e.rounds, 'tt', 'p99', false).curl.median }))
    const miss = p99.filter((x) => x.r > 1)
    rows.push(
      row(
        'p99 latency at concurrency 64 <= curl',
        p99.map((x) => `${x.e.size} ${x.e.proto} ${fmt(x.r, 2)}x`).join('; '),
        miss.length === 0,
      ),
    )
  }
  return rows
}

function idleTarget(idle, idleMs) {
  const g = stat(idle, 'tt', 'idleGrowthMiB')
  return row('RSS growth over an idle host', `${range(g, 2)} MiB over ${idleMs / 1000} s`, undefined)
}

function profileTarget(profile) {
  const { s } = pairSummary(profile)
  return row(
    'profile on costs <= 3% downloads/s',
    `on ÷ off ${fmt(s.median, 3)} (${fmt(s.min, 3)}–${fmt(s.max, 3)})`,
    Number.isFinite(s.median) ? s.median >= 0.97 : undefined,
  )
}
