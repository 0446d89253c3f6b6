#!/usr/bin/env node
// Where the CPU of a process's first small downloads goes, against the ones after (issue 18:
// the cold block costs more than the warm one): one host process downloads one small file from
// a local nginx, and each time another block of downloads has completed, its threads' CPU is
// read from /proc and split by thread group (the JavaScript thread, the engine's threads, V8's
// and libuv's, where V8 compiles and collects). Prints a table of µs per download per block.
// Needs the addon `npm run bench` builds (or --addon); it works in a temporary directory.
//
//   node benchmark/cpu-by-block.mjs [--protocol http|https|h2] [--concurrency N] [--count N]
//                                   [--block N] [--size BYTES] [--addon PATH]
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { benchDir, toolOptions, withLocalNginx } from './lib/local-run.mjs'

const options = toolOptions(
  process.argv.slice(2),
  {
    protocol: 'http',
    concurrency: 16,
    count: 8000,
    block: 500,
    size: 1024,
  },
  'cpu-by-block.mjs',
)
if (options.count % options.block !== 0) throw new Error('--count must be a multiple of --block')

const GROUPS = ['JavaScript thread', 'engine threads', 'other threads (V8, libuv)']

await withLocalNginx({ protocol: options.protocol, size: options.size }, async ({ work, base, caFile, probeUs }) => {
  const child = join(benchDir, 'lib', 'cpu-by-block-child.mjs')
  const args = [child, `${base}/file.bin`, caFile, join(work, 'data'), ...['concurrency', 'count', 'block'].map((k) => String(options[k]))]
  const run = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    env: { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: options.addon },
  })
  if (run.status !== 0) throw new Error(`the measured process failed: ${run.stderr}`)
  const { block, blocks } = JSON.parse(run.stdout.trim().split('\n').pop())
  console.log(
    `${options.count} downloads of ${options.size} B over ${options.protocol} at concurrency ${options.concurrency}, ` +
      `in blocks of ${block}; node ${process.version}; addon ${options.addon}`,
  )
  console.log(`creating a 1 KiB file in the run's directory cost ${Math.round(probeUs)} µs before the run (create + write + close)`)
  console.log(
    'CPU in µs per download of the block, by thread group (from /proc/<pid>/task/*/schedstat); the first block includes the client set-up',
  )
  const header = ['downloads', 'downloads/s', ...GROUPS, 'all', 'context switches/dl']
  console.log(`| ${header.join(' | ')} |`)
  console.log(`|${header.map(() => '---:').join('|')}|`)
  blocks.forEach(({ ms, groups }, i) => {
    const perDl = (group) => ((groups[group]?.cpuMs ?? 0) * 1000) / block
    const all = GROUPS.reduce((sum, g) => sum + perDl(g), 0)
    const switches = GROUPS.reduce((sum, g) => sum + (groups[g]?.switches ?? 0), 0) / block
    const cells = [
      `${i * block + 1}-${(i + 1) * block}`,
      Math.round((block / ms) * 1000).toLocaleString('en-US'),
      ...GROUPS.map((g) => perDl(g).toFixed(1)),
      all.toFixed(1),
      switches.toFixed(1),
    ]
    console.log(`| ${cells.join(' | ')} |`)
  })
})
