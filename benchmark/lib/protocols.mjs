// The protocol each peer really used. The HTTP/2 grid is only worth its name when every
// download went over h2: a client that fell back to HTTP/1.1 (an ALPN mismatch, a flag that
// did not take) would otherwise show up as an HTTP/2 figure.

/** curl's --write-out `%{http_version}` as ALPN names the protocol. */
const CURL_VERSION = { 2: 'h2', 1.1: 'http/1.1', '1.0': 'http/1.0', 3: 'h3' }

/** `{ protocols: { name: downloads }, connections }` from curl's --write-out fields. */
export function curlProtocols(lines) {
  const protocols = {}
  let connections = 0
  for (const f of lines) {
    const name = CURL_VERSION[f[3]] ?? `http ${f[3]}`
    protocols[name] = (protocols[name] ?? 0) + 1
    connections += Number(f[4]) || 0
  }
  return { protocols, connections }
}

/** Throws unless every download (or connection, for a peer that counts those) of an HTTP/2 job used h2. */
export function checkProtocol(peer, job, result) {
  if (job.http !== '2') return
  const seen = result.extra?.protocols
  if (!seen) throw new Error(`${peer}: reports no protocol, so its HTTP/2 figures cannot be checked`)
  const names = Object.keys(seen)
  if (names.length !== 1 || names[0] !== 'h2') {
    throw new Error(`${peer}: expected h2 only, got ${names.map((n) => `${n} x ${seen[n]}`).join(', ') || 'nothing'}`)
  }
  // Counted per download: every one of them must be there (a download without a profile, say,
  // would be one whose protocol nobody checked).
  const downloads = job.count + (job.warmCount ?? 0)
  if (result.extra.protocolUnit !== 'connection' && seen.h2 !== downloads) {
    throw new Error(`${peer}: ${seen.h2} of ${downloads} downloads report h2`)
  }
}
