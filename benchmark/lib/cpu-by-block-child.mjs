// The measured process of benchmark/cpu-by-block.mjs: the bench's own tt peer (peers/tt.mjs: one
// host, env test, profile on, ttfile://temp) downloading one small file at a fixed concurrency,
// reading its threads' CPU each time another `block` downloads have completed. Prints one
// JSON line: per block, its wall time and each thread group's CPU; and the protocols used.
import { performance } from 'node:perf_hooks'
import setup from '../peers/tt.mjs'
import { threadsByName, threadsDelta } from './proc.mjs'
import { byThreadGroup } from './thread-groups.mjs'

const [url, caFile, outDir, concurrencyArg, countArg, blockArg] = process.argv.slice(2)
const concurrency = Number(concurrencyArg)
const count = Number(countArg)
const block = Number(blockArg)

const client = await setup({ mode: 'small', url, caFile, outDir, concurrency, count })
// Reading every thread's /proc files takes a while: each block's clock runs from the end of
// one sample to the start of the next, so the block's time leaves the sampling out (its CPU,
// on the JavaScript thread, stays in).
const sample = () => {
  const before = performance.now()
  const threads = threadsByName()
  return { before, after: performance.now(), threads }
}
// The clock starts once the client exists, as the bench's cold block does (peers/worker.mjs).
let mark = sample()
const blocks = []
let started = 0
let done = 0
const lane = async () => {
  // Bounded: each lane stops once `count` downloads have been started between all lanes.
  while (started < count) {
    await client.one(started++)
    if (++done % block === 0) {
      const now = sample()
      blocks.push({ ms: now.before - mark.after, groups: byThreadGroup(threadsDelta(mark.threads, now.threads)) })
      mark = now
    }
  }
}
await Promise.all(Array.from({ length: concurrency }, lane))
// Downloads by the protocol their profile names: the report says what it measured.
const { protocols } = client.extra()
await client.close()
process.stdout.write(`${JSON.stringify({ block, blocks, protocols })}\n`)
