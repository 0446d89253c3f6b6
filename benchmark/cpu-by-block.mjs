#!/usr/bin/env node
// Where the CPU of a process's first small downloads goes, against the ones after (issue 18:
// the cold block costs more than the warm one): one host process downloads one small file from
// a local nginx, and each time another block of downloads has completed, its threads' CPU is
// read from /proc and split by thread group (the JavaScript thread, the engine's threads, V8's
// and libuv's, where V8 compiles and collects). Prints a table of µs per download per block.
// Needs the addon `npm run bench` builds (or --addon); it works in a temporary directory.
//
//   node benchmark/cpu-by-block.mjs [--protocol http|https|h2] [--concurrency N] [--count N]
//                                   [--block N] [--size BYTES] [--addon PATH] [--node-args FLAGS]
//
// Run it minutes after any mass delete (another run's cleanup included): see benchmark/README.md.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { benchDir, log, toolOptions, withLocalNginx } from './lib/local-run.mjs'
import { THREAD_GROUPS } from './lib/thread-groups.mjs'

const options = toolOptions(
  process.argv.slice(2),
  {
    protocol: 'http',
    concurrency: 16,
    count: 8000,
    block: 1000,
    size: 1024,
    // Flags for the measured process's node, e.g. --trace-opt (its output goes to stderr).
    'node-args': '',
  },
  'cpu-by-block.mjs',
)
if (options.count % options.block !== 0) throw new Error('--count must be a multiple of --block')

await withLocalNginx({ protocol: options.protocol, size: options.size }, async ({ work, base, caFile, probeUs }) => {
  const child = join(benchDir, 'lib', 'cpu-by-block-child.mjs')
  const nodeArgs = options['node-args'].split(' ').filter((a) => a !== '')
  const args = [
    ...nodeArgs,
    child,
    `${base}/file.bin`,
    caFile,
    join(work, 'data'),
    ...['concurrency', 'count', 'block'].map((k) => String(options[k])),
  ]
  const run = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    env: { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: options.addon },
  })
  if (run.status !== 0) throw new Error(`the measured process failed: ${run.stderr}`)
  const lines = run.stdout.trim().split('\n')
  const { block, blocks, protocols } = JSON.parse(lines.pop())
  if (lines.length > 0) log(lines.join('\n'))
  console.log(
    `${options.count} downloads of ${options.size} B over ${options.protocol} at concurrency ${options.concurrency}, ` +
      `in blocks of ${block}; node ${process.version}; addon ${options.addon}`,
  )
  console.log(`creating a 1 KiB file in the run's directory cost ${Math.round(probeUs)} µs before the run (create + write + close)`)
  const used = Object.entries(protocols).map(([name, n]) => `${name} ${n}`)
  console.log(`protocols (from each download's profile): ${used.join(', ')}`)
  console.log(
    'CPU in µs per download of the block, by thread group, from /proc/<pid>/task/*/schedstat: the scheduler brings a thread up to date ' +
      'at each context switch and tick, so a thread running when read (the JavaScript thread, which reads) is up to a tick behind',
  )
  const header = ['downloads', 'downloads/s', ...THREAD_GROUPS, 'all', 'context switches/dl']
  console.log(`| ${header.join(' | ')} |`)
  console.log(`|${header.map(() => '---:').join('|')}|`)
  blocks.forEach(({ ms, groups }, i) => {
    const perDl = (group) => ((groups[group]?.cpuMs ?? 0) * 1000) / block
    const all = THREAD_GROUPS.reduce((sum, g) => sum + perDl(g), 0)
    const switches = THREAD_GROUPS.reduce((sum, g) => sum + (groups[g]?.switches ?? 0), 0) / block
    const cells = [
      `${i * block + 1}-${(i + 1) * block}`,
      Math.round((block / ms) * 1000).toLocaleString('en-US'),
      ...THREAD_GROUPS.map((g) => perDl(g).toFixed(1)),
      all.toFixed(1),
      switches.toFixed(1),
    ]
    console.log(`| ${cells.join(' | ')} |`)
  })
})
