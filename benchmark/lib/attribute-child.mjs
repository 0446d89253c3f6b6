// The measured process of benchmark/attribute.mjs: the bench's own tt peer (peers/tt.mjs: one
// host, env test, profile on, ttfile://temp) downloading one small file over and over at a fixed
// concurrency, so that `perf record` on this process sees only the download path the bench
// measures. Prints one JSON line.
import { performance } from 'node:perf_hooks'
import setup from '../peers/tt.mjs'

const [url, caFile, outDir, concurrencyArg, countArg] = process.argv.slice(2)
const concurrency = Number(concurrencyArg)
const count = Number(countArg)
const client = await setup({ mode: 'small', url, caFile, outDir, concurrency, count })

let started = 0
const lane = async () => {
  // Bounded: each lane stops once `count` downloads have been started between all lanes.
  while (started < count) await client.one(started++)
}
const t0 = performance.now()
const cpu0 = process.cpuUsage()
await Promise.all(Array.from({ length: concurrency }, lane))
const ms = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
// Downloads by the protocol their profile names: the report says what it measured.
const { protocols } = client.extra()
await client.close()
process.stdout.write(`${JSON.stringify({ count, ms, cpuUs: cpu.user + cpu.system, protocols })}\n`)
