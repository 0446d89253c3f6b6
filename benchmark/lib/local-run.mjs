// The set-up the diagnostic tools share (attribute.mjs, cpu-by-block.mjs): a temporary work
// directory with one small file, a file system settled enough that creates are cheap, and
// nginx on loopback serving the file; all removed afterwards.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { ensureFile, ensureNginx, startNginx } from './server.mjs'
import { createCost } from './disk-probe.mjs'

export const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const root = join(benchDir, '..')
/** The tools' progress lines; their report goes to stdout. */
export const log = (...a) => process.stderr.write(`${a.join(' ')}\n`)

/** Bounded: 24 probes 5 s apart, then the run goes ahead at whatever creates cost. */
const SETTLE_PROBES = 24
const CHEAP_CREATE_US = 100

/**
 * Runs `measure({ work, base, caFile, probeUs })`, `base` the URL of the protocol's port and
 * `${base}/file.bin` a file of `size` bytes.
 */
export async function withLocalNginx({ protocol, size }, measure) {
  // Not under benchmark/.bench: the bench's mass deletes there keep creates slow for minutes.
  const work = mkdtempSync(join(tmpdir(), 'tt-diagnose-'))
  let ran = false
  try {
    const www = join(work, 'www')
    mkdirSync(www)
    ensureFile(join(www, 'file.bin'), size)
    // The engine's file creates are a large share of its CPU, and right after mass deletes (an
    // earlier run's) they cost several times more: wait, as the bench does, until they are cheap.
    let probeUs = createCost(work).us
    for (let i = 0; i < SETTLE_PROBES && probeUs > CHEAP_CREATE_US; i++) {
      log(`creating a 1 KiB file costs ${Math.round(probeUs)} µs; waiting for the file system to settle`)
      await sleep(5000)
      probeUs = createCost(work).us
    }
    const server = await startNginx({ nginx: ensureNginx(log), dir: join(work, 'nginx'), wwwDir: www, root, log })
    try {
      const base = { http: server.httpBase, https: server.httpsBase, h2: server.h2Base }[protocol]
      ran = true
      return await measure({ work, base, caFile: server.caFile, probeUs })
    } finally {
      await server.stop()
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
    // The probe above can miss that slowness: it times 200 creates, a run makes thousands.
    if (ran) log("removed the run's files: creates on this file system stay slow for minutes after mass deletes; wait before the next run")
  }
}

/**
 * `--name value` pairs over `defaults` and `--addon` (numbers stay numbers): an unknown option
 * or a missing value exits with the usage line; a value out of range, a protocol other than
 * http, https or h2, or a missing addon throws.
 */
export function toolOptions(argv, toolDefaults, script) {
  const defaults = { ...toolDefaults, addon: join(benchDir, '.bench', 'addon', 'tt-download.bench-release.node') }
  const options = { ...defaults }
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '')
    if (!Object.hasOwn(options, key) || argv[i + 1] === undefined) {
      log(`usage: node benchmark/${script} [--${Object.keys(options).join(' V] [--')} V]`)
      process.exit(2)
    }
    options[key] = typeof defaults[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1]
  }
  for (const [key, value] of Object.entries(options)) {
    if (typeof defaults[key] === 'number' && !(Number.isInteger(value) && value > 0)) throw new Error(`--${key} must be a positive integer`)
  }
  if (!['http', 'https', 'h2'].includes(options.protocol))
    throw new Error('--protocol is http, https or h2 (HTTPS on the port that offers HTTP/2)')
  // The measured process loads it from another directory.
  options.addon = resolve(options.addon)
  if (!existsSync(options.addon)) throw new Error(`no addon at ${options.addon}: run npm run bench once, or pass --addon PATH`)
  return options
}
