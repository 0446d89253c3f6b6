// Deterministic pseudo-random bodies: `patternBytes(n, seed)` is always the first n bytes of one
// stream per seed, so a test can compute what the server sent (and any prefix of it) without
// talking to the server.
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'

const cache = new Map<string, Buffer>()
const CACHE_LIMIT = 16

/** The first `n` bytes of the xorshift32 stream for `seed` (same bytes every run). */
export function patternBytes(n: number, seed = 1): Buffer {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`patternBytes: bad length ${n}`)
  const key = `${seed}:${n}`
  const hit = cache.get(key)
  if (hit) return hit
  const words = new Uint32Array(Math.ceil(n / 4))
  // xorshift32 needs a non-zero state; mix the seed so seeds 0 and 1 differ.
  let x = (Math.imul(seed >>> 0, 0x9e3779b1) ^ 0x2545f491) >>> 0 || 1
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    words[i] = x
  }
  const buf = Buffer.from(words.buffer, 0, n)
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!)
  cache.set(key, buf)
  return buf
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex')
}

/** sha256 of what `/bytes/<n>?seed=<seed>` serves. */
export function expectedSha256(n: number, seed = 1): string {
  return sha256(patternBytes(n, seed))
}

/** sha256 of a file on disk, streamed. */
export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')))
  })
}
