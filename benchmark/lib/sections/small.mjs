// "N small downloads": one table and one chart per file size, every protocol and concurrency.
import { PEER_LABEL, barChart, fmt, range, ratio } from '../report.mjs'
import { ratios, stat } from '../rounds.mjs'

const SMALL_COLUMNS = [
  'Proto',
  'C',
  'disk µs/create',
  'Peer',
  'downloads/s',
  '× curl',
  '× best Node',
  'p50 ms',
  'p99 ms',
  'p99 × curl',
  'in flight',
  'JS main-thread CPU µs/dl',
  'process CPU µs/dl',
]

export function smallFilesReport({ results, opts, peers }) {
  const tables = []
  const charts = []
  for (const size of opts.sizes) {
    const entries = Object.values(results.small).filter((e) => e.size === size)
    if (!entries.length) continue
    const { rows, groups } = sizeTable(entries, peers, results.probeByLabel)
    const sizeName = size === '1k' ? '1 KiB' : '64 KiB'
    charts.push({
      file: `small-${size}.svg`,
      svg: barChart({
        title: `${opts.count} downloads of ${sizeName} to disk`,
        subtitle: `downloads/s, median of ${opts.runs} runs, whiskers min–max; higher is better`,
        unit: 'downloads/s',
        groups,
        digits: 0,
      }),
    })
    tables.push({ caption: `${sizeName} files`, columns: SMALL_COLUMNS, rows })
  }
  const section = {
    title: `${opts.count} small downloads`,
    text: `Each run downloads the same file ${opts.count} times with C concurrent lanes (each lane starts its next download when the previous one is on disk), a new file per download. downloads/s = ${opts.count} / wall time from the first request to the last file closed (curl: spawn to exit, its process start included). Latency: request start to file closed (curl: its time_total); tt-download: download() call to its promise settling. × best Node: against the best of node:http, undici and got in the same round (for p99, lower is better). *in flight*: the downloads' summed latency over the wall time, the mean number in flight (Little's law); where it is below C, the peer's latency clock leaves out time its downloads waited inside it (curl starts a transfer's time_total only when it takes the transfer up), so its latency is not comparable with a peer that keeps all C lanes timed. CPU per download: JS main thread (the scheduler's accounting in /proc/self/task/<pid>/schedstat) and the whole process (all threads; curl via GNU time). *disk µs/create*: what creating one 1 KiB file cost just before the comparison (see Notes): around 30-80 µs on a settled disk; at several hundred µs every peer is bound by file creation and the ratios shrink toward 1.${opts.warmCount ? ` These figures are each run's cold block: its first ${opts.count} downloads, from a fresh process; the ${opts.warmCount} after them are in Cold and warm small downloads.` : ''}`,
    tables,
    charts: charts.map((c) => c.file),
  }
  return { sections: [section], charts }
}

/** The rows and chart groups of the comparisons of one file size; `probeByLabel`: the disk's create cost before each. */
function sizeTable(entries, peers, probeByLabel) {
  const rows = []
  const groups = []
  for (const e of entries) {
    groups.push({ label: `${e.proto.toUpperCase()} c=${e.c}`, bars: peers.map((p) => ({ peer: p, ...stat(e.rounds, p, 'dps') })) })
    for (const p of peers) {
      const rt = ratios(e.rounds, p, 'dps', true)
      const lat = ratios(e.rounds, p, 'p99', false)
      rows.push([
        e.proto.toUpperCase(),
        String(e.c),
        fmt(probeByLabel[`${e.size} ${e.proto} c${e.c}`], 0),
        PEER_LABEL[p],
        range(stat(e.rounds, p, 'dps'), 0),
        p === 'curl' ? '1.00x' : ratio(rt.curl),
        ratio(rt.node),
        range(stat(e.rounds, p, 'p50'), 2),
        range(stat(e.rounds, p, 'p99'), 2),
        p === 'curl' ? '1.00x' : ratio(lat.curl),
        range(stat(e.rounds, p, 'inFlight'), 1),
        p === 'curl' ? '–' : range(stat(e.rounds, p, 'mainCpuUs'), 0),
        range(stat(e.rounds, p, 'procCpuUs'), 0),
      ])
    }
  }
  return { rows, groups }
}
