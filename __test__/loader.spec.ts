// src/native.ts's word when the addon cannot load. The install path itself (platform packages
// from a registry, every shipped platform) is `npm run test:release`; these pin the message a
// user on a platform without a prebuilt binary reads.
import test from 'ava'
import type { ExecutionContext } from 'ava'
import { join } from 'node:path'
import { ROOT, run } from './helpers/run.js'

/** Loads src/native.ts in a child that pretends to run on another platform or CPU. */
async function loadAs(t: ExecutionContext, fake: { platform?: string; arch?: string }): Promise<string> {
  const pretend = Object.entries(fake)
    .map(([key, value]) => `Object.defineProperty(process, ${JSON.stringify(key)}, { value: ${JSON.stringify(value)} })`)
    .join(';')
  const script = `${pretend}; try { require(${JSON.stringify(join(ROOT, 'src', 'native.ts'))}); console.log('loaded') } catch (e) { console.log(e.message) }`
  const ran = await run(t, process.execPath, ['--import', 'tsx', '-e', script], { env: { PATH: process.env.PATH, HOME: process.env.HOME } })
  t.is(ran.code, 0, ran.stderr)
  return ran.stdout
}

test('darwin is named as unsupported, with the shipped platforms and the build-from-source hint', async (t) => {
  const out = await loadAs(t, { platform: 'darwin', arch: 'arm64' })
  t.regex(
    out,
    /^tt-download: darwin-arm64 is not supported: prebuilt binaries are published for linux-x64-gnu, linux-arm64-gnu, linux-x64-musl, linux-arm64-musl/,
  )
  t.regex(out, /storage guarantees .* are Linux system calls/)
  t.regex(out, /NAPI_RS_NATIVE_LIBRARY_PATH/)
  t.regex(out, /The loader tried:/)
})

test('a Linux CPU without a prebuilt binary gets the build-from-source hint', async (t) => {
  const out = await loadAs(t, { arch: 'riscv64' })
  t.regex(out, /^tt-download: linux-riscv64-gnu is not supported/)
  t.regex(out, /To run it on this Linux, build the addon from source: in a clone of tt-download with a Rust toolchain/)
})
