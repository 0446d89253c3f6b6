// What a release publishes, published to the run's registry: the runtime dependencies (the
// tarballs package-lock.json pins, integrity-checked), the platform packages and the main
// package, the last two through the same commands the release workflow runs
// (`napi pre-publish -t npm`, then `npm publish`).
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { copyFile, cp, mkdir, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { addonPath } from './build.js'
import { cachePath } from './cache.js'
import { exec } from './exec.js'
import type { Registry } from './registry.js'
import { ROOT } from './targets.js'
import type { Target } from './targets.js'

interface LockedPackage {
  version?: string
  integrity?: string
  dev?: boolean
  link?: boolean
}

/** The runtime dependency tree as package-lock.json pins it: name, version, integrity. */
export function runtimeDependencies(): Array<{ name: string; version: string; integrity: string }> {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockedPackage> }
  const found = new Map<string, { name: string; version: string; integrity: string }>()
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev === true || entry.link === true) continue
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)
    if (entry.version === undefined || entry.integrity === undefined)
      throw new Error(`package-lock.json: ${path} has no version or integrity`)
    found.set(`${name}@${entry.version}`, { name, version: entry.version, integrity: entry.integrity })
  }
  return [...found.values()]
}

/** The pinned tarball of a dependency, fetched once into the cache and checked against the lock. */
async function dependencyTarball(dep: { name: string; version: string; integrity: string }): Promise<string> {
  const dir = cachePath('deps')
  const file = join(dir, `${dep.name.replace('@', '').replace('/', '-')}-${dep.version}.tgz`)
  if (!existsSync(file)) {
    await mkdir(dir, { recursive: true })
    const packed = await exec('npm', ['pack', `${dep.name}@${dep.version}`, '--json', '--pack-destination', dir])
    const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }]
    if (join(dir, filename) !== file) await rename(join(dir, filename), file)
  }
  const [algorithm, expected] = dep.integrity.split('-', 2) as [string, string]
  const actual = createHash(algorithm).update(readFileSync(file)).digest('base64')
  if (actual !== expected) throw new Error(`${file}: ${algorithm} ${actual}, package-lock.json pins ${expected}`)
  return file
}

function npmEnv(registry: Registry, home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    npm_config_userconfig: registry.npmrc,
    npm_config_registry: registry.url,
    npm_config_cache: join(home, 'npm-cache'),
    npm_config_update_notifier: 'false',
  }
}

export async function publishDependencies(registry: Registry, home: string): Promise<number> {
  const deps = runtimeDependencies()
  const tarballs = await Promise.all(deps.map(dependencyTarball))
  const env = npmEnv(registry, home)
  // A few at a time: each `npm publish` is a Node start, and the machine may have two cores.
  const queue = [...tarballs]
  const worker = async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      await exec('npm', ['publish', file, '--ignore-scripts', '--access', 'public', '--tag', 'release-test', '--registry', registry.url], {
        env,
      })
    }
  }
  await Promise.all([worker(), worker(), worker()])
  return tarballs.length
}

/**
 * A copy of what the release workflow publishes from, with dist/ compiled from src/ here (a
 * stale dist/ cannot pass) and each platform package holding its release addon.
 */
export async function stageRelease(dir: string, targets: Target[]): Promise<string> {
  await mkdir(dir, { recursive: true })
  for (const file of ['package.json', 'README.md', 'binding.js', 'binding.d.ts']) await copyFile(join(ROOT, file), join(dir, file))
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  await exec(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')])
  for (const target of targets) {
    const pkg = join(dir, 'npm', target.platform)
    await cp(join(ROOT, 'npm', target.platform), pkg, { recursive: true, filter: (src) => !src.endsWith('.node') })
    await copyFile(addonPath(target), join(pkg, target.addon))
  }
  return dir
}

/** Publishes the platform packages and the main package; returns the main package's files. */
export async function publishRelease(registry: Registry, staged: string, home: string): Promise<string[]> {
  const env = npmEnv(registry, home)
  const napi = join(ROOT, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
  await exec(process.execPath, [napi, 'pre-publish', '-t', 'npm', '--no-gh-release'], { cwd: staged, env })
  const packed = await exec('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: staged, env })
  const [{ files }] = JSON.parse(packed.stdout) as [{ files: Array<{ path: string }> }]
  await exec('npm', ['publish', '--ignore-scripts', '--registry', registry.url], { cwd: staged, env })
  return files.map((f) => f.path)
}
