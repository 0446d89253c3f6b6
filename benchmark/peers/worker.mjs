// One measuring process: `node peers/worker.mjs <peer> <job-json>`.
//
// The peer module (peers/<peer>.mjs) is imported here, after the first RSS sample, and its
// default export `setup(job)` returns `{ one(i), close() }`: `one(i)` downloads job.url to
// the i-th file and resolves once the file is complete on disk (closed). The clock starts
// after setup (library loaded, client constructed, no connection open yet) and stops when
// the last download resolved. The result is printed as one JSON line prefixed `RESULT `.
import { performance } from 'node:perf_hooks'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { memStatus, processCpuMs, resetPeakRss, threadCount, threadCpuMs, threadsByName, threadsDelta } from '../lib/proc.mjs'
import { blockBetween, sampleSelf } from '../lib/blocks.mjs'

const [peer, jobText] = process.argv.slice(2)
const job = JSON.parse(jobText)
const rssBoot = memStatus().rss

// tt-baseline is the tt peer with another addon (NAPI_RS_NATIVE_LIBRARY_PATH, set by run.mjs);
// tt-threads and tt-hyper-http1 are the tt peer with another engine setting (env, set by run.mjs).
const TT_VARIANTS = ['tt-baseline', 'tt-threads', 'tt-hyper-http1']
const { default: setup } = await import(`./${TT_VARIANTS.includes(peer) ? 'tt' : peer}.mjs`)
const client = await setup(job)
const rssLoaded = memStatus().rss

/**
 * Runs `count` downloads with `concurrency` lanes; each lane takes the next index (from
 * `first`). `options` goes to every `one()` (the pairs modes flip a switch with it).
 * Latencies are in completion order; `onDone(n)` runs as the n-th download completed, before
 * its lane starts the next one (the cold block's end is sampled there).
 */
async function runMany(count, concurrency, first = 0, options = undefined, onDone = undefined) {
  const latencies = []
  let next = 0
  const lane = async () => {
    for (;;) {
      const i = next++
      if (i >= count) return
      const start = performance.now()
      await client.one(first + i, options)
      latencies.push(performance.now() - start)
      onDone?.(latencies.length)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane))
  return latencies
}

/** Files and bytes stored under a directory tree (checked after the clock stopped). */
function tally(dir) {
  let files = 0
  let bytes = 0
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name)
      if (entry.isDirectory()) walk(p)
      else if (entry.isFile()) {
        files++
        bytes += statSync(p).size
      }
    }
  }
  walk(dir)
  return { files, bytes }
}

const result = { peer, mode: job.mode, rssBoot, rssLoaded }

if (job.mode === 'small') {
  // The cold block's figures are the result's own fields (as without a warm block), the
  // warm block's are result.warm (see lib/blocks.mjs).
  const warm = job.warmCount ?? 0
  const start = sampleSelf()
  let boundary
  const latencies = await runMany(job.count + warm, job.concurrency, 0, undefined, (n) => {
    if (n === job.count) boundary = sampleSelf()
  })
  const end = sampleSelf()
  Object.assign(result, blockBetween(start, boundary, latencies.slice(0, job.count)))
  if (warm > 0) result.warm = blockBetween(boundary, end, latencies.slice(job.count))
  result.threads = threadCount()
} else if (job.mode === 'large') {
  const peakResetOk = resetPeakRss()
  const before = memStatus()
  const cpu0 = threadCpuMs()
  const th0 = threadsByName()
  const t0 = performance.now()
  await client.one(0)
  result.elapsedMs = performance.now() - t0
  result.mainCpuMs = threadCpuMs() - cpu0
  const after = memStatus()
  result.threadsDelta = threadsDelta(th0, threadsByName())
  result.rssBefore = before.rss
  result.rssPeak = peakResetOk ? after.hwm : NaN
  result.rssAfter = after.rss
} else if (job.mode === 'idle') {
  await runMany(job.count, job.concurrency)
  globalThis.gc?.()
  const afterWork = memStatus().rss
  let maxIdle = afterWork
  const end = performance.now() + job.idleMs
  while (performance.now() < end) {
    await sleep(Math.min(250, Math.max(1, end - performance.now())))
    maxIdle = Math.max(maxIdle, memStatus().rss)
  }
  globalThis.gc?.()
  result.rssAfterWork = afterWork
  result.rssAfterIdle = memStatus().rss
  result.rssMaxIdle = maxIdle
} else if (job.mode === 'pairs') {
  // One switch (job.flip: 'profile' for enableProfile, 'egress' for the egress check) on and
  // off, interleaved inside one process in blocks of `count` downloads, each pair in a random
  // order: what differs between two processes (thread placement, JIT decisions, the disk's
  // state) then hits both halves of a pair alike. `one()` gets `{ [job.flip]: on }`.
  const sides = (on) => ({ [job.flip]: on })
  // Warm-up, half on each side (so both halves have their code paths, and for the egress
  // switch their host's pool of connections, warm before the first pair).
  let first = 0
  for (const on of [true, false]) {
    const n = on ? Math.ceil(job.warmup / 2) : Math.floor(job.warmup / 2)
    await runMany(n, job.concurrency, first, sides(on))
    first += n
  }
  const pairs = []
  for (let p = 0; p < job.pairs; p++) {
    const pair = {}
    for (const on of Math.random() < 0.5 ? [true, false] : [false, true]) {
      const cpu0 = processCpuMs()
      const t0 = performance.now()
      await runMany(job.count, job.concurrency, first, sides(on))
      const ms = performance.now() - t0
      pair[on ? 'on' : 'off'] = { dps: job.count / (ms / 1000), cpuUsPerDl: ((processCpuMs() - cpu0) * 1000) / job.count }
      first += job.count
    }
    pair.ratio = pair.on.dps / pair.off.dps
    pairs.push(pair)
  }
  result.pairs = pairs
} else {
  throw new Error(`unknown mode ${job.mode}`)
}

result.stored = tally(job.outDir)
if (client.extra) result.extra = client.extra()
await client.close()
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`)
// Pooled keep-alive sockets of some clients would keep the process alive a while longer.
process.exit(0)
