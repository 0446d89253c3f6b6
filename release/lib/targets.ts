// The Linux targets tt-download ships, read from package.json's `napi.targets` (the one list the
// napi-rs tooling, the loader and these scripts share), with what each needs to be built and run.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export const ROOT = join(import.meta.dirname, '..', '..')

/** The oldest glibc the gnu addons may need: CentOS 7, Amazon Linux 2, Debian 9 and up. */
export const GLIBC_BASELINE = '2.17'

export interface Target {
  /** Rust's name: x86_64-unknown-linux-gnu. */
  triple: string
  /** napi-rs's platform name, the npm/<platform>/ directory: linux-x64-gnu. */
  platform: string
  /** process.arch of a Node that loads it. */
  arch: 'x64' | 'arm64'
  libc: 'glibc' | 'musl'
  /** The file name inside the platform package. */
  addon: string
  /** The platform package's npm name. */
  packageName: string
}

interface Manifest {
  name: string
  version: string
  napi: { binaryName: string; targets: string[] }
}

export function manifest(): Manifest {
  return JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest
}

const ARCHES: Record<string, Target['arch']> = { x86_64: 'x64', aarch64: 'arm64' }

export function targetOf(triple: string): Target {
  const match = /^(x86_64|aarch64)-unknown-linux-(gnu|musl)$/.exec(triple)
  if (match === null) throw new Error(`${triple}: not a Linux target tt-download builds (x86_64 or aarch64, gnu or musl)`)
  const arch = ARCHES[match[1]!]!
  const libc = match[2] === 'gnu' ? 'glibc' : 'musl'
  const { name, napi } = manifest()
  const platform = `linux-${arch}-${match[2]}`
  return { triple, platform, arch, libc, addon: `${napi.binaryName}.${platform}.node`, packageName: `${name}-${platform}` }
}

export function shippedTargets(): Target[] {
  return manifest().napi.targets.map(targetOf)
}
