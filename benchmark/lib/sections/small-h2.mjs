// "Small downloads over HTTP/2": the small-file grid on nginx's http2 port, one table and one
// chart per file size, with the protocol and connections each peer really used.
import { PEER_LABEL, barChart, fmt, range, ratio } from '../report.mjs'
import { peersIn, ratios, stat, warmRounds } from '../rounds.mjs'

const COLUMNS = [
  'C',
  'disk µs/create',
  'Peer',
  'protocol (connections)',
  'downloads/s',
  '× curl',
  'p50 ms',
  'p99 ms',
  'p99 × curl',
  'process CPU µs/dl',
  'context switches/dl',
  'warm downloads/s',
  'warm × curl',
]

export function smallH2Report({ results, opts, peers }) {
  const tables = []
  const charts = []
  for (const size of opts.sizes) {
    const entries = Object.values(results.smallH2).filter((e) => e.size === size)
    if (!entries.length) continue
    const sizeName = size === '1k' ? '1 KiB' : '64 KiB'
    const rows = []
    const groups = []
    for (const e of entries) {
      const present = peersIn(e.rounds, peers)
      const warm = warmRounds(e.rounds)
      const vsCurl = (p, rounds, key, higher) => (p === 'curl' ? '1.00x' : ratio(ratios(rounds, p, key, higher).curl))
      groups.push({ label: `HTTP/2 c=${e.c}`, bars: present.map((p) => ({ peer: p, ...stat(e.rounds, p, 'dps') })) })
      for (const p of present) {
        rows.push([
          String(e.c),
          fmt(results.probeByLabel[`${e.size} h2 c${e.c}`], 0),
          PEER_LABEL[p],
          protocolCell(e.rounds, p),
          range(stat(e.rounds, p, 'dps'), 0),
          vsCurl(p, e.rounds, 'dps', true),
          range(stat(e.rounds, p, 'p50'), 2),
          range(stat(e.rounds, p, 'p99'), 2),
          vsCurl(p, e.rounds, 'p99', false),
          range(stat(e.rounds, p, 'procCpuUs'), 0),
          fmt(stat(e.rounds, p, 'switchesPerDl').median, 1),
          range(stat(warm, p, 'dps'), 0),
          warm.some((r) => r[p]) ? vsCurl(p, warm, 'dps', true) : '–',
        ])
      }
    }
    charts.push({
      file: `small-h2-${size}.svg`,
      svg: barChart({
        title: `${opts.count} downloads of ${sizeName} to disk over HTTP/2`,
        subtitle: `downloads/s (cold block), median of ${opts.runs} runs, whiskers min–max; higher is better`,
        unit: 'downloads/s',
        groups,
        digits: 0,
      }),
    })
    tables.push({ caption: `${sizeName} files over HTTP/2`, columns: COLUMNS, rows })
  }
  const section = {
    title: `${opts.count} small downloads over HTTP/2`,
    text: `The small-file grid over HTTPS on nginx's \`http2\` port, where one connection carries every download of a client: curl \`--http2 --parallel --parallel-max C\` (it multiplexes the parallel transfers on one connection), undici \`allowH2\` on an Agent of one connection, tt-download through its public API (it offers h2 in ALPN and multiplexes on one connection). node:http and got are left out: their peers speak HTTP/1.1 only. Every download is checked to have gone over h2 (tt-download: its profile's \`protocol\`; curl: \`%{http_version}\`; undici: the ALPN protocol of each connection it opened), or the run fails. *protocol (connections)*: what the runs used, and the connections they opened (median over runs). Figures as in the HTTP/1.1 tables (the cold block); *warm*: the block after it in the same process (see Cold and warm small downloads).`,
    tables,
    charts: charts.map((c) => c.file),
  }
  return { sections: [section], charts }
}

function protocolCell(rounds, peer) {
  const names = new Set(rounds.flatMap((r) => Object.keys(r[peer]?.protocols ?? {})))
  if (!names.size) return '–'
  const n = stat(rounds, peer, 'connections')
  return `${[...names].join('+')} (${range(n, 0)})`
}
