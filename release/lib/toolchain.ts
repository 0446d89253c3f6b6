// The cross toolchain: cargo-zigbuild and zig from PyPI, pinned by hash in a venv under the cache
// (Debian's Python refuses a system-wide pip install), and the Rust standard library of each
// target through rustup. zig links the gnu addons against glibc 2.17's symbol stubs, which the
// host's own linker cannot do: a plain `cargo build` here links against Debian 12's 2.36.
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cachePath } from './cache.js'
import { exec } from './exec.js'
import { ROOT } from './targets.js'

const VENV = cachePath('venv')
const REQUIREMENTS = join(ROOT, 'release', 'requirements.txt')

/** The venv's bin directory (python3, pip), created once. */
export async function venvBin(): Promise<string> {
  const bin = join(VENV, 'bin')
  if (!existsSync(join(bin, 'python3'))) await exec('python3', ['-m', 'venv', VENV])
  return bin
}

/** The venv's bin directory, with cargo-zigbuild and a python3 that has ziglang, set up once. */
export async function zigbuildBin(): Promise<string> {
  const bin = await venvBin()
  const wanted = createHash('sha256').update(readFileSync(REQUIREMENTS)).digest('hex')
  const stamp = join(VENV, 'requirements.sha256')
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) return bin
  await exec(join(bin, 'pip'), ['install', '--quiet', '--disable-pip-version-check', '--require-hashes', '-r', REQUIREMENTS])
  writeFileSync(stamp, wanted)
  return bin
}

/** Installs the target's standard library when rustup does not have it yet. */
export async function ensureRustTarget(triple: string): Promise<void> {
  const installed = (await exec('rustup', ['target', 'list', '--installed'])).stdout.split('\n')
  if (!installed.includes(triple)) await exec('rustup', ['target', 'add', triple], { inherit: true })
}
