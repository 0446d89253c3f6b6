// The machine tools test:release needs, each named with the Debian package that has it, so a
// missing one fails the run with the command that fixes it (.ci/run installs them all).
import { existsSync } from 'node:fs'
import { exec, which } from './exec.js'

export interface Tools {
  qemu: string
  busybox: string
}

const ARM64_LIBS = ['/lib/ld-linux-aarch64.so.1', '/usr/lib/aarch64-linux-gnu/libstdc++.so.6']

export async function preflight(): Promise<Tools> {
  const missing: string[] = []
  const need = async (command: string, pkg: string) => (await which(command)) ?? (missing.push(`${command} (${pkg})`), '')
  for (const [command, pkg] of [
    ['readelf', 'binutils'],
    ['unshare', 'util-linux'],
    ['chroot', 'coreutils'],
    ['apt-get', 'apt'],
    ['dpkg', 'dpkg'],
    ['rustup', 'rustup, https://rustup.rs'],
    ['python3', 'python3 python3-venv'],
  ]) {
    await need(command!, pkg!)
  }
  const qemu = await need('qemu-aarch64-static', 'qemu-user-static')
  const busybox = (await which('busybox')) ?? ''
  if (busybox === '' || !(await isStatic(busybox))) missing.push('a static busybox (busybox-static)')
  for (const lib of ARM64_LIBS) {
    if (!existsSync(lib)) missing.push(`${lib} (libc6:arm64 libstdc++6:arm64, after dpkg --add-architecture arm64)`)
  }
  if (process.getuid?.() !== 0) missing.push('root (chroot and mount for the musl checks)')
  if (missing.length > 0) {
    throw new Error(
      `test:release needs: ${missing.join('; ')}.\nOn Debian: dpkg --add-architecture arm64 && apt-get update && apt-get install binutils qemu-user-static busybox-static libc6:arm64 libstdc++6:arm64`,
    )
  }
  return { qemu, busybox }
}

async function isStatic(file: string): Promise<boolean> {
  const { stdout } = await exec('readelf', ['--program-headers', '--wide', file])
  return !stdout.includes('INTERP')
}
