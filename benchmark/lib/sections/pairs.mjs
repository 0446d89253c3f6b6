// The on/off comparisons of tt-download (profile, egress check, diagnostics subscriber): one
// section and one ratio chart each.
import { fmt, range, ratioChart } from '../report.mjs'
import { summary } from '../stats.mjs'
import { pairSummary } from '../rounds.mjs'

/** How the report describes each on/off comparison, from its results (in the report's order). */
const PAIR_WORDS = {
  profile: () => ({
    title: 'Profile on versus off',
    file: 'profile-on-off.svg',
    chartTitle: 'tt-download: enableProfile on vs off',
    axis: 'downloads/s with profile on ÷ profile off (one dot per pair)',
    blocks: 'with enableProfile true and one with false',
  }),
  egress: (res) => {
    const dials = summary(res.dials ?? [])
    return {
      title: 'Egress check on versus off',
      file: 'egress-on-off.svg',
      chartTitle: 'tt-download: egress check on vs off',
      axis: 'downloads/s with the egress check ÷ without it (one dot per pair)',
      blocks:
        "through a host with `egress: { allow: ['127.0.0.0/8'] }` and one through a second host on the same engine (createEngine()), identical but for the bench-only `benchSkipCheck: true` (accepted only by an addon built with the cargo feature bench-switches), enableProfile true in both",
      after: ` The check runs on the address of every connection dialled (SPEC 11), not per request, and the two hosts never share a pooled connection (pools are keyed by the policy): each process opened ${dials.n ? `${range(dials, 0)} new connections` : 'an unknown number of connections'} for both hosts together, warm-up included (downloads whose profile says socketReused false); every other download went over a kept-alive connection and never reached the check. Having their own connections, the halves also differ in how those spread over nginx's workers (reuseport hashes each connection to one): a difference fixed for the life of a process, which the random order inside it does not cancel and only the several processes do.`,
    }
  },
  diagnostics: () => ({
    title: 'Diagnostics subscriber on versus off',
    file: 'diagnostics-on-off.svg',
    chartTitle: 'tt-download: a diagnostics_channel subscriber vs none',
    axis: 'downloads/s with a subscriber on all four channels ÷ none (one dot per pair)',
    blocks: 'with one subscriber on each of the four tt-download:download:* channels and one with none (the host builds no message then)',
  }),
}

/** `pairScenarios`: run.mjs's PAIR_SCENARIOS, whose `on` and `off` name the two sides. */
export function pairsReport({ results, opts, pairScenarios }) {
  const parts = Object.keys(PAIR_WORDS)
    .filter((name) => results[name])
    .map((name) => pairsSection(results[name], opts.profileCount, { ...PAIR_WORDS[name](results[name]), ...pairScenarios[name] }))
  return { sections: parts.map((p) => p.section), charts: parts.map((p) => p.chart) }
}

/** The section (table, text) and ratio chart of one on/off comparison. */
function pairsSection(res, profileCount, { title, file, chartTitle, axis, blocks, after = '', on, off }) {
  const { ok, s } = pairSummary(res)
  const chart = {
    file,
    svg: ratioChart({
      title: chartTitle,
      subtitle: `${ok.length} interleaved pairs of ${profileCount} x 1 KiB over HTTP at concurrency ${res.c}; median ${fmt(s.median, 3)}`,
      axis,
      ratios: ok.map((p) => p.ratio),
    }),
  }
  // Saved before the warm-up was recorded: 1,000, all with the profile on.
  const warm =
    res.warmup === undefined
      ? 'after 1,000 warm-up downloads'
      : `after ${res.warmup.toLocaleString('en-US')} warm-up downloads, half of them each way`
  const section = {
    title,
    text: `${ok.length} pairs, each a block of ${profileCount} x 1 KiB downloads over HTTP at concurrency ${res.c} ${blocks}, in a random order, back to back in the same process (${res.inProcess ?? 1} pairs per process, ${warm}). Ratio = downloads/s ${on} ÷ ${off} (1.00 = free; 0.97 = 3% cost).${after}`,
    tables: [
      {
        columns: [
          'pairs',
          `median ${on} ÷ ${off}`,
          'range',
          `downloads/s ${on}`,
          `downloads/s ${off}`,
          `process CPU µs/dl ${on}`,
          `process CPU µs/dl ${off}`,
        ],
        rows: [
          [
            String(ok.length),
            fmt(s.median, 3),
            `${fmt(s.min, 3)}–${fmt(s.max, 3)}`,
            range(summary(ok.map((p) => p.on.dps)), 0),
            range(summary(ok.map((p) => p.off.dps)), 0),
            range(summary(ok.map((p) => p.on.cpuUsPerDl).filter(Number.isFinite)), 0),
            range(summary(ok.map((p) => p.off.cpuUsPerDl).filter(Number.isFinite)), 0),
          ],
        ],
      },
    ],
    charts: [file],
  }
  return { section, chart }
}
