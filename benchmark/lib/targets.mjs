// The targets of issue 7 against a run's medians: rows of [target, this run, status].
import { fmt, range, ratio } from './report.mjs'
import { pairSummary, ratios, stat, warmRounds } from './rounds.mjs'

export function targetRows({ results, opts }) {
  return [
    ...largeTargets(results.large),
    ...smallTargets(Object.values(results.small)),
    ...warmTarget(Object.values(results.small), 'small files, warm block: downloads/s >= 1.0x curl (every size, concurrency, protocol)'),
    ...h2Targets(Object.values(results.smallH2 ?? {})),
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

/**
 * Issue 18: over HTTP/2 too, tt-download >= 1.0x curl at c=16 and c=64, for the cold and the
 * warm block alike (each against curl's same block).
 */
function h2Targets(h2) {
  const busy = h2.filter((e) => e.c === 16 || e.c === 64)
  return [
    ...curlTarget(busy, 'HTTP/2 small files: downloads/s >= 1.0x curl at c=16/64'),
    ...warmTarget(busy, 'HTTP/2 small files, warm block: downloads/s >= 1.0x curl at c=16/64'),
  ]
}

function warmTarget(entries, name) {
  const warm = entries.map((e) => ({ ...e, rounds: warmRounds(e.rounds) })).filter((e) => e.rounds.some((r) => r.tt && r.curl))
  return curlTarget(warm, name)
}

/** One row: the worst tt ÷ curl downloads/s over `entries`, met when none is below 1. */
function curlTarget(entries, name) {
  const vs = entries.map((e) => ({ e, r: ratios(e.rounds, 'tt', 'dps', true).curl.median })).filter((x) => Number.isFinite(x.r))
  if (!vs.length) return []
  const worst = vs.reduce((a, b) => (b.r < a.r ? b : a))
  const miss = vs.filter((x) => x.r < 1).length
  return [
    row(name, `worst ${fmt(worst.r, 2)}x (${worst.e.size} ${worst.e.proto} c=${worst.e.c}); ${miss} of ${vs.length} below`, miss === 0),
  ]
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
