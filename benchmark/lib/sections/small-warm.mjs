// "Cold and warm small downloads": the first N downloads of a fresh process against the N
// after them in the same process, each block measured on its own (lib/blocks.mjs), with its
// downloads/s against curl's same block in the same round, and its CPU and context switches.
import { PEER_LABEL, fmt, range, ratio } from '../report.mjs'
import { peersIn, ratios, stat, warmRounds } from '../rounds.mjs'
import { SAMPLE_MS } from '../curl-blocks.mjs'

const COLUMNS = [
  'Comparison',
  'Peer',
  'cold downloads/s',
  'cold × curl',
  'warm downloads/s',
  'warm × curl',
  'cold process CPU µs/dl',
  'warm process CPU µs/dl',
  'cold context switches/dl',
  'warm context switches/dl',
]

export function smallWarmReport({ results, opts, peers }) {
  const entries = [...Object.values(results.small), ...Object.values(results.smallH2 ?? {})].filter((e) =>
    e.rounds.some((r) => Object.values(r).some((m) => m.warm)),
  )
  if (!entries.length) return { sections: [], charts: [] }
  const rows = []
  for (const e of entries) {
    const warm = warmRounds(e.rounds)
    for (const p of peersIn(e.rounds, peers)) {
      const vsCurl = (rounds) => (p === 'curl' ? '1.00x' : ratio(ratios(rounds, p, 'dps', true).curl))
      rows.push([
        `${e.size} ${e.proto.toUpperCase()} c=${e.c}`,
        PEER_LABEL[p],
        range(stat(e.rounds, p, 'dps'), 0),
        vsCurl(e.rounds),
        range(stat(warm, p, 'dps'), 0),
        vsCurl(warm),
        range(stat(e.rounds, p, 'procCpuUs'), 0),
        range(stat(warm, p, 'procCpuUs'), 0),
        fmt(stat(e.rounds, p, 'switchesPerDl').median, 1),
        fmt(stat(warm, p, 'switchesPerDl').median, 1),
      ])
    }
  }
  const section = {
    title: 'Cold and warm small downloads',
    text: `Each small-file run downloads ${opts.count} files (cold: the first downloads of a fresh process, whose connections, TLS sessions, JIT and thread pools all start empty) and then ${opts.warmCount} more in the same process (warm). The lanes run on through the boundary with no barrier, as curl's \`--parallel\` does: a block ends when its last download completed, in completion order, and each block's clock, CPU and context switches are read at its own ends; neither is derived from the other or from the whole run. Cold downloads/s include the client's start (curl: its process start, as in the tables above; the Node peers: from the client constructed, no connection open). curl prints a line as each transfer completes (line-buffered into a file that the bench polls every ${SAMPLE_MS} ms): the poll that finds the ${opts.count}th line, and then the last, reads the clock and curl's CPU and context switches from /proc (a block's end is late by at most one poll; the first block's start is curl's spawn). × curl: against curl's same block in the same round. CPU: all threads of the process; context switches: voluntary and involuntary, all threads.`,
    tables: [{ columns: COLUMNS, rows }],
    charts: [],
  }
  return { sections: [section], charts: [] }
}
