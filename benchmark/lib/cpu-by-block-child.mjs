// The measured process of benchmark/cpu-by-block.mjs: the bench's own tt peer (peers/tt.mjs: one
// host, env test, profile on, ttfile://temp) downloading one small file at a fixed concurrency,
// reading its threads' CPU each time another `block` downloads have completed. Prints one
// JSON line: per block, its wall time and each thread group's CPU.
import { performance } from 'node:perf_hooks'
import setup from '../peers/tt.mjs'
import { threadGroup, threadsByName, threadsDelta } from './proc.mjs'

const [url, caFile, outDir, concurrencyArg, countArg, blockArg] = process.argv.slice(2)
const concurrency = Number(concurrencyArg)
const count = Number(countArg)
const block = Number(blockArg)

const byGroup = (threads) => {
  const groups = {}
  for (const [name, t] of Object.entries(threads)) {
    const group = threadGroup(name, name === 'main')
    const g = (groups[group] ??= { cpuMs: 0, switches: 0 })
    g.cpuMs += t.cpuMs
    g.switches += t.switches
  }
  return groups
}

// The clock starts before the client exists, as the bench's cold block does.
let mark = { ms: performance.now(), threads: threadsByName() }
const client = await setup({ mode: 'small', url, caFile, outDir, concurrency, count })
const blocks = []
let started = 0
let done = 0
const lane = async () => {
  // Bounded: each lane stops once `count` downloads have been started between all lanes.
  while (started < count) {
    await client.one(started++)
    if (++done % block === 0) {
      const now = { ms: performance.now(), threads: threadsByName() }
      blocks.push({ ms: now.ms - mark.ms, groups: byGroup(threadsDelta(mark.threads, now.threads)) })
      mark = now
    }
  }
}
await Promise.all(Array.from({ length: concurrency }, lane))
await client.close()
process.stdout.write(`${JSON.stringify({ block, blocks })}\n`)
