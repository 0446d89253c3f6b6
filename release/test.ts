// npm run test:release: the install path of every shipped platform, end to end. Builds the
// release addons, publishes tt-download and its platform packages to a verdaccio of its own on
// 127.0.0.1, and in fresh projects with no Rust toolchain runs a plain `npm install tt-download`
// and a real download on x64 glibc under every supported Node line, on arm64 glibc under qemu,
// and on x64 and arm64 musl in a musl root. Every stage prints its duration.
//
//   --prebuilt  use the addons already in npm/<platform>/ (the release workflow's artifacts)
//   --here      try only this machine's own platform, under the Node running this script (the
//               workflow's arm64 runners and node:<v>-alpine containers); no qemu, no chroot
import { strict as assert } from 'node:assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { expectedSha256 } from '../__test__/helpers/bytes.js'
import { startContentServer } from '../__test__/helpers/content-server.js'
import { addonPath, buildRelease } from './lib/build.js'
import { checkAddon } from './lib/checks.js'
import { chrootPlace, hostPlace } from './lib/places.js'
import type { Place } from './lib/places.js'
import { preflight } from './lib/preflight.js'
import { publishDependencies, publishRelease, stageRelease } from './lib/publish.js'
import { startRegistry } from './lib/registry.js'
import { glibcNode, muslLibc, muslNode, PINS, thisNode } from './lib/runtimes.js'
import { timed } from './lib/stages.js'
import { shippedTargets } from './lib/targets.js'
import type { Target } from './lib/targets.js'
import * as trials from './lib/trials.js'

const SERVED_LENGTH = 70_000
/** The main package holds the JavaScript and the loader, never an addon. */
const MAIN_FILES = /^(dist\/.+|binding\.js|binding\.d\.ts|package\.json|README\.md)$/

async function main(): Promise<void> {
  const { values: flags } = parseArgs({ options: { prebuilt: { type: 'boolean' }, here: { type: 'boolean' } } })
  const started = performance.now()
  const targets = shippedTargets()
  for (const target of targets) {
    const addon = flags.prebuilt ? addonPath(target) : await timed(`build ${target.triple}`, () => buildRelease(target))
    console.log(`[release]   ${target.platform}: ${await checkAddon(target, addon)}`)
  }
  const work = await mkdtemp(join(tmpdir(), 'tt-download-release-'))
  const plans = flags.here ? await herePlans(targets, work) : await matrixPlans(targets, work)
  const registry = await timed('start verdaccio', () => startRegistry(join(work, 'registry')))
  const server = await startContentServer({ mode: 'http' })
  const failures: string[] = []
  try {
    const publisher = join(work, 'publisher')
    const deps = await timed('publish the runtime dependencies', () => publishDependencies(registry, publisher))
    console.log(`[release]   ${deps} packages from package-lock.json`)
    const mainFiles = await timed('stage and publish tt-download and its platform packages', async () =>
      publishRelease(registry, await stageRelease(join(work, 'stage'), targets), publisher),
    )
    const stray = mainFiles.filter((file) => !MAIN_FILES.test(file))
    assert.deepEqual(stray, [], 'files in the main package beyond dist, the loader and its types')

    const served = { url: server.url(`/bytes/${SERVED_LENGTH}`), length: SERVED_LENGTH, sha256: expectedSha256(SERVED_LENGTH) }
    for (const plan of plans) {
      const place = await plan.make(registry.url)
      try {
        await timed(`${place.name}: npm install tt-download, download`, async () => {
          const installed = await trials.install(place)
          console.log(`[release]   installed platform packages: ${installed.join(', ') || 'none'}`)
          await trials.download(place, plan.target, served)
          console.log(`[release]   downloaded through ${plan.target.packageName}`)
          for (const extra of plan.extras) {
            await extra.run(place, plan.target, served)
            console.log(`[release]   ${extra.what}: ok`)
          }
        })
      } catch (error) {
        failures.push(`${place.name}: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
  } finally {
    await server.close()
    await registry.stop()
    await rm(work, { recursive: true, force: true })
  }
  const total = ((performance.now() - started) / 1000).toFixed(1)
  if (failures.length > 0) {
    console.error(`test:release: ${failures.length} place(s) failed (${total} s):\n${failures.join('\n')}`)
    process.exitCode = 1
    return
  }
  console.log(`test:release: every platform installed and downloaded (${total} s)`)
}

interface Extra {
  what: string
  run: (place: Place, target: Target, served: trials.Served) => Promise<void>
}

interface Plan {
  target: Target
  make: (registry: string) => Promise<Place>
  /** Checks beyond install and download. */
  extras: Extra[]
}

/** The checks a place's own platform gets once: ESM, the bin's demo, npm ci, the loader's error. */
const IMPORT: Extra = { what: 'import: the same download', run: (p, _, served) => trials.downloadByImport(p, served) }
const DEMO: Extra = { what: 'npx tt-download demo', run: (p) => trials.demo(p) }
const ONCE: Extra[] = [
  IMPORT,
  DEMO,
  { what: 'npm ci from the lockfile, then the download', run: (p, target, served) => trials.installFromLockfile(p, target, served) },
  { what: 'without the platform package: the error names it', run: (p, target) => trials.missingPlatformPackage(p, target) },
]

function targetFor(targets: Target[], arch: string, libc: string): Target {
  const target = targets.find((t) => t.arch === arch && t.libc === libc)
  if (target === undefined) throw new Error(`package.json napi.targets has no ${arch} ${libc} target`)
  return target
}

/** This machine's platform under the Node running the script. */
async function herePlans(targets: Target[], work: string): Promise<Plan[]> {
  const runtime = thisNode()
  const target = targetFor(targets, runtime.arch, runtime.libc)
  return [{ target, make: (registry) => hostPlace({ dir: join(work, 'here'), registry, runtime }), extras: ONCE }]
}

/**
 * Every shipped platform from one x64 glibc machine: each supported Node line natively (the
 * checks beyond the download on the oldest), arm64 glibc under qemu (with the demo), x64 and
 * arm64 musl in a musl root.
 */
async function matrixPlans(targets: Target[], work: string): Promise<Plan[]> {
  if (process.arch !== 'x64' || thisNode().libc !== 'glibc') throw new Error('the full matrix runs on x64 glibc; elsewhere use --here')
  const tools = await timed('preflight', preflight)
  const runtimes = await timed('fetch the Node runtimes and musl (cached)', async () => ({
    x64: await Promise.all(PINS.glibc.x64.map((v) => glibcNode('x64', v))),
    arm64: await Promise.all(PINS.glibc.arm64.map((v) => glibcNode('arm64', v))),
    musl: { x64: await muslNode('x64'), arm64: await muslNode('arm64') },
    muslLibc: { x64: await muslLibc('x64'), arm64: await muslLibc('arm64') },
  }))
  const plans: Plan[] = []
  runtimes.x64.forEach((runtime, i) => {
    const dir = join(work, `x64-glibc-${runtime.version}`)
    const extras = i === 0 ? ONCE : [IMPORT]
    plans.push({ target: targetFor(targets, 'x64', 'glibc'), make: (registry) => hostPlace({ dir, registry, runtime }), extras })
  })
  for (const runtime of runtimes.arm64) {
    const dir = join(work, `arm64-glibc-${runtime.version}`)
    const make = (registry: string) => hostPlace({ dir, registry, runtime }, tools.qemu)
    plans.push({ target: targetFor(targets, 'arm64', 'glibc'), make, extras: [DEMO] })
  }
  for (const arch of ['x64', 'arm64'] as const) {
    const runtime = runtimes.musl[arch]
    const dir = join(work, `${arch}-musl-${runtime.version}`)
    const parts = { muslLibc: runtimes.muslLibc[arch], busybox: tools.busybox, qemu: arch === 'arm64' ? tools.qemu : undefined }
    plans.push({ target: targetFor(targets, arch, 'musl'), make: (registry) => chrootPlace({ dir, registry, runtime }, parts), extras: [] })
  }
  return plans
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
