// The soak test in its short form (issue 9): `__test__/soak/run.ts --seconds 20` in a process
// of its own (it counts /proc/self/fd and RSS, which must be its own), bounded by a hard
// timeout. `npm run soak` runs the long form.
import test from 'ava'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from './helpers/child.js'

const SOAK = join(ROOT, '__test__', 'soak', 'run.ts')
const SECONDS = 20
/** 20 s of downloads, up to 30 s of drain, 10 s for the fd count to settle, startup. */
const HARD_TIMEOUT_MS = 120_000

interface SoakSummary {
  seed: number
  downloads: number
  successes: number
  verifiedFiles: number
  tempStored: number
  tempEvicted: number
  lostCallbacks: number
  doubleCallbacks: number
  unexpectedOutcomes: number
  hashMismatches: number
  stagingFiles: number
  strayFiles: number
  leaks: number
  violations: number
  faults: Record<string, number>
  chaos: Record<string, number>
}

test('soak (short form): every call completes once, no fd, file or memory leak, every stored file intact', async (t) => {
  t.timeout(HARD_TIMEOUT_MS + 10_000)
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', SOAK, '--seconds', String(SECONDS)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, HARD_TIMEOUT_MS)
  t.teardown(() => {
    clearTimeout(timer)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
  clearTimeout(timer)

  const report = stdout
    .split('\n')
    .filter((line) => !line.startsWith('SOAK-RESULT '))
    .join('\n')
  t.log(report.trim())
  if (stderr.trim() !== '') t.log(`stderr:\n${stderr.trim()}`)
  t.false(timedOut, `the soak outlived ${HARD_TIMEOUT_MS} ms`)
  t.is(code, 0, 'the soak found a violation (see the log)')

  const line = stdout.split('\n').find((l) => l.startsWith('SOAK-RESULT '))
  t.truthy(line, 'the soak printed its summary')
  if (line === undefined) return
  const summary = JSON.parse(line.slice('SOAK-RESULT '.length)) as SoakSummary
  t.true(summary.downloads >= 1000, `thousands of downloads expected, got ${summary.downloads}`)
  // Files in user/ are hashed; files in temp/ are checked when their success is delivered
  // (eviction may take them any time after), and every one is still there or was evicted.
  t.true(summary.successes > 0 && summary.verifiedFiles + summary.tempStored === summary.successes, 'every success verified')
  t.true(summary.verifiedFiles > 0 && summary.tempStored > 0, 'both user/ and temp/ downloads ran')
  t.true(summary.tempEvicted > 0, 'the small tempQuota made the hosts evict')
  for (const key of [
    'lostCallbacks',
    'doubleCallbacks',
    'unexpectedOutcomes',
    'hashMismatches',
    'stagingFiles',
    'strayFiles',
    'leaks',
    'violations',
  ] as const) {
    t.is(summary[key], 0, key)
  }
  // The mix really ran: every fault kind and every chaos event came up at least once.
  for (const kind of [
    'reset',
    'short',
    'stall',
    'hang',
    'certificate',
    'plainTls',
    'abort',
    'garbage',
    'refused',
    'egressRefused',
    'proxied',
  ]) {
    t.true((summary.faults[kind] ?? 0) > 0, `fault ${kind} ran`)
  }
  for (const kind of ['close', 'networkOff', 'networkChange']) {
    t.true((summary.chaos[kind] ?? 0) > 0, `chaos ${kind} ran`)
  }
})
