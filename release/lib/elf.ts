// What an addon asks of the system that loads it, read from its ELF headers with readelf (which,
// unlike objdump, reads every architecture's files on any host).
import { exec } from './exec.js'

const MACHINES: Record<string, string> = { x64: 'Advanced Micro Devices X86-64', arm64: 'AArch64' }

/** The highest GLIBC_x.y version the file needs, or undefined when it needs none (musl). */
export async function highestGlibc(file: string): Promise<string | undefined> {
  const { stdout } = await exec('readelf', ['--version-info', '--wide', file])
  const versions = [...stdout.matchAll(/Name: GLIBC_([0-9.]+)/g)].map((m) => m[1]!)
  return versions.sort(compareVersions).at(-1)
}

/** The shared libraries the file needs (a musl build names no glibc library). */
export async function neededLibraries(file: string): Promise<string[]> {
  const { stdout } = await exec('readelf', ['--dynamic', '--wide', file])
  return [...stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!)
}

export async function machineMatches(file: string, arch: 'x64' | 'arm64'): Promise<boolean> {
  const { stdout } = await exec('readelf', ['--file-header', file])
  return /^\s*Machine:\s+(.+)$/m.exec(stdout)?.[1]?.trim() === MACHINES[arch]
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}
