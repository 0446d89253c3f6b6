// "One 200 MiB file to disk": throughput and RSS per protocol and peer.
import { PEER_LABEL, barChart, range, ratio } from '../report.mjs'
import { ratios, stat } from '../rounds.mjs'

export function largeFilesReport({ results, opts, peers }) {
  const { rows, groups, memGroups } = largeTable(results.large, peers)
  const charts = [
    {
      file: 'large-throughput.svg',
      svg: barChart({
        title: 'One 200 MiB file to disk',
        subtitle: `MB/s (10^6 bytes), median of ${opts.runs} runs, whiskers min–max; higher is better`,
        unit: 'MB/s',
        groups,
        digits: 0,
      }),
    },
    {
      file: 'large-rss.svg',
      svg: barChart({
        title: 'RSS growth during one 200 MiB download',
        subtitle: 'MiB, peak RSS minus RSS before the download (curl: minus its peak for a 1 KiB download); lower is better',
        unit: 'MiB',
        groups: memGroups,
        digits: 1,
      }),
    },
  ]
  const section = {
    title: 'One 200 MiB file to disk',
    text: 'Throughput in MB/s (10^6 bytes/s) from the first request to the file closed; peak RSS is the process high-water mark during the download (VmHWM reset just before it), growth is peak minus RSS before the download (curl: its peak minus its peak for a 1 KiB download). JS CPU is utime + stime of the main thread during the download.',
    tables: [
      { columns: ['Proto', 'Peer', 'MB/s', '× curl', '× best Node', 'peak RSS MiB', 'RSS growth MiB', 'JS main-thread CPU ms'], rows },
    ],
    charts: ['large-throughput.svg', 'large-rss.svg'],
  }
  return { sections: [section], charts }
}

/** The table rows and the chart groups (throughput, RSS growth) of `large` (protocol -> rounds). */
function largeTable(large, peers) {
  const rows = []
  const groups = []
  const memGroups = []
  for (const [proto, rounds] of Object.entries(large)) {
    groups.push({ label: `200 MiB ${proto.toUpperCase()}`, bars: peers.map((p) => ({ peer: p, ...stat(rounds, p, 'mbps') })) })
    memGroups.push({
      label: `200 MiB ${proto.toUpperCase()}`,
      bars: peers.map((p) => ({ peer: p, ...stat(rounds, p, 'rssGrowthMiB') })),
    })
    for (const p of peers) {
      const rt = ratios(rounds, p, 'mbps', true)
      rows.push([
        proto.toUpperCase(),
        PEER_LABEL[p],
        range(stat(rounds, p, 'mbps'), 0),
        p === 'curl' ? '1.00x' : ratio(rt.curl),
        ratio(rt.node),
        range(stat(rounds, p, 'rssPeakMiB'), 1),
        range(stat(rounds, p, 'rssGrowthMiB'), 1),
        p === 'curl' ? '–' : range(stat(rounds, p, 'mainCpuMs'), 0),
      ])
    }
  }
  return { rows, groups, memGroups }
}
