// The ttfile:// sandbox against hostile input (SPEC sections 2, 3 and 7, issue 4): generated
// `filePath` strings (traversal, escapes, backslashes, NUL, unicode, very long names, other
// roots and schemes) and symlinks planted in the test, through `downloadFile` and
// `host.realPath`. Every answer stays inside `<dataDir>/user` or `<dataDir>/temp`, or is a
// fail with exactly 121508 / 121503 / 121502 before any request; nothing outside is touched.
import test from 'ava'
import type { ExecutionContext } from 'ava'
import fc from 'fast-check'
import { createHash } from 'node:crypto'
import { lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs'
import { mkdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises'
import { dirname, isAbsolute, join, normalize, relative, sep } from 'node:path'
import type { Host } from '../src/index.js'
import { assertFailedRun, assertNoLeftovers, TEMP_PATH } from './helpers/assert.js'
import { patternBytes } from './helpers/bytes.js'
import { startContentServer } from './helpers/content-server.js'
import type { ContentServer } from './helpers/content-server.js'
import { listFiles, makeTmpDir, stagingFiles } from './helpers/fs.js'
import { makeHost } from './helpers/hosts.js'
import { record } from './helpers/record.js'
import type { Success } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'

const SANDBOX_CODES = new Set([121508, 121503, 121502])
const SECRET = 'outside the sandbox: never to be written'

/** A fail row's detail text for a filePath, as SPEC section 7 words it. */
function detailFor(errNo: number, filePath: string): string {
  if (errNo === 121508) return 'destination path has error'
  if (errNo === 121503) return `file path permission denied, open '${filePath}'`
  return `no such file or directory, '${filePath}'`
}

function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path)
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + sep) && !isAbsolute(rel))
}

/** The real path of `path`, or of its nearest existing ancestor when it does not exist. */
function realOfNearest(path: string): string {
  for (let p = path; ; p = dirname(p)) {
    try {
      return realpathSync(p)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code !== 'ENOENT' || p === dirname(p)) throw error
    }
  }
}

/** Everything under `dir` (not following links): type, size, content hash, mtime, link target. */
function snapshot(dir: string, skip: (rel: string) => boolean = () => false): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel))) {
      const child = rel === '' ? name : join(rel, name)
      if (skip(child)) continue
      const abs = join(dir, child)
      const st = lstatSync(abs)
      if (st.isSymbolicLink()) {
        out.set(child, `link -> ${readlinkSync(abs)}`)
      } else if (st.isDirectory()) {
        out.set(child, 'dir')
        walk(child)
      } else {
        const hash = createHash('sha256').update(readFileSync(abs)).digest('hex')
        out.set(child, `file ${st.size} ${hash} ${st.mtimeMs} ino ${st.ino}`)
      }
    }
  }
  walk('')
  return out
}

interface Fixture {
  host: Host
  /** The test's own root: `data/` (the dataDir) and `outside/` (what must stay untouched). */
  root: string
  dataDir: string
  outside: string
  realUser: string
  realTemp: string
  server: ContentServer
  /** Symlinks planted under user/ and temp/, relative to dataDir, with their targets. */
  links: Map<string, string>
}

/**
 * A host whose sandbox is full of traps: directories to reach, and symlinks that lead out of
 * it (to a file, to a directory, relative and absolute, dangling, a loop), from user/ into
 * temp/ and back, and into the private `.tt-download/`. Beside the dataDir, `outside/` holds
 * what an escape would damage.
 */
async function trapFixture(t: ExecutionContext): Promise<Fixture> {
  const tmp = await makeTmpDir('tt-download-sandbox-')
  t.teardown(() => tmp.cleanup())
  const root = tmp.dir
  const dataDir = join(root, 'data')
  const outside = join(root, 'outside')
  await mkdir(join(outside, 'dir', 'sub'), { recursive: true })
  await writeFile(join(outside, 'secret.txt'), SECRET)
  await writeFile(join(outside, 'dir', 'sub', 'inner.txt'), SECRET)
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host } = await makeHost(t, { dataDir })
  const user = join(dataDir, 'user')
  const temp = join(dataDir, 'temp')
  await mkdir(join(user, 'a', 'b'), { recursive: true })
  await mkdir(join(user, 'a', 'c'), { recursive: true })
  await mkdir(join(temp, 'a'), { recursive: true })
  await writeFile(join(temp, 't.bin'), 'a temp file')
  await writeFile(join(user, 'a', 'kept.txt'), 'a user file')
  const links = new Map<string, string>([
    ['user/outdir', outside],
    ['user/outfile', join(outside, 'secret.txt')],
    ['user/rel', '../../outside'],
    ['user/a/up', '../..'],
    ['user/a/b/deep', '../../../../outside/dir'],
    ['user/totemp', temp],
    ['user/tempfile', join(temp, 't.bin')],
    ['user/dangling', join(outside, 'nothing-here')],
    ['user/loop', join(user, 'loop')],
    ['user/private', join(dataDir, '.tt-download')],
    ['user/data', dataDir],
    ['temp/touser', user],
    ['temp/outdir', outside],
    ['temp/a/outfile', join(outside, 'secret.txt')],
  ])
  for (const [path, target] of links) await symlink(target, join(dataDir, path))
  return {
    host,
    root,
    dataDir,
    outside,
    realUser: realpathSync(user),
    realTemp: realpathSync(temp),
    server,
    links,
  }
}

/** Throws (for fast-check to shrink) unless `ok`. */
function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new Error(message)
}

// ---------------------------------------------------------------------------------------------
// Generated hostile paths

const TRAP_NAMES = [
  'a',
  'b',
  'c',
  'a/b',
  'kept.txt',
  'outdir',
  'outfile',
  'rel',
  'up',
  'deep',
  'totemp',
  'tempfile',
  'dangling',
  'loop',
  'private',
  'data',
  'touser',
  't.bin',
  'staging',
  'user',
  'temp',
  'outside',
  'secret.txt',
  '.tt-download',
  'x.bin',
]

const HOSTILE_SEGMENTS = [
  '..',
  '.',
  '',
  '...',
  '%2e%2e',
  '%2E%2E',
  '.%2e',
  '%2f',
  '%2F..',
  '..%2f..',
  '%5c',
  '%00',
  '%',
  '%zz',
  '\u0000',
  'x\u0000.bin',
  '\\',
  '..\\..',
  '..\\outside',
  '\u2025',
  '\uff0e\uff0e',
  '\uff0f',
  '\u2215',
  '\u202e',
  '\u0085',
  '\r\n',
  ' ',
  '~',
  '$HOME',
  'é',
  '😀',
  'e\u0301',
  'ttfile:',
  'ttfile://user',
  '/',
  '//',
]

/** One path segment: a trap name, a hostile token, a long name, or any string at all. */
const segment: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...TRAP_NAMES), weight: 6 },
  { arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,11}$/), weight: 6 },
  { arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS), weight: 4 },
  { arbitrary: fc.integer({ min: 200, max: 5000 }).map((n) => 'x'.repeat(n)), weight: 1 },
  { arbitrary: fc.integer({ min: 64, max: 300 }).map((n) => 'é'.repeat(n)), weight: 1 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 12 }), weight: 2 },
  { arbitrary: fc.string({ unit: fc.constantFrom('.', '/', '\\', '%', '2', 'e', 'f', 'a'), maxLength: 10 }), weight: 2 },
)

/**
 * A `filePath` a hostile mini-program might pass: mostly `ttfile://user/...` or
 * `ttfile://temp/...` with traps in the segments, also other roots, schemes, absolute paths,
 * case and spacing variants, joined by `/`, `//` or `\`, with hostile endings.
 */
function hostilePath(dataDir: string): fc.Arbitrary<string> {
  const prefix = fc.oneof(
    { arbitrary: fc.constantFrom('ttfile://user/', 'ttfile://temp/'), weight: 8 },
    {
      arbitrary: fc.constantFrom(
        'ttfile://user',
        'ttfile://temp',
        'ttfile://',
        'ttfile:///',
        'ttfile:////user/',
        'ttfile://USER/',
        'ttfile://Temp/',
        'ttfile://user/../temp/',
        'ttfile://temp/../user/',
        'ttfile://user//',
        'ttfile://./user/',
        'ttfile://../',
        'ttfile://.tt-download/staging/',
        'ttfile://user%2f',
        'ttfile://user\\',
        'ttfile:\\\\user\\',
        'ttfile:/user/',
        'TTFILE://user/',
        ' ttfile://user/',
        'ttfile://user /',
        'ttfile://usr/',
        'ttfile://tmp/',
        'ttfile://store/',
        'file:///',
        'http://user/',
        '/',
        '',
        './',
        '../',
        '~/',
        `ttfile://${dataDir}/`,
        `ttfile://user${dataDir}/`,
        dataDir + '/user/',
      ),
      weight: 3,
    },
  )
  const separator = fc.oneof(
    { arbitrary: fc.constant('/'), weight: 10 },
    { arbitrary: fc.constantFrom('//', '\\', '/./', '/%2f'), weight: 1 },
  )
  const suffix = fc.oneof(
    { arbitrary: fc.constant(''), weight: 8 },
    { arbitrary: fc.constantFrom('/', '/.', '/..', '.bin', '//', '\u0000', '%00', '\\', ' ', '\n'), weight: 2 },
  )
  const hostile = fc
    .tuple(prefix, fc.array(fc.tuple(segment, separator), { minLength: 0, maxLength: 5 }), segment, suffix)
    .map(([head, middle, last, tail]) => head + middle.map(([s, sep]) => s + sep).join('') + last + tail)
  // Paths close to valid ones (existing directories, any last name), so that plenty of them
  // are stored and the property also checks where stored files land.
  const nearlyValid = fc
    .tuple(
      fc.constantFrom('ttfile://user/', 'ttfile://temp/'),
      fc.constantFrom('', 'a/', 'a/b/', 'a/c/', 'a//b/', './a/', 'a/./c/'),
      segment,
    )
    .map(([head, dir, last]) => head + dir + last)
  return fc.oneof({ arbitrary: hostile, weight: 2 }, { arbitrary: nearlyValid, weight: 1 })
}

test('host.realPath of any generated path stays inside user/ or temp/ (checked on real paths) or throws 121508, 121503 or 121502', async (t) => {
  const fx = await trapFixture(t)
  const user = join(fx.dataDir, 'user')
  const temp = join(fx.dataDir, 'temp')
  const before = snapshot(fx.root)
  let answered = 0
  let thrown = 0
  await fc.assert(
    fc.property(hostilePath(fx.dataDir), (filePath) => {
      let resolved: string
      try {
        resolved = fx.host.realPath(filePath)
      } catch (error) {
        thrown++
        const errNo = (error as { errNo?: unknown }).errNo
        check(error instanceof Error, `realPath(${JSON.stringify(filePath)}) threw a non-Error`)
        check(typeof errNo === 'number' && SANDBOX_CODES.has(errNo), `realPath threw errNo ${String(errNo)}: ${error.message}`)
        check(error.message === detailFor(errNo, filePath), `message ${JSON.stringify(error.message)} for ${errNo}`)
        return
      }
      answered++
      const root = filePath.startsWith('ttfile://user') ? 'user' : 'temp'
      check(/^ttfile:\/\/(user|temp)(\/|$)/.test(filePath), `realPath answered for ${JSON.stringify(filePath)}`)
      check(isAbsolute(resolved) && normalize(resolved) === resolved, `not absolute and normal: ${resolved}`)
      check(isInside(resolved, root === 'user' ? user : temp), `${resolved} outside ${root}/ for ${JSON.stringify(filePath)}`)
      const real = realOfNearest(resolved)
      check(
        isInside(real, root === 'user' ? fx.realUser : fx.realTemp),
        `${JSON.stringify(filePath)} -> ${resolved} resolves to ${real}, outside ${root}/`,
      )
    }),
    { numRuns: 400, includeErrorInReport: true },
  )
  t.deepEqual(snapshot(fx.root), before, 'realPath changed nothing on disk')
  t.true(answered > 20, `enough paths resolved (${answered})`)
  t.true(thrown > 20, `enough paths refused (${thrown})`)
})

test('downloadFile with any generated filePath stores inside the sandbox or fails with 121508, 121503 or 121502 without a request, and nothing outside changes', async (t) => {
  const fx = await trapFixture(t)
  const isPrivate = (rel: string) => rel === join('data', 'user') || rel === join('data', 'temp') || rel === join('data', '.tt-download')
  const outsideBefore = snapshot(fx.root, isPrivate)
  const stored = new Map<string, string>()
  const codes = new Map<number, number>()
  let seed = 0
  await fc.assert(
    fc.asyncProperty(hostilePath(fx.dataDir), async (filePath) => {
      seed++
      const requestsBefore = fx.server.requests.length
      const run = record(fx.host, { url: fx.server.url(`/bytes/24?seed=${seed}`), filePath })
      await run.done
      const label = JSON.stringify(filePath)
      if (run.fail !== undefined) {
        const { errNo, errMsg } = run.fail
        codes.set(errNo, (codes.get(errNo) ?? 0) + 1)
        check(run.success === undefined, `${label}: success and fail`)
        check(SANDBOX_CODES.has(errNo), `${label}: failed with ${errNo} ${errMsg}`)
        check(errMsg === `downloadFile:fail ${detailFor(errNo, filePath)}`, `${label}: errMsg ${JSON.stringify(errMsg)}`)
        check(fx.server.requests.length === requestsBefore, `${label}: failed with ${errNo} after a request`)
        return
      }
      const res = run.success as Success
      check(res !== undefined, `${label}: neither success nor fail`)
      check(res.filePath === filePath && res.tempFilePath === undefined, `${label}: result ${JSON.stringify(res)}`)
      let resolved: string
      try {
        resolved = fx.host.realPath(filePath)
      } catch (error) {
        throw new Error(`${label}: stored, yet realPath refuses it: ${(error as Error).message}`)
      }
      const root = filePath.startsWith('ttfile://user/') ? fx.realUser : fx.realTemp
      check(/^ttfile:\/\/(user|temp)\//.test(filePath), `${label}: stored`)
      const real = realpathSync(resolved)
      check(isInside(real, root) && real !== root, `${label}: stored at ${real}, outside its root`)
      check(lstatSync(resolved).isFile(), `${label}: ${resolved} is not a regular file`)
      check(readFileSync(real).equals(patternBytes(24, seed)), `${label}: ${real} does not hold the bytes`)
      stored.set(relative(fx.dataDir, real), filePath)
    }),
    // About one generated path in ten is storable: 300 runs store 20-45, so the floor below
    // holds whatever the seed (150 runs stored 12-22 and sometimes missed it).
    { numRuns: 300, includeErrorInReport: true },
  )
  t.log(`stored ${stored.size}, failed ${JSON.stringify(Object.fromEntries(codes))}`)
  t.true(stored.size > 15, `enough paths were stored (${stored.size})`)
  t.true(codes.size === 3, 'each of 121508, 121503 and 121502 came up')

  // Outside user/ and temp/ (the secret files, outside/, the dataDir itself) nothing changed.
  t.deepEqual(snapshot(fx.root, isPrivate), outsideBefore, 'nothing outside the sandbox changed')
  t.is(await readFile(join(fx.outside, 'secret.txt'), 'utf8'), SECRET)
  // Every planted symlink is still there, pointing where it did: none was written through.
  for (const [path, target] of fx.links) t.is(await readlink(join(fx.dataDir, path)), target, path)
  // The only new files in user/ and temp/ are those the downloads reported.
  const fixtures = ['temp/t.bin', 'user/a/kept.txt', ...fx.links.keys()]
  const expected = [...new Set([...fixtures, ...stored.keys()].map((p) => p.split(sep).join('/')))].sort()
  const present = [
    ...(await listFiles(join(fx.dataDir, 'user'))).map((p) => `user/${p}`),
    ...(await listFiles(join(fx.dataDir, 'temp'))).map((p) => `temp/${p}`),
  ].sort()
  t.deepEqual(present, expected)
  t.deepEqual(await stagingFiles(fx.dataDir), [], 'staging is empty')
})

// ---------------------------------------------------------------------------------------------
// Symlinks, one at a time

const NOT_REQUESTED = 'the server was never asked'

test('a symlink in user/ to a file outside is never written through: 121503, the outside file untouched', async (t) => {
  const fx = await trapFixture(t)
  for (const filePath of ['ttfile://user/outfile', 'ttfile://temp/a/outfile', 'ttfile://user/dangling']) {
    const run = record(fx.host, { url: fx.server.url('/bytes/32'), filePath })
    await run.done
    assertFailedRun(t, run, 121503, detailFor(121503, filePath), 'D')
    t.throws(() => fx.host.realPath(filePath), { message: detailFor(121503, filePath) })
  }
  t.is(fx.server.requests.length, 0, NOT_REQUESTED)
  t.is(await readFile(join(fx.outside, 'secret.txt'), 'utf8'), SECRET)
  t.deepEqual(readdirSync(fx.outside).sort(), ['dir', 'secret.txt'], 'nothing was created through the dangling link')
  t.is(await readlink(join(fx.dataDir, 'user', 'outfile')), join(fx.outside, 'secret.txt'))
})

test('a symlink in user/ to a directory outside, or a parent directory that is one, is never written through: 121503', async (t) => {
  const fx = await trapFixture(t)
  const before = snapshot(fx.outside)
  const cases = [
    'ttfile://user/outdir/x.bin',
    'ttfile://user/outdir/dir/sub/inner.txt',
    'ttfile://user/outdir/secret.txt',
    'ttfile://user/rel/x.bin',
    'ttfile://user/a/up/x.bin',
    'ttfile://user/a/up/temp/t.bin',
    'ttfile://user/a/b/deep/x.bin',
    'ttfile://user/a/b/deep/sub/inner.txt',
    'ttfile://user/data/x.bin',
    'ttfile://user/private/staging/x.part',
    'ttfile://temp/outdir/x.bin',
  ]
  for (const filePath of cases) {
    const run = record(fx.host, { url: fx.server.url('/bytes/32'), filePath })
    await run.done
    assertFailedRun(t, run, 121503, detailFor(121503, filePath), 'D')
    t.throws(() => fx.host.realPath(filePath), { message: detailFor(121503, filePath) }, filePath)
  }
  for (const dir of ['ttfile://user/outdir', 'ttfile://user/rel', 'ttfile://user/a/up', 'ttfile://user/data']) {
    t.throws(() => fx.host.realPath(dir), { message: detailFor(121503, dir) }, dir)
  }
  t.is(fx.server.requests.length, 0, NOT_REQUESTED)
  t.deepEqual(snapshot(fx.outside), before, 'the outside directory is untouched')
})

test('a symlink from user/ into temp/ (or back) is refused: each root is a sandbox of its own', async (t) => {
  const fx = await trapFixture(t)
  const tempFile = join(fx.dataDir, 'temp', 't.bin')
  const cases = ['ttfile://user/totemp/x.bin', 'ttfile://user/totemp/t.bin', 'ttfile://user/tempfile', 'ttfile://temp/touser/x.bin']
  for (const filePath of cases) {
    const run = record(fx.host, { url: fx.server.url('/bytes/32'), filePath })
    await run.done
    assertFailedRun(t, run, 121503, detailFor(121503, filePath), 'D')
    t.throws(() => fx.host.realPath(filePath), { message: detailFor(121503, filePath) }, filePath)
  }
  t.is(fx.server.requests.length, 0, NOT_REQUESTED)
  t.is(await readFile(tempFile, 'utf8'), 'a temp file')
  t.deepEqual(await listFiles(join(fx.dataDir, 'temp', 'a')), ['outfile'])
})

test('a symlink in user/ to a file in user/ is replaced by the download, the file it pointed to untouched', async (t) => {
  const fx = await trapFixture(t)
  const user = join(fx.dataDir, 'user')
  await symlink(join(user, 'a', 'kept.txt'), join(user, 'inlink'))
  const filePath = 'ttfile://user/inlink'
  t.is(fx.host.realPath(filePath), join(user, 'inlink'))
  const run = record(fx.host, { url: fx.server.url('/bytes/32?seed=3'), filePath })
  await run.done
  t.is(run.fail, undefined, JSON.stringify(run.fail))
  t.true(lstatSync(join(user, 'inlink')).isFile(), 'the link itself was replaced by a file')
  t.deepEqual(await readFile(join(user, 'inlink')), patternBytes(32, 3))
  t.is(await readFile(join(user, 'a', 'kept.txt'), 'utf8'), 'a user file')
})

test('a symlink in user/ to a directory in user/ names a directory: 121508', async (t) => {
  const fx = await trapFixture(t)
  const user = join(fx.dataDir, 'user')
  await symlink(join(user, 'a', 'c'), join(user, 'dirlink'))
  const run = record(fx.host, { url: fx.server.url('/bytes/32'), filePath: 'ttfile://user/dirlink' })
  await run.done
  assertFailedRun(t, run, 121508, 'destination path has error', 'D')
  t.is(fx.server.requests.length, 0, NOT_REQUESTED)
  t.deepEqual(readdirSync(join(user, 'a', 'c')), [])
})

test('a dataDir behind a symlink works, and realPath answers under the dataDir as configured', async (t) => {
  const tmp = await makeTmpDir('tt-download-linked-')
  t.teardown(() => tmp.cleanup())
  await mkdir(join(tmp.dir, 'real'))
  await symlink(join(tmp.dir, 'real'), join(tmp.dir, 'link'))
  const dataDir = join(tmp.dir, 'link')
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host } = await makeHost(t, { dataDir })
  await mkdir(join(dataDir, 'user', 'sub'))
  const filePath = 'ttfile://user/sub/x.bin'
  const run = record(host, { url: server.url('/bytes/100?seed=4'), filePath })
  await run.done
  t.is(run.fail, undefined, JSON.stringify(run.fail))
  t.is(host.realPath(filePath), join(dataDir, 'user', 'sub', 'x.bin'))
  t.deepEqual(await readFile(join(tmp.dir, 'real', 'user', 'sub', 'x.bin')), patternBytes(100, 4))
})

// ---------------------------------------------------------------------------------------------
// Paths that are not file names

test('a filePath whose last segment is "." names a directory: 121508, nothing stored', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host, dataDir } = await makeHost(t)
  await mkdir(join(dataDir, 'user', 'a'))
  for (const filePath of ['ttfile://user/.', 'ttfile://user/a/.', 'ttfile://user/new/.', 'ttfile://user/a/b/.']) {
    const run = record(host, { url: server.url('/bytes/16'), filePath })
    await run.done
    assertFailedRun(t, run, 121508, 'destination path has error', 'D')
  }
  t.is(server.requests.length, 0, NOT_REQUESTED)
  await assertNoLeftovers(t, dataDir)
})

test('a name too long for the file system fails with 121508 before any request, in realPath too', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host, dataDir } = await makeHost(t)
  const long = 'x'.repeat(256)
  const cases = [`ttfile://user/${long}`, `ttfile://user/${'é'.repeat(128)}`, `ttfile://user/${long}/x.bin`]
  for (const filePath of cases) {
    const run = record(host, { url: server.url('/bytes/16'), filePath })
    await run.done
    assertFailedRun(t, run, 121508, 'destination path has error', 'D')
    t.throws(() => host.realPath(filePath), { message: 'destination path has error' })
  }
  // 255 bytes is still a name.
  const longest = `ttfile://user/${'y'.repeat(255)}`
  const run = record(host, { url: server.url('/bytes/16'), filePath: longest })
  await run.done
  t.is(run.fail, undefined, JSON.stringify(run.fail))
  t.is(server.requests.length, 1)
  await assertNoLeftovers(t, dataDir, [`user/${'y'.repeat(255)}`])
})

test('names that merely look odd (unicode, spaces, leading dots, control characters) are ordinary files in the sandbox', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host, dataDir } = await makeHost(t)
  const names = ['é😀.bin', ' ', '...', '.hidden', '.tt-download', 'a\u0001b', 'staging', '\u202etxt.exe']
  let seed = 10
  for (const name of names) {
    const filePath = `ttfile://user/${name}`
    const run = record(host, { url: server.url(`/bytes/20?seed=${++seed}`), filePath })
    await run.done
    t.is(run.fail, undefined, `${JSON.stringify(name)}: ${JSON.stringify(run.fail)}`)
    t.deepEqual(await readFile(join(dataDir, 'user', name)), patternBytes(20, seed))
    t.is(host.realPath(filePath), join(dataDir, 'user', name))
  }
  t.deepEqual(await stagingFiles(dataDir), [], 'the private .tt-download/ was not touched')
})

// ---------------------------------------------------------------------------------------------
// Generated temp names under hostile response headers

test('a hostile Content-Disposition filename never leaves temp/: the name is generated, the extension sanitised', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host, dataDir } = await makeHost(t)
  const cases: [disposition: string, type: string | undefined, ext: string][] = [
    ['attachment; filename="../../evil.SH"', undefined, '.sh'],
    ['attachment; filename="..\\..\\Evil.ExE"', undefined, '.exe'],
    ['attachment; filename="/etc/passwd"', 'image/png', '.png'],
    ['attachment; filename="x.a/../b"', 'image/png', '.png'],
    ['attachment; filename="x.toolongextension"', 'application/pdf', '.pdf'],
    ['attachment; filename="x.p%2Fg"', undefined, ''],
    ['attachment; filename=".bashrc"', undefined, ''],
    ['attachment; filename*=UTF-8\'\'..%2F..%2Fwin.ZIP; filename="plain.pdf"', undefined, '.zip'],
    ["attachment; filename*=UTF-8''%E6%96%87%E4%BB%B6.7z", undefined, '.7z'],
  ]
  for (const [disposition, type, ext] of cases) {
    const query = new URLSearchParams({ 'content-disposition': disposition })
    if (type !== undefined) query.set('content-type', type)
    const run = record(host, { url: server.url(`/response-headers?${query}`) })
    await run.done
    t.is(run.fail, undefined, `${disposition}: ${JSON.stringify(run.fail)}`)
    const tempFilePath = run.success?.tempFilePath ?? ''
    t.regex(tempFilePath, TEMP_PATH, disposition)
    t.is(tempFilePath.slice('ttfile://temp/'.length + 32), ext, disposition)
    t.true(isInside(realpathSync(host.realPath(tempFilePath)), realpathSync(join(dataDir, 'temp'))))
  }
  const temp = await listFiles(join(dataDir, 'temp'))
  t.is(temp.length, cases.length, 'one flat file in temp/ per download')
  t.true(
    temp.every((name) => /^[0-9a-f]{32}(\.[a-z0-9]{1,10})?$/.test(name)),
    temp.join(', '),
  )
  t.deepEqual(await listFiles(join(dataDir, 'user')), [])
})

test('the temp extension from the URL path is decoded and sanitised; a path without a clean one falls back to the Content-Type', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host } = await makeHost(t)
  const cases: [path: string, ext: string][] = [
    ['/files/photo.JPG', '.jpg'],
    ['/files/a%2Fb.p%2Fg?type=image/png', '.png'],
    ['/files/x.verylongextension?type=application/pdf', '.pdf'],
    ['/files/x.p%00g?type=image/png', '.png'],
    ['/files/..%2F..%2Fescape.gz', '.gz'],
    ['/files/.bashrc?type=application/zip', '.zip'],
    ['/files/%E6%96%87.mp4', '.mp4'],
  ]
  for (const [path, ext] of cases) {
    const run = record(host, { url: server.url(path) })
    await run.done
    t.is(run.fail, undefined, `${path}: ${JSON.stringify(run.fail)}`)
    const tempFilePath = run.success?.tempFilePath ?? ''
    t.regex(tempFilePath, TEMP_PATH, path)
    t.is(tempFilePath.slice('ttfile://temp/'.length + 32), ext, path)
  }
})
