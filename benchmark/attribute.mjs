#!/usr/bin/env node
// Where a small download's CPU goes (issue 18, "attribute before building"): one host process
// downloads one small file from a local nginx under `perf record`, and the samples are split by
// thread group (the JavaScript thread, the engine's threads, V8's and libuv's) and, inside each,
// by system call or user-space library. Needs Linux `perf` (Debian: linux-perf) and the addon
// `npm run bench` builds (or --addon). Prints its report; it works in a temporary directory.
//
//   node benchmark/attribute.mjs [--protocol http|https|h2] [--concurrency N] [--count N]
//                                [--size BYTES] [--frequency HZ] [--addon PATH]
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { attribute, attributionText, parseSamples } from './lib/perf-samples.mjs'
import { benchDir, toolOptions, withLocalNginx } from './lib/local-run.mjs'

const options = toolOptions(
  process.argv.slice(2),
  {
    protocol: 'http',
    concurrency: 16,
    count: 20000,
    size: 1024,
    frequency: 1999,
  },
  'attribute.mjs',
)
if (spawnSync('perf', ['--version']).status !== 0) throw new Error('perf is not installed (Debian: apt-get install linux-perf)')

await withLocalNginx({ protocol: options.protocol, size: options.size }, async ({ work, base, caFile, probeUs }) => {
  const perfData = join(work, 'perf.data')
  const child = join(benchDir, 'lib', 'attribute-child.mjs')
  const args = [child, `${base}/file.bin`, caFile, join(work, 'data'), String(options.concurrency), String(options.count)]
  // Frame pointers (-g): V8 keeps them, and --perf-basic-prof names JavaScript's frames.
  const run = spawnSync(
    'perf',
    ['record', '-F', String(options.frequency), '-g', '-o', perfData, '--', process.execPath, '--perf-basic-prof', ...args],
    {
      encoding: 'utf8',
      env: { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: options.addon },
      // V8's code log (isolate-*.log, written with --perf-basic-prof) lands in the work directory.
      cwd: work,
    },
  )
  if (run.status !== 0) throw new Error(`perf record failed: ${run.stderr}`)
  const measured = JSON.parse(run.stdout.trim().split('\n').pop())
  const script = spawnSync('perf', ['script', '-i', perfData, '-F', 'comm,pid,tid,ip,sym,dso'], { encoding: 'utf8', maxBuffer: 1 << 30 })
  if (script.status !== 0) throw new Error(`perf script failed: ${script.stderr}`)
  const pid = Number(script.stdout.match(/^\S.*?\s(\d+)\/\1\s*$/m)?.[1])
  // The child's symbol map for perf (V8 writes it to /tmp with --perf-basic-prof), read by `perf script`.
  rmSync(`/tmp/perf-${pid}.map`, { force: true })
  const attribution = attribute(parseSamples(script.stdout, pid), { frequency: options.frequency, downloads: measured.count })
  const rate = (measured.count / measured.ms) * 1000
  console.log(
    `${measured.count} downloads of ${options.size} B over ${options.protocol} at concurrency ${options.concurrency}: ` +
      `${Math.round(rate)} downloads/s, process CPU ${(measured.cpuUs / measured.count).toFixed(1)} µs per download (getrusage)`,
  )
  const used = Object.entries(measured.protocols).map(([name, n]) => `${name} ${n}`)
  console.log(`protocols (from each download's profile): ${used.join(', ')}`)
  console.log(`perf record -F ${options.frequency} -g; node ${process.version}; addon ${options.addon}`)
  console.log(`creating a 1 KiB file in the run's directory cost ${Math.round(probeUs)} µs before the run (create + write + close)`)
  console.log('')
  console.log(attributionText(attribution))
})
