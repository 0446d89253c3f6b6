// The ttfile:// sandbox: every rule that maps a mini-program path to disk lives here (SPEC
// sections 2, 3 and 7). A `filePath` is hostile input; nothing it spells may reach outside
// `<dataDir>/user` or `<dataDir>/temp`, and the private `<dataDir>/.tt-download/` is never
// reachable at all.
import { randomBytes, randomFillSync } from 'node:crypto'
import { chmodSync, lstatSync, mkdirSync, readdirSync, realpathSync, rmSync } from 'node:fs'
import { basename, dirname, join, resolve, sep } from 'node:path'
import { detailOf, failOf } from './errors.js'
import type { DownloadFail } from './errors.js'

export const TTFILE = 'ttfile://'
export const USER_DATA_PATH = 'ttfile://user'
const TEMP_PATH = 'ttfile://temp'

type Root = 'user' | 'temp'

type Parsed = { ok: true; root: Root; parts: string[] } | { ok: false; fail: DownloadFail }

/** Random bytes drawn 4 KiB at a time: one call into the CSPRNG per 256 names, not per name. */
const randomPool = Buffer.alloc(4096)
let randomPoolUsed = randomPool.length

/** 16 random bytes (from the CSPRNG) as 32 hex digits. */
export function randomHex16(): string {
  if (randomPoolUsed + 16 > randomPool.length) {
    randomFillSync(randomPool)
    randomPoolUsed = 0
  }
  const hex = randomPool.toString('hex', randomPoolUsed, randomPoolUsed + 16)
  randomPoolUsed += 16
  return hex
}

/** Where a download is stored: the resolved absolute path, or a generated name in temp/. */
export type Target = { kind: 'file'; root: Root; filePath: string; absPath: string } | { kind: 'temp' }

export type TargetCheck = { ok: true; target: Target } | { ok: false; fail: DownloadFail }

export class Sandbox {
  readonly dataDir: string
  readonly stagingDir: string
  /**
   * Staging names start with the owning process id (a later host start removes leftovers only
   * of processes that are gone), then an id of this host, so `close()` can sweep its own.
   */
  readonly stagingPrefix: string
  readonly #dirs: Record<Root, string>
  readonly #realDirs: Record<Root, string>

  /** Creates the directories (synchronously: this runs once, in `createHost`). */
  constructor(dataDir: string) {
    this.dataDir = resolve(dataDir)
    this.#dirs = { user: join(this.dataDir, 'user'), temp: join(this.dataDir, 'temp') }
    this.stagingDir = join(this.dataDir, '.tt-download', 'staging')
    this.stagingPrefix = `${process.pid}-${randomBytes(4).toString('hex')}-`
    for (const dir of [this.#dirs.user, this.#dirs.temp, this.stagingDir]) {
      mkdirSync(dir, { recursive: true })
    }
    // SPEC 12: private state (the cookie jar, staging files) is the process user's alone.
    chmodSync(dirname(this.stagingDir), 0o700)
    // Containment is checked on real paths, so a dataDir under a symlink (macOS /tmp) works.
    this.#realDirs = { user: realpathSync(this.#dirs.user), temp: realpathSync(this.#dirs.temp) }
  }

  /**
   * Bytes of every file under `user/` (what `userDataQuota` limits), measured from disk.
   * Symlinks are not followed: a link is not a file of the app's, and may point anywhere.
   */
  userUsage(): number {
    let total = 0
    const pending = [this.#realDirs.user]
    while (pending.length > 0) {
      const dir = pending.pop() as string
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name)
        if (entry.isDirectory()) pending.push(path)
        else if (entry.isFile()) total += lstatSync(path).size
      }
    }
    return total
  }

  /** Where the app's persistent cookies live: private state, beside the staging files. */
  get cookieFile(): string {
    return join(this.dataDir, '.tt-download', 'cookies.json')
  }

  /** `user/` as the quota measures it (real path). */
  get userDir(): string {
    return this.#realDirs.user
  }

  /** Whether an absolute path from `realPath()` lies in `root` (the root itself included). */
  isUnder(root: Root, absPath: string): boolean {
    return isInside(absPath, this.#dirs[root]) || isInside(absPath, this.#realDirs[root])
  }

  /**
   * A `realPath()` answer (under `dataDir` as configured) spelled under the root's real path,
   * as the engine records the files it stores: one file, one key, even when `dataDir` sits
   * behind a symlink.
   */
  engineSpelling(root: Root, absPath: string): string {
    const configured = this.#dirs[root]
    return isInside(absPath, configured) ? this.#realDirs[root] + absPath.slice(configured.length) : absPath
  }

  get tempDir(): string {
    return this.#realDirs.temp
  }

  /**
   * An engine message with this host's paths on disk replaced by what the app may see:
   * `ttfile://user/...`, `ttfile://temp/...`, and `<staging>` or `<dataDir>` for private
   * places. A failure message must not tell a mini-program where its host keeps its files.
   */
  hidePaths(message: string): string {
    const shown: [string, string][] = [
      [this.#realDirs.user, USER_DATA_PATH],
      [this.#realDirs.temp, TEMP_PATH],
      [this.#dirs.user, USER_DATA_PATH],
      [this.#dirs.temp, TEMP_PATH],
      [this.stagingDir, '<staging>'],
      [this.dataDir, '<dataDir>'],
    ]
    let text = message
    for (const [dir, name] of shown) text = text.split(dir).join(name)
    return text
  }

  /** A fresh stem for `ttfile://temp/<32 hex>[.ext]`; the engine appends the extension. */
  newTempStem(): string {
    return randomHex16()
  }

  /** Maps the engine's absolute path of a generated temp file back to its ttfile:// name. */
  tempFilePathOf(absPath: string): string {
    return `${TEMP_PATH}/${basename(absPath)}`
  }

  /**
   * Checks a `filePath` option and resolves it to the absolute path the engine writes.
   * Order: 121508 for what is not a file path at all, 121503 for what leaves the sandbox,
   * 121502 for a missing parent, 121503 for a parent that resolves outside (symlinks),
   * 121508 for an existing directory or a name too long for the file system, 121503 for a
   * symlink at the target that leads out (as `realPath` says: the same rules).
   */
  checkFilePath(filePath: unknown): TargetCheck {
    if (typeof filePath !== 'string' || filePath === '' || !filePath.startsWith(TTFILE) || filePath.endsWith('/')) {
      return { ok: false, fail: failOf('destinationPath') }
    }
    const parsed = parse(filePath)
    if (!parsed.ok) return parsed
    const { root, parts } = parsed
    // SPEC 3: temp/ is read-only to the app ("临时目录…开发者拥有读权限，无写权限"), its root
    // included; only the syntactic 121508 cases come before this, and the disk is not touched.
    if (root === 'temp') return { ok: false, fail: failOf('permissionDenied', filePath) }
    const name = parts[parts.length - 1]
    // `a/.` names the directory `a` (open(2) never creates `a` through it), like a trailing `/`.
    if (name === undefined || filePath.endsWith('/.')) return { ok: false, fail: failOf('destinationPath') }

    let realParent: string
    try {
      realParent = realpathSync(join(this.#dirs[root], ...parts.slice(0, -1)))
    } catch (error) {
      return { ok: false, fail: failOfFsError(error, filePath) }
    }
    if (!isInside(realParent, this.#realDirs[root])) {
      return { ok: false, fail: failOf('permissionDenied', filePath) }
    }
    if (!isDirectory(realParent)) return { ok: false, fail: failOf('noSuchFile', filePath) }
    const absPath = join(realParent, name)
    let stat: ReturnType<typeof lstatSync> | undefined
    try {
      stat = lstatSync(absPath)
    } catch (error) {
      // ENOENT: a new file. ENAMETOOLONG: no such file can exist, refused before any request.
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENAMETOOLONG') return { ok: false, fail: failOf('destinationPath') }
    }
    if (stat?.isDirectory()) return { ok: false, fail: failOf('destinationPath') }
    if (stat?.isSymbolicLink()) {
      // The rename would replace the link, never follow it; still, a link that leads out of
      // this root (or nowhere) is refused, as `realPath` refuses it: one set of rules.
      let real: string
      try {
        real = realpathSync(absPath)
      } catch {
        return { ok: false, fail: failOf('permissionDenied', filePath) }
      }
      if (!isInside(real, this.#realDirs[root])) {
        return { ok: false, fail: failOf('permissionDenied', filePath) }
      }
      if (isDirectory(real)) return { ok: false, fail: failOf('destinationPath') }
    }
    return { ok: true, target: { kind: 'file', root, filePath, absPath } }
  }

  /**
   * `host.realPath()`: the absolute path on disk of a ttfile:// path, by the same rules as
   * `filePath`, except that the roots themselves and paths ending in `/` are fine. The file
   * need not exist; its nearest existing ancestor is resolved, so a symlink that leads out
   * anywhere along the path throws.
   */
  realPath(ttfilePath: string): string {
    if (typeof ttfilePath !== 'string') throw new TypeError('realPath: path must be a string')
    if (!ttfilePath.startsWith(TTFILE)) throw sandboxError(failOf('permissionDenied', ttfilePath))
    const parsed = parse(ttfilePath)
    if (!parsed.ok) throw sandboxError(parsed.fail)
    const { root, parts } = parsed
    const denied = (): Error => sandboxError(failOf('permissionDenied', ttfilePath))
    const existing = [...parts]
    for (;;) {
      const path = join(this.#dirs[root], ...existing)
      let real: string
      try {
        real = realpathSync(path)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        // A dangling symlink is ENOENT too, yet writing through it would land wherever it points.
        if (code === 'ENOENT' && existing.length > 0 && !lstatOrUndefined(path)?.isSymbolicLink()) {
          existing.pop()
          continue
        }
        throw code === 'ENOENT' ? denied() : sandboxError(failOfFsError(error, ttfilePath))
      }
      if (!isInside(real, this.#realDirs[root])) throw denied()
      // Checked through real paths, answered under the dataDir as configured: the same file,
      // and a path the host recognises even when dataDir itself sits behind a symlink.
      return join(this.#dirs[root], ...parts)
    }
  }

  /**
   * Removes staging files left by processes that are gone. Files of live processes (other
   * hosts sharing this dataDir) are kept: their downloads may still be running.
   */
  removeStaleStaging(): void {
    for (const name of readdirSafe(this.stagingDir)) {
      const pid = Number(/^(\d+)-/.exec(name)?.[1])
      if (!Number.isSafeInteger(pid) || pid === process.pid || isAlive(pid)) continue
      rmSync(join(this.stagingDir, name), { force: true, recursive: true })
    }
  }

  /**
   * Removes this host's own staging files. The engine removes a staging file when its
   * download ends, so this only matters if that failed; call it when nothing is running.
   */
  removeOwnStaging(): void {
    for (const name of readdirSafe(this.stagingDir)) {
      if (name.startsWith(this.stagingPrefix)) rmSync(join(this.stagingDir, name), { force: true })
    }
  }
}

/**
 * Splits `ttfile://<root>/<parts>` and applies the rules that need no disk: a root other than
 * user/temp, NUL, backslashes, percent-escapes and `..` segments are all 121503. Escapes are
 * refused rather than decoded: nothing below decodes them, and a path that means something
 * else to another layer has no business in a sandbox. Empty and `.` segments are dropped.
 */
function parse(path: string): Parsed {
  const rest = path.slice(TTFILE.length)
  const denied = { ok: false as const, fail: failOf('permissionDenied', path) }
  if (/[\u0000\\]|%[0-9A-Fa-f]{2}/.test(rest)) return denied
  const [root, ...segments] = rest.split('/')
  if (root !== 'user' && root !== 'temp') return denied
  const parts = segments.filter((segment) => segment !== '' && segment !== '.')
  if (parts.includes('..')) return denied
  return { ok: true, root, parts }
}

function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep)
}

function isDirectory(path: string): boolean {
  return lstatOrUndefined(path)?.isDirectory() ?? false
}

function lstatOrUndefined(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path)
  } catch {
    return undefined
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * The fail for a path that could not be resolved: a missing parent (or a file where a
 * directory should be) is 121502, a name too long for the file system 121508, anything else
 * (a symlink loop, no permission) 121503.
 */
function failOfFsError(error: unknown, filePath: string): DownloadFail {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT' || code === 'ENOTDIR') return failOf('noSuchFile', filePath)
  if (code === 'ENAMETOOLONG') return failOf('destinationPath')
  return failOf('permissionDenied', filePath)
}

/** `realPath` throws an Error worded like the matching `fail`, carrying its `errNo`. */
function sandboxError(fail: DownloadFail): Error {
  return Object.assign(new Error(detailOf(fail)), { errNo: fail.errNo })
}
