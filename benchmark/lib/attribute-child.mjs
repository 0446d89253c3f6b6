// The measured process of benchmark/attribute.mjs: one host downloading one small file over and
// over at a fixed concurrency, as the bench's tt peer does (env test, profile on, ttfile://temp),
// so that `perf record` on this process sees only the download path. Prints one JSON line.
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

const [root, url, caFile, dataDir, concurrencyArg, countArg] = process.argv.slice(2)
const concurrency = Number(concurrencyArg)
const count = Number(countArg)
const require = createRequire(import.meta.url)
const { createHost } = require(`${root}/dist/index.js`)
const host = createHost({
  appId: 'attribute',
  dataDir,
  env: 'test',
  maxConcurrent: concurrency,
  userDataQuota: 2 ** 50,
  // Every stored file stays until the end, as in the bench: an eviction would time unlinks.
  tempQuota: 2 ** 50,
  tls: { ca: readFileSync(caFile, 'utf8') },
  egress: { allow: ['127.0.0.0/8'] },
})

let started = 0
/** Downloads by the protocol their profile names: the report says what it measured. */
const protocols = {}
const lane = async () => {
  // Bounded: each lane stops once `count` downloads have been started between all lanes.
  while (started < count) {
    started++
    const { protocol } = (await host.download({ url, enableProfile: true })).profile
    protocols[protocol] = (protocols[protocol] ?? 0) + 1
  }
}
const t0 = performance.now()
const cpu0 = process.cpuUsage()
await Promise.all(Array.from({ length: concurrency }, lane))
const ms = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
await host.close()
process.stdout.write(`${JSON.stringify({ count, ms, cpuUs: cpu.user + cpu.system, protocols })}\n`)
