// One release build: the addon for a Linux target, cross-linked by cargo-zigbuild (gnu targets
// against the glibc baseline), copied into its platform package npm/<platform>/ where
// `napi pre-publish` and the loader expect it.
import { copyFile } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { cachePath } from './cache.js'
import { exec } from './exec.js'
import { GLIBC_BASELINE, ROOT } from './targets.js'
import type { Target } from './targets.js'
import { ensureRustTarget, zigbuildBin } from './toolchain.js'

/** Shared by every target and kept between runs: a rebuild compiles only what changed. */
export const RELEASE_TARGET_DIR = cachePath('target')

export function addonPath(target: Target): string {
  return join(ROOT, 'npm', target.platform, target.addon)
}

export async function buildRelease(target: Target): Promise<string> {
  const bin = await zigbuildBin()
  await ensureRustTarget(target.triple)
  // cargo-zigbuild reads the glibc version from a suffix on the triple.
  const zigTarget = target.libc === 'glibc' ? `${target.triple}.${GLIBC_BASELINE}` : target.triple
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`,
    CARGO_TARGET_DIR: RELEASE_TARGET_DIR,
  }
  if (target.libc === 'musl') {
    // Rust links musl statically by default, and a static C runtime cannot make the shared
    // library Node loads; the musl Node brings its own libc.
    env[`CARGO_TARGET_${target.triple.toUpperCase().replaceAll('-', '_')}_RUSTFLAGS`] = '-C target-feature=-crt-static'
  }
  const args = ['zigbuild', '--release', '--locked', '--manifest-path', join(ROOT, 'crates', 'node', 'Cargo.toml'), '--target', zigTarget]
  await exec(join(bin, 'cargo-zigbuild'), args, { env, cwd: ROOT, inherit: true, timeoutMs: 30 * 60_000 })
  const built = join(RELEASE_TARGET_DIR, target.triple, 'release', 'libtt_download_node.so')
  const addon = addonPath(target)
  await copyFile(built, addon)
  return addon
}
