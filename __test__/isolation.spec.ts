// Isolation (issue 9), what the cookie, engine-sharing, policy and sandbox specs leave open:
// hosts on one engine writing the same ttfile:// paths, hosts sharing a dataDir never removing
// each other's staging files, redirects to every non-http scheme and spelling, a redirect that
// tries another port of a listed host through an unusual Location spelling, and symlinks
// planted in user/ while a download runs.
import test from 'ava'
import type { ExecutionContext } from 'ava'
import { mkdir, readFile, readdir, rename, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createEngine, createHost } from '../src/index.js'
import { assertFailedRun, assertNoLeftovers, assertSucceededRun } from './helpers/assert.js'
import { patternBytes } from './helpers/bytes.js'
import { startContentServer, type ContentServer } from './helpers/content-server.js'
import { listFiles, makeTmpDir, stagingFiles } from './helpers/fs.js'
import { LOOPBACK_EGRESS, makeHost } from './helpers/hosts.js'
import { record } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'
import { certKit, startTlsServer, TEST_HOST } from './helpers/tls.js'

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function redirectTo(server: ContentServer, location: string): string {
  return server.url(`/redirect-to?url=${encodeURIComponent(location)}`)
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

// ---------------------------------------------------------------------------------------------
// Files

test('hosts on one engine writing the same ttfile:// paths at once each get their own bytes in their own sandbox', async (t) => {
  const server = closeAfter(t, await startTlsServer('h2'))
  const engine = createEngine()
  t.teardown(() => engine.close())
  const hosts = await Promise.all([1, 2, 3].map(() => makeHost(t, { engine })))
  const runs = hosts.flatMap(({ host }, i) => [
    record(host, { url: server.url(`/slow/5000?seed=${i + 1}&chunks=5&delayMs=20`), filePath: 'ttfile://user/same.bin' }),
    record(host, { url: server.url(`/slow/5000?seed=${i + 11}&chunks=5&delayMs=20`), filePath: 'ttfile://user/same-too.bin' }),
    record(host, { url: server.url(`/bytes/5000?seed=${i + 21}`) }),
  ])
  await Promise.all(runs.map((run) => run.done))
  for (const [i, { host, dataDir }] of hosts.entries()) {
    const [user, temp, generated] = runs.slice(i * 3, i * 3 + 3).map((run) => assertSucceededRun(t, run))
    t.true(host.realPath(user!.filePath!).startsWith(dataDir + '/'), "realPath stays in this host's dataDir")
    t.deepEqual(await readFile(host.realPath(user!.filePath!)), patternBytes(5000, i + 1))
    t.deepEqual(await readFile(host.realPath(temp!.filePath!)), patternBytes(5000, i + 11))
    t.deepEqual(await readFile(host.realPath(generated!.tempFilePath!)), patternBytes(5000, i + 21))
    t.deepEqual(
      (await listFiles(join(dataDir, 'user'))).length + (await listFiles(join(dataDir, 'temp'))).length,
      3,
      "exactly this host's three files",
    )
  }
})

test("hosts sharing one dataDir never remove each other's staging files: close() and a new host leave a running download alone", async (t) => {
  const server = closeAfter(t, await startContentServer())
  const tmp = await makeTmpDir()
  t.teardown(() => tmp.cleanup())
  const config = { appId: 'tt0123456789abcdef', env: 'test' as const, dataDir: tmp.dir, egress: LOOPBACK_EGRESS }
  const first = createHost(config)
  const second = createHost(config)
  t.teardown(() => first.close())
  t.teardown(() => second.close())
  const run = record(second, { url: server.url('/slow/20000?seed=5&chunks=10&delayMs=60'), filePath: 'ttfile://user/slow.bin' })
  await waitFor('the staging file of the running download', async () => (await stagingFiles(tmp.dir)).length === 1)
  await first.close()
  const third = createHost(config)
  t.teardown(() => third.close())
  t.is((await stagingFiles(tmp.dir)).length, 1, "the running download's staging file is still there")
  await run.done
  assertSucceededRun(t, run)
  t.deepEqual(await readFile(second.realPath('ttfile://user/slow.bin')), patternBytes(20000, 5))
  await assertNoLeftovers(t, tmp.dir, ['user/slow.bin'])
})

// ---------------------------------------------------------------------------------------------
// Redirects

test('a redirect never leads to a non-http scheme, however it is spelled: 121529, nothing stored, nothing requested', async (t) => {
  const server = closeAfter(t, await startContentServer())
  // The most permissive host: test env (http allowed), no domain checks at all.
  const { host, dataDir } = await makeHost(t, { checkDomain: false, checkRedirectDomain: false })
  const secret = join(dataDir, '..', 'secret-of-another-app')
  const locations = [
    'file:///etc/passwd',
    `file://${secret}`,
    'FILE:///etc/passwd',
    ' file:///etc/passwd',
    'fi\tle:///etc/passwd',
    'file:/etc/passwd',
    'file:etc/passwd',
    'file://localhost/etc/passwd',
    'file:\\\\\\etc\\passwd',
    'ttfile://user/x',
    'ttfile://temp/../user/x',
    'data:text/plain,hi',
    'data:application/octet-stream;base64,AAAA',
    'javascript:alert(1)',
    'blob:https://files.test/uuid',
    'ftp://127.0.0.1/x',
    `ws://127.0.0.1:${server.port}/bytes/10`,
    `wss://127.0.0.1:${server.port}/bytes/10`,
    'about:blank',
    'mailto:a@b.c',
    'gopher://127.0.0.1:70/',
    'view-source:https://files.test/',
    'jar:file:///x.jar!/y',
    'urn:isbn:0451450523',
    'chrome://settings',
    'smb://127.0.0.1/share',
    'tel:+1',
  ]
  for (const location of locations) {
    const run = await record(host, { url: redirectTo(server, location) }).done
    assertFailedRun(t, run, 121529, 'url error', 'D')
  }
  t.deepEqual(
    server.requests.map((r) => r.path.split('?')[0]),
    locations.map(() => '/redirect-to'),
    'only the redirects were requested',
  )
  await assertNoLeftovers(t, dataDir)
})

test('a redirect cannot reach another port of a listed host through an unusual Location spelling: 121501, never requested', async (t) => {
  const kit = await certKit()
  const listed = closeAfter(t, await startContentServer({ mode: 'https', cert: kit.leaf, hostname: TEST_HOST }))
  const other = closeAfter(t, await startContentServer({ mode: 'https', cert: kit.leaf, hostname: TEST_HOST }))
  const { host, dataDir } = await makeHost(t, { env: 'release', domains: [listed.origin] })
  const p = other.port
  const locations = [
    `\\\\${TEST_HOST}:${p}/bytes/10`,
    `/\\${TEST_HOST}:${p}/bytes/10`,
    `\\/${TEST_HOST}:${p}/bytes/10`,
    `https:\\\\${TEST_HOST}:${p}/bytes/10`,
    `https:/\\${TEST_HOST}:${p}/bytes/10`,
    `HTTPS://${TEST_HOST}:${p}/bytes/10`,
    `https:///${TEST_HOST}:${p}/bytes/10`,
    `//${TEST_HOST}:${p}/bytes/10`,
    `https://${TEST_HOST}:0${p}/bytes/10`,
    `\t//${TEST_HOST}:${p}/bytes/10`,
  ]
  for (const location of locations) {
    const run = await record(host, { url: redirectTo(listed, location) }).done
    assertFailedRun(t, run, 121501, `url not in domain list, url == https://${TEST_HOST}:${p}/bytes/10`, 'D')
  }
  t.is(other.requests.length, 0, 'the unlisted port was never requested')
  // A relative hop whose query holds a URL stays on the listed origin and is followed.
  const fine = await record(host, { url: redirectTo(listed, `/bytes/10?next=https://${TEST_HOST}:${p}/x`) }).done
  assertSucceededRun(t, fine)
  await assertNoLeftovers(t, dataDir, [`temp/${fine.success!.tempFilePath!.slice('ttfile://temp/'.length)}`])
})

// ---------------------------------------------------------------------------------------------
// Symlinks planted while a download runs

/** A host, a slow download into user/d/x.bin, and an outside directory to lure it into. */
async function plantFixture(t: ExecutionContext) {
  const server = closeAfter(t, await startContentServer())
  const { host, dataDir } = await makeHost(t)
  const outside = await makeTmpDir('tt-download-outside-')
  t.teardown(() => outside.cleanup())
  await writeFile(join(outside.dir, 'x.bin'), 'outside: never to be written')
  await mkdir(join(dataDir, 'user', 'd'))
  const run = record(host, {
    url: server.url('/slow/8000?seed=9&chunks=8&delayMs=60'),
    filePath: 'ttfile://user/d/x.bin',
  })
  await waitFor('the head of the slow download', () => run.events.some((e) => e.type === 'headers'))
  return { host, dataDir, outside: outside.dir, run }
}

// The engine renames relative to directory handles opened without following symlinks
// (sink.rs `rename_without_symlinks`): a directory of the target's path swapped for a symlink
// mid-download fails the download instead of leading the file outside the sandbox.
test("a symlink to outside swapped in for the target's parent directory mid-download is never written through", async (t) => {
  const fx = await plantFixture(t)
  const user = join(fx.dataDir, 'user')
  await rename(join(user, 'd'), join(user, 'd-moved'))
  await symlink(fx.outside, join(user, 'd'))
  await fx.run.done
  const outsideNow = await readFile(join(fx.outside, 'x.bin'))
  t.true(
    outsideNow.equals(Buffer.from('outside: never to be written')),
    `the outside file was overwritten (now ${outsideNow.length} bytes)`,
  )
  t.deepEqual((await readdir(fx.outside)).sort(), ['x.bin'], 'nothing new outside')
  t.truthy(fx.run.fail, `the download failed instead of following the link (got ${JSON.stringify(fx.run.success ?? fx.run.fail)})`)
  t.is(fx.run.fail?.errNo, 121507)
  // The cause names the app's own path, never where the host keeps the sandbox on disk.
  t.regex(fx.run.fail?.errMsg ?? '', /ttfile:\/\/user\/d/)
  t.false((fx.run.fail?.errMsg ?? '').includes(fx.dataDir), fx.run.fail?.errMsg)
  t.deepEqual(await stagingFiles(fx.dataDir), [], 'staging is empty')
})

test('a symlink to outside planted at the target itself mid-download is replaced, never written through', async (t) => {
  const fx = await plantFixture(t)
  await symlink(join(fx.outside, 'x.bin'), join(fx.dataDir, 'user', 'd', 'x.bin'))
  await fx.run.done
  assertSucceededRun(t, fx.run)
  const outsideNow = await readFile(join(fx.outside, 'x.bin'))
  t.true(
    outsideNow.equals(Buffer.from('outside: never to be written')),
    `the outside file was overwritten (now ${outsideNow.length} bytes)`,
  )
  t.deepEqual(await readFile(fx.host.realPath('ttfile://user/d/x.bin')), patternBytes(8000, 9), 'the link was replaced by the file')
  await assertNoLeftovers(t, fx.dataDir, ['user/d/x.bin'])
})
