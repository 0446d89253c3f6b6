// The install path of a user without a Rust toolchain (issue 8): the platform package
// (npm/linux-x64-gnu with the addon built here) and the main package are packed with `npm pack`,
// installed from the tarballs into a fresh project with `npm install --prefer-offline`, and used from
// there with no `cargo` on the PATH: require, import, the `tt-download` bin. A copy of that
// project without the platform package shows the loader's error naming the missing package.
import test from 'ava'
import type { ExecutionContext } from 'ava'
import { copyFile, cp, mkdir, readdir, rename, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { expectedSha256, sha256File } from './helpers/bytes.js'
import { startContentServer } from './helpers/content-server.js'
import { ROOT } from './helpers/child.js'
import { makeTmpDir } from './helpers/fs.js'
import type { TmpDir } from './helpers/fs.js'
import { closeAfter } from './helpers/host.js'
import { describeRun, run } from './helpers/run.js'
import type { Ran } from './helpers/run.js'

const PLATFORM_PACKAGE = 'tt-download-linux-x64-gnu'
const ADDON = 'tt-download.linux-x64-gnu.node'
const STEP_TIMEOUT = 120_000

interface Staged {
  /** The fresh project with both tarballs installed. */
  project: string
  /** Files in the main package's tarball. */
  packed: string[]
  /** The environment every command in the project runs with: no cargo on PATH. */
  env: NodeJS.ProcessEnv
}

/** node's own directory, then /usr/bin and /bin: enough for node, npm and sh, no ~/.cargo/bin. */
function userEnv(): NodeJS.ProcessEnv {
  const path = [...new Set([dirname(process.execPath), '/usr/bin', '/bin'])].join(':')
  return { PATH: path, HOME: process.env.HOME, LANG: 'C.UTF-8' }
}

function must(ran: Ran, what: string): Ran {
  if (ran.code !== 0) throw new Error(`${what} failed: ${describeRun(ran)}`)
  return ran
}

let staged: Promise<Staged> | undefined
let stagingDir: TmpDir | undefined
test.after.always(() => stagingDir?.cleanup())

/**
 * Packs both packages and installs them, once per file (the tests below share the project).
 * The staging directory is removed after the last test.
 */
function stage(t: ExecutionContext): Promise<Staged> {
  staged ??= (async () => {
    const addon = join(ROOT, ADDON)
    if (!existsSync(addon)) throw new Error(`${addon} is missing: build it first (npm run build:native)`)
    const tmp = await makeTmpDir('tt-download-install-')
    stagingDir = tmp
    const env = userEnv()
    const tarballs = join(tmp.dir, 'tarballs')
    await mkdir(tarballs)

    // The platform package: npm/linux-x64-gnu as committed, plus the addon built here.
    const platform = join(tmp.dir, 'platform')
    await cp(join(ROOT, 'npm', 'linux-x64-gnu'), platform, { recursive: true })
    await copyFile(addon, join(platform, ADDON))
    const packPlatform = ['pack', '--ignore-scripts', '--pack-destination', tarballs]
    must(await run(t, 'npm', packPlatform, { cwd: platform, env, timeoutMs: STEP_TIMEOUT }), 'npm pack (platform)')

    // The main package: what `npm publish` would see after `prepare` (dist compiled from src
    // here, so a stale dist/ cannot pass), with the addon lying next to binding.js as it does
    // in a clone: `files` must leave it out.
    const main = join(tmp.dir, 'main')
    await mkdir(main)
    for (const file of ['package.json', 'README.md', 'binding.js', 'binding.d.ts', ADDON]) {
      await copyFile(join(ROOT, file), join(main, file))
    }
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
    const tscArgs = [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(main, 'dist')]
    must(await run(t, process.execPath, tscArgs, { timeoutMs: STEP_TIMEOUT }), 'tsc')
    // --ignore-scripts: `prepare` would run napi build (cargo); dist is already compiled.
    const packMain = ['pack', '--ignore-scripts', '--json', '--pack-destination', tarballs]
    const packed = must(await run(t, 'npm', packMain, { cwd: main, env, timeoutMs: STEP_TIMEOUT }), 'npm pack (main)')
    const files = (JSON.parse(packed.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path)

    // A fresh project, installed from the two tarballs with no cargo in reach. The registry
    // only serves the package's JavaScript dependencies (from npm's cache when it has them:
    // `npm ci` caches tarballs but not the metadata an install from tarballs asks for).
    const project = join(tmp.dir, 'project')
    await mkdir(project)
    const manifest = { name: 'tt-download-user', version: '1.0.0', private: true }
    await writeFile(join(project, 'package.json'), JSON.stringify(manifest))
    const tgz = (await readdir(tarballs)).sort()
    const platformTgz = tgz.find((f) => f.startsWith(`${PLATFORM_PACKAGE}-`))
    const mainTgz = tgz.find((f) => /^tt-download-\d/.test(f))
    if (platformTgz === undefined || mainTgz === undefined) throw new Error(`tarballs missing: ${tgz.join(', ')}`)
    const cargo = await run(t, 'sh', ['-c', 'command -v cargo'], { env })
    if (cargo.code === 0) throw new Error(`cargo is still on the PATH: ${cargo.stdout}`)
    must(
      await run(
        t,
        'npm',
        [
          'install',
          '--prefer-offline',
          '--ignore-scripts',
          '--no-audit',
          '--no-fund',
          join(tarballs, platformTgz),
          join(tarballs, mainTgz),
        ],
        { cwd: project, env, timeoutMs: STEP_TIMEOUT },
      ),
      'npm install --prefer-offline',
    )
    return { project, packed: files, env }
  })()
  return staged
}

const CJS_CHECK = `
const { createHost, createEngine, DownloadError } = require('tt-download')
const [url, dataDir] = process.argv.slice(2)
const host = createHost({ appId: 'ttinstall000000000', env: 'test', dataDir, egress: { allow: ['127.0.0.0/8', '::1/128'] } })
host.download({ url }).then(async (res) => {
  const path = host.realPath(res.tempFilePath)
  await host.close()
  console.log(JSON.stringify({ statusCode: res.statusCode, dataLength: res.dataLength, path,
    exports: [typeof createHost, typeof createEngine, typeof DownloadError] }))
})
`

const ESM_CHECK = `
import { createHost, createEngine, DownloadError } from 'tt-download'
const [url, dataDir] = process.argv.slice(2)
const engine = createEngine()
const host = createHost({ appId: 'ttinstall000000000', env: 'test', dataDir, engine, egress: { allow: ['127.0.0.0/8', '::1/128'] } })
const res = await host.download({ url, filePath: 'ttfile://user/esm.bin' })
const path = host.realPath(res.filePath)
await host.close()
await engine.close()
console.log(JSON.stringify({ statusCode: res.statusCode, dataLength: res.dataLength, path,
  exports: [typeof createHost, typeof createEngine, typeof DownloadError] }))
`

test('the main tarball holds dist, binding.js and binding.d.ts, and not the addon', async (t) => {
  t.timeout(4 * STEP_TIMEOUT)
  const { packed } = await stage(t)
  const expected = ['package.json', 'binding.js', 'binding.d.ts', 'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts']
  for (const file of [...expected, 'dist/cli/main.js']) {
    t.true(packed.includes(file), `${file} packed`)
  }
  t.deepEqual(
    packed.filter((f) => f.endsWith('.node')),
    [],
    'no addon in the main package',
  )
  t.deepEqual(
    packed.filter((f) => !/^(dist\/|binding\.(js|d\.ts)$|package\.json$|README\.md$)/.test(f)),
    [],
  )
})

for (const [kind, name, source] of [
  ['require', 'check.cjs', CJS_CHECK],
  ['import', 'check.mjs', ESM_CHECK],
] as const) {
  test(`installed from the tarballs without cargo: ${kind}('tt-download') downloads from a local server`, async (t) => {
    t.timeout(4 * STEP_TIMEOUT)
    const { project, env } = await stage(t)
    const server = closeAfter(t, await startContentServer({ mode: 'http' }))
    const data = await makeTmpDir('tt-download-install-data-')
    t.teardown(() => data.cleanup())
    await writeFile(join(project, name), source)
    const args = [name, server.url('/bytes/70000'), data.dir]
    const ran = await run(t, process.execPath, args, { cwd: project, env })
    t.is(ran.code, 0, describeRun(ran))
    const out = JSON.parse(ran.stdout)
    t.deepEqual(out.exports, ['function', 'function', 'function'])
    t.is(out.statusCode, 200)
    t.is(out.dataLength, 70000)
    t.is(await sha256File(out.path), expectedSha256(70000))
  })
}

test('the addon comes from the platform package: none next to the installed binding.js', async (t) => {
  t.timeout(4 * STEP_TIMEOUT)
  const { project } = await stage(t)
  t.true(existsSync(join(project, 'node_modules', PLATFORM_PACKAGE, ADDON)))
  t.false(existsSync(join(project, 'node_modules', 'tt-download', ADDON)))
  t.true(existsSync(join(project, 'node_modules', '.bin', 'tt-download')))
})

test('installed bin: npx tt-download --help, and tt-download get --json stores the file', async (t) => {
  t.timeout(4 * STEP_TIMEOUT)
  const { project, env } = await stage(t)
  // --offline: npx finds the local bin and must not ask the registry.
  const help = await run(t, 'npx', ['--offline', 'tt-download', '--help'], { cwd: project, env })
  t.is(help.code, 0, describeRun(help))
  t.regex(help.stdout, /^Usage: tt-download <command>/)

  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const data = await makeTmpDir('tt-download-install-data-')
  t.teardown(() => data.cleanup())
  const bin = join(project, 'node_modules', '.bin', 'tt-download')
  // The server is on loopback, which the egress policy refuses unless allowed.
  const args = ['get', server.url('/bytes/5000'), '--json', '--data-dir', data.dir, '--allow', '127.0.0.0/8']
  const get = await run(t, bin, args, { cwd: project, env })
  t.is(get.code, 0, describeRun(get))
  const doc = JSON.parse(get.stdout)
  t.is(doc.errMsg, 'downloadFile:ok')
  t.is(await sha256File(doc.realPath), expectedSha256(5000))
})

test('installed bin: npx tt-download demo succeeds', async (t) => {
  t.timeout(4 * STEP_TIMEOUT)
  const { project, env } = await stage(t)
  const demo = await run(t, 'npx', ['--offline', 'tt-download', 'demo'], { cwd: project, env, timeoutMs: 60_000 })
  t.is(demo.code, 0, describeRun(demo))
  t.regex(demo.stdout, /demo: all downloads succeeded and match what was served/)
})

test('without the platform package, loading fails with an error naming it', async (t) => {
  t.timeout(4 * STEP_TIMEOUT)
  const { project, env } = await stage(t)
  // A copy of the project without node_modules/tt-download-linux-x64-gnu (and no local addon).
  const bare = join(dirname(project), 'project-without-binary')
  await cp(project, bare, { recursive: true, verbatimSymlinks: true })
  await rename(join(bare, 'node_modules', PLATFORM_PACKAGE), join(dirname(project), 'moved-platform-package'))
  const ran = await run(t, process.execPath, ['-e', "require('tt-download')"], { cwd: bare, env })
  t.not(ran.code, 0, describeRun(ran))
  t.true(ran.stderr.includes(`Install the prebuilt binary package '${PLATFORM_PACKAGE}'`), ran.stderr)
  t.true(ran.stderr.includes(`npm install ${PLATFORM_PACKAGE}`), ran.stderr)
  t.regex(ran.stderr, /Cannot find module 'tt-download-linux-x64-gnu'/, 'the attempts are listed')
})
