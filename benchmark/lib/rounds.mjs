// Figures over the rounds of a comparison (each round: peer -> metrics) and over on/off pairs.
import { summary } from './stats.mjs'

const NODE_PEERS = ['node-http', 'undici', 'got']

/** Median (min–max) of one metric of one peer over rounds. */
export function stat(rounds, peer, key) {
  return summary(rounds.map((r) => r[peer]?.[key]))
}

/** Per-round ratio of a peer's metric to curl's and to the best Node peer's. */
export function ratios(rounds, peer, key, higherIsBetter) {
  const toCurl = []
  const toNode = []
  for (const r of rounds) {
    const v = r[peer]?.[key]
    const c = r.curl?.[key]
    if (Number.isFinite(v) && Number.isFinite(c) && c !== 0) toCurl.push(v / c)
    const nodes = NODE_PEERS.map((p) => r[p]?.[key]).filter(Number.isFinite)
    if (Number.isFinite(v) && nodes.length) {
      const best = higherIsBetter ? Math.max(...nodes) : Math.min(...nodes)
      if (best !== 0) toNode.push(v / best)
    }
  }
  return { curl: summary(toCurl), node: summary(toNode) }
}

/** The rounds of a comparison as its warm blocks' metrics (a peer without one: missing). */
export function warmRounds(rounds) {
  return rounds.map((r) => Object.fromEntries(Object.entries(r).flatMap(([p, m]) => (m.warm ? [[p, m.warm]] : []))))
}

/** The peers of `peers` that took part in a comparison (the HTTP/2 grid has fewer). */
export const peersIn = (rounds, peers) => peers.filter((p) => rounds.some((r) => r[p]))

export const peerOrder = (peers) =>
  ['tt', 'tt-hyper-http1', 'tt-baseline', 'tt-threads', 'tt-engine', 'curl', 'node-http', 'undici', 'got'].filter((p) => peers.includes(p))

/** The median and range of the ratios of the pairs that completed. */
export function pairSummary(res) {
  const ok = res.pairs.filter((p) => Number.isFinite(p.ratio))
  return { ok, s: summary(ok.map((p) => p.ratio)) }
}
