// "Where a tt-download small download spends its time": its profiles and its CPU by thread.
import { PEER_LABEL, fmt, range } from '../report.mjs'
import { median } from '../stats.mjs'
import { stat } from '../rounds.mjs'
import { diskFloorText } from '../disk-floor.mjs'

const TT_COLUMNS = [
  'Comparison',
  'before engine ms',
  'engine ms',
  'after ms',
  'total p50 ms',
  'socket reused',
  'JS main µs/dl',
  '"tt-download" threads µs/dl',
  'other threads µs/dl',
  '"tt-download" threads',
  'context switches/dl',
]

export function whereTimeGoesReport({ results, peers }) {
  const comparisons = Object.values(results.small)
  const ttRows = comparisons.map((e) => [
    `${e.size} ${e.proto.toUpperCase()} c=${e.c}`,
    range(stat(e.rounds, 'tt', 'ttPre'), 3),
    range(stat(e.rounds, 'tt', 'ttEngine'), 3),
    range(stat(e.rounds, 'tt', 'ttPost'), 3),
    range(stat(e.rounds, 'tt', 'p50'), 3),
    fmt(median(e.rounds.map((r) => r.tt?.ttReused)) * 100, 1) + '%',
    range(stat(e.rounds, 'tt', 'mainCpuUs'), 0),
    range(stat(e.rounds, 'tt', 'engineThreadsCpuUs'), 0),
    range(stat(e.rounds, 'tt', 'otherThreadsCpuUs'), 0),
    fmt(median(e.rounds.map((r) => r.tt?.engineThreads)), 0),
    range(stat(e.rounds, 'tt', 'switchesPerDl'), 1),
  ])
  const switchPeers = peers.filter((p) => p !== 'curl')
  const switchRows = comparisons.map((e) => [
    `${e.size} ${e.proto.toUpperCase()} c=${e.c}`,
    ...switchPeers.map((p) => fmt(stat(e.rounds, p, 'switchesPerDl').median, 1)),
  ])
  const section = {
    title: 'Where a tt-download small download spends its time',
    text: `CPU by thread: the JS main thread, the engine's runtime threads (tokio workers and its blocking pool, both named "tt-download"; they run the HTTP client, TLS, and every file operation through tokio::fs), and the rest (V8 and libuv threads), per download, from /proc/self/task/*/schedstat (the scheduler's accounting). Disk floor on this machine: ${diskFloorText(results.disk)}. From the profiles (one clock, the engine\'s): *before engine* = invokeStart to fetchStart (validation, host queue, the call into the addon and the hop onto a runtime thread); *engine* = fetchStart to responseEnd (connect or checkout, request, response, body); *after* = responseEnd to the promise continuation in JS (staging file flush, rename, the outcome crossing back to the JS thread, result object). Medians per run (sampled every 4th download), then median (min–max) over runs.`,
    tables: [
      { columns: TT_COLUMNS, rows: ttRows },
      {
        caption: 'Context switches per download, all threads of the process (curl: not measured)',
        columns: ['Comparison', ...switchPeers.map((p) => PEER_LABEL[p])],
        rows: switchRows,
      },
    ],
    charts: [],
  }
  return { sections: [section], charts: [] }
}
