// "Memory of an idle client": RSS after loading, after the downloads and over the idle period.
import { PEER_LABEL, barChart, range } from '../report.mjs'
import { stat } from '../rounds.mjs'

const IDLE_COLUMNS = [
  'Peer',
  'RSS loaded MiB',
  'of which loading the client',
  'RSS after downloads MiB',
  'growth over idle MiB',
  'max RSS while idle MiB',
]

export function idleReport({ results, opts, peers }) {
  const rounds = results.idle
  const idlePeers = peers.filter((p) => p !== 'curl')
  const rows = idlePeers.map((p) => [
    PEER_LABEL[p],
    range(stat(rounds, p, 'rssLoadedMiB'), 1),
    range(stat(rounds, p, 'loadedMiB'), 1),
    range(stat(rounds, p, 'afterWorkMiB'), 1),
    range(stat(rounds, p, 'idleGrowthMiB'), 2),
    range(stat(rounds, p, 'maxIdleMiB'), 1),
  ])
  const chart = {
    file: 'idle-rss.svg',
    svg: barChart({
      title: 'RSS growth over an idle client',
      subtitle: `MiB over ${opts.idleMs / 1000} s idle after 200 x 64 KiB over HTTPS (gc before both samples); lower is better`,
      unit: 'MiB',
      groups: [{ label: 'idle', bars: idlePeers.map((p) => ({ peer: p, ...stat(rounds, p, 'idleGrowthMiB') })) }],
      digits: 2,
    }),
  }
  const section = {
    title: 'Memory of an idle client',
    text: `Each process loads its client (tt-download: createHost with its own engine), downloads 200 x 64 KiB over HTTPS at concurrency 16 (connections stay pooled), then idles ${opts.idleMs / 1000} s; gc() (--expose-gc) before the samples. Growth = RSS after the idle period minus RSS right after the downloads.`,
    tables: [{ columns: IDLE_COLUMNS, rows }],
    charts: ['idle-rss.svg'],
  }
  return { sections: [section], charts: [chart] }
}
