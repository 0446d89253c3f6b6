// What each place must show of the installed package: a plain `npm install tt-download` brings
// the right binary (the one that loads is the platform package's, for this CPU and libc), it
// downloads a file byte for byte, and the bin works.
import { strict as assert } from 'node:assert'
import { copyFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Place } from './places.js'
import { ROOT } from './targets.js'
import type { Target } from './targets.js'

const FIXTURES = join(ROOT, 'release', 'fixtures')

/** Under qemu every Node start costs seconds; these bound the slowest of them. */
const INSTALL_TIMEOUT_MS = 10 * 60_000
const RUN_TIMEOUT_MS = 5 * 60_000

export interface Served {
  url: string
  length: number
  sha256: string
}

export async function install(place: Place): Promise<string[]> {
  const cargo = await place.sh('command -v cargo || echo none')
  assert.equal(cargo.stdout.trim(), 'none', `${place.name}: cargo is on PATH`)
  await place.sh('npm install tt-download', INSTALL_TIMEOUT_MS)
  const listed = await place.sh('ls node_modules')
  return listed.stdout.split('\n').filter((name) => name.startsWith('tt-download-'))
}

interface CheckOutput {
  arch: string
  node: string
  addons: string[]
  statusCode: number
  dataLength: number
  sha256: string
  exports: string[]
}

export async function download(place: Place, target: Target, served: Served): Promise<void> {
  await copyFile(join(FIXTURES, 'check.cjs'), join(place.project, 'check.cjs'))
  const ran = await place.sh(`node check.cjs ${served.url} data`, RUN_TIMEOUT_MS)
  const out = JSON.parse(ran.stdout) as CheckOutput
  assert.equal(out.arch, target.arch, `${place.name}: process.arch`)
  assert.equal(out.node, `v${place.runtime.version}`, `${place.name}: the Node under test ran`)
  const expected = join(place.projectInside, 'node_modules', target.packageName, target.addon)
  assert.deepEqual(out.addons, [expected], `${place.name}: the addon that loaded`)
  assert.equal(out.statusCode, 200)
  assert.equal(out.dataLength, served.length)
  assert.equal(out.sha256, served.sha256, `${place.name}: the stored file's bytes`)
  assert.deepEqual(out.exports, ['function', 'function', 'function'])
}

export async function downloadByImport(place: Place, served: Served): Promise<void> {
  await copyFile(join(FIXTURES, 'check.mjs'), join(place.project, 'check.mjs'))
  const out = JSON.parse((await place.sh(`node check.mjs ${served.url} data-esm`, RUN_TIMEOUT_MS)).stdout) as Partial<CheckOutput>
  assert.deepEqual(out, { statusCode: 200, dataLength: served.length, sha256: served.sha256 }, `${place.name}: import`)
}

export async function demo(place: Place): Promise<void> {
  const ran = await place.sh('npx --offline tt-download demo', RUN_TIMEOUT_MS)
  assert.match(ran.stdout, /demo: all downloads succeeded and match what was served/, `${place.name}: demo`)
}

/** A project installed again from its npm 11 lockfile, as CI systems do. */
export async function installFromLockfile(place: Place, target: Target, served: Served): Promise<void> {
  await place.sh('rm -rf node_modules && npm ci', INSTALL_TIMEOUT_MS)
  await download(place, target, served)
}

/** Without the platform package the loader fails, naming the package to install. */
export async function missingPlatformPackage(place: Place, target: Target): Promise<void> {
  await place.sh(`mv node_modules/${target.packageName} ../moved-platform-package`)
  try {
    const ran = await place.sh(`node -e "require('tt-download')" 2>&1; echo "exit=$?"`)
    assert.match(ran.stdout, /exit=[1-9]/, `${place.name}: require without the platform package`)
    assert.ok(ran.stdout.includes(`Install the prebuilt binary package '${target.packageName}'`), ran.stdout)
    assert.ok(ran.stdout.includes(`npm install ${target.packageName}`), ran.stdout)
    assert.match(ran.stdout, new RegExp(`Cannot find module '${target.packageName}'`), 'the attempts are listed')
  } finally {
    await place.sh(`mv ../moved-platform-package node_modules/${target.packageName}`)
  }
}
