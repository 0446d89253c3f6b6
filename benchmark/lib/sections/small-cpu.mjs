// "JS main-thread CPU per small download": every peer but curl side by side, per comparison.
import { PEER_LABEL, barChart, fmt, ratio } from '../report.mjs'
import { ratios, stat } from '../rounds.mjs'

export function smallCpuReport({ results, opts, peers }) {
  const cpuPeers = peers.filter((p) => p !== 'curl')
  const comparisons = Object.values(results.small)
  const rows = comparisons.map((e) => [
    `${e.size} ${e.proto.toUpperCase()} c=${e.c}`,
    ...cpuPeers.map((p) => fmt(stat(e.rounds, p, 'mainCpuUs').median, 0)),
    cpuPeers.includes('tt') ? ratio(ratios(e.rounds, 'tt', 'mainCpuUs', false).node) : '–',
  ])
  const chart = {
    file: 'small-cpu.svg',
    svg: barChart({
      title: 'JS main-thread CPU per download (utime + stime)',
      subtitle: `µs per download, median of ${opts.runs} runs; lower is better`,
      unit: 'µs per download',
      groups: comparisons.map((e) => ({
        label: `${e.size} ${e.proto.toUpperCase()} c=${e.c}`,
        bars: cpuPeers.map((p) => ({ peer: p, ...stat(e.rounds, p, 'mainCpuUs') })),
      })),
      digits: 0,
    }),
  }
  const section = {
    title: 'JS main-thread CPU per small download',
    text: 'µs of utime + stime of the JS main thread per download (medians). The last column: tt-download over the best (lowest) Node peer of the same round.',
    tables: [{ columns: ['Comparison', ...cpuPeers.map((p) => PEER_LABEL[p]), 'tt ÷ best Node'], rows }],
    charts: ['small-cpu.svg'],
  }
  return { sections: [section], charts: [chart] }
}
