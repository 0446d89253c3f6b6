export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const mid = s.length >> 1
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(xs, p) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const rank = Math.max(1, Math.ceil((p / 100) * s.length))
  return s[Math.min(s.length, rank) - 1]
}

/** { median, min, max, n } of the finite values. */
export function summary(xs) {
  const f = xs.filter((x) => Number.isFinite(x))
  if (f.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 }
  return { median: median(f), min: Math.min(...f), max: Math.max(...f), n: f.length }
}

export function shuffle(xs) {
  const a = [...xs]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j], a[i]]
  }
  return a
}
