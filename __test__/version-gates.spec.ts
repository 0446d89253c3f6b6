// Version gates (SPEC 6 and 10, issue 6) and the createHost checks of SPEC 10: below sdkVersion
// 2.42.0 the default maxFileSize is 50 MiB and the `filePath` and `timeout` options are ignored
// entirely (not even validated); versions compare numerically per segment; a malformed
// sdkVersion, or a missing appId or dataDir, makes createHost throw a TypeError. The cookie
// gate (2.45.0) is pinned in cookies.spec.ts.
import test from 'ava'
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createHost } from '../src/index.js'
import type { HostConfig } from '../src/index.js'
import { assertFailedRun, assertNoLeftovers, assertSucceededRun, TEMP_PATH } from './helpers/assert.js'
import { patternBytes } from './helpers/bytes.js'
import { makeTmpDir } from './helpers/fs.js'
import { releaseHost } from './helpers/hosts.js'
import { record } from './helpers/record.js'
import type { RecordOptions } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'
import { sleep, startPolicyContentServer, startRawTlsServer } from './helpers/policy-servers.js'

const MIB = 1024 * 1024

/** A TLS server that answers with a head announcing `length` bytes and then sends nothing. */
function headOnlyServer(length: number) {
  return startRawTlsServer((socket) =>
    socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`),
  )
}

test('below sdkVersion 2.42.0 (2.9.0: compared per segment) a Content-Length over 50 MiB fails 121521 by default', async (t) => {
  const server = closeAfter(t, await headOnlyServer(50 * MIB + 1))
  const { host } = await releaseHost(t, { checkDomain: false, sdkVersion: '2.9.0' })
  const run = await record(host, { url: server.url('/big.bin') }).done
  assertFailedRun(t, run, 121521, 'file size exceeds 50MB', 'D')
})

for (const sdkVersion of ['2.42.0', '2.100.0']) {
  test(`from sdkVersion 2.42.0 (${sdkVersion}) a Content-Length of 60 MiB passes the default size check`, async (t) => {
    const server = closeAfter(t, await headOnlyServer(60 * MIB))
    const { host } = await releaseHost(t, { checkDomain: false, sdkVersion })
    let headAt = 0
    const run = record(host, { url: server.url('/big.bin') }, { onHeaders: () => (headAt = Date.now()) })
    // The head arrived and the size check passed: 300 ms later the download still waits for
    // its body. Below 2.42.0 it would have failed with 121521 right after the head.
    const deadline = Date.now() + 10_000
    while (headAt === 0 && run.complete === undefined && Date.now() < deadline) await sleep(10)
    t.not(headAt, 0, 'the head arrived')
    await sleep(300)
    t.is(run.fail, undefined, `no fail after the head: ${JSON.stringify(run.fail)}`)
    run.task.abort()
    await run.done
    assertFailedRun(t, run, 121522, 'download file abort', 'U')
  })
}

test('below sdkVersion 2.42.0 filePath and timeout are ignored entirely, not validated: every file goes to ttfile://temp', async (t) => {
  const server = closeAfter(t, await startPolicyContentServer())
  const filePaths: unknown[] = [
    'ttfile://user/x.bin',
    'ttfile://user/missing/x.bin',
    'ttfile://user/missing-dir/x.bin',
    'ttfile://user/../../etc/passwd',
    'ttfile://other/x.bin',
    'ttfile://elsewhere/x.bin',
    '/etc/passwd',
    'ttfile://user/',
    '',
    42,
    null,
  ]
  const ignored = [...filePaths.map((filePath) => ({ filePath })), { timeout: 'soon' }, { timeout: Number.NaN }] as unknown as Omit<
    RecordOptions,
    'url'
  >[]
  for (const sdkVersion of ['2.41.0', '2.9.0', '2.41.9', '2.41.99']) {
    // A tiny quota: were filePath honoured, every user/ download here would fail with 121530.
    const { host, dataDir } = await releaseHost(t, { checkDomain: false, sdkVersion, userDataQuota: 10 })
    const stored: string[] = []
    for (const options of ignored) {
      const run = await record(host, { url: server.url('/bytes/1000?seed=9'), ...options }).done
      const res = assertSucceededRun(t, run)
      t.regex(res.tempFilePath ?? '', TEMP_PATH, `${sdkVersion} ${JSON.stringify(options)}`)
      t.false('filePath' in res, 'no filePath in the result')
      t.deepEqual(await readFile(host.realPath(res.tempFilePath!)), patternBytes(1000, 9))
      stored.push(res.tempFilePath!.replace('ttfile://', ''))
    }
    // A timeout shorter than the response is not applied either.
    const slow = await record(host, { url: server.url('/slow/10?headerDelayMs=400&delayMs=0'), timeout: 100 }).done
    stored.push(assertSucceededRun(t, slow).tempFilePath!.replace('ttfile://', ''))
    t.deepEqual(await readdir(join(dataDir, 'user')), [], `${sdkVersion}: nothing in user/`)
    await assertNoLeftovers(t, dataDir, stored)
  }
})

test('from sdkVersion 2.42.0 exactly, filePath is honoured and validated, and timeout is honoured', async (t) => {
  const server = closeAfter(t, await startPolicyContentServer())
  const { host, dataDir } = await releaseHost(t, { checkDomain: false, sdkVersion: '2.42.0' })
  const stored = await record(host, { url: server.url('/bytes/10'), filePath: 'ttfile://user/wanted.bin' }).done
  t.is(assertSucceededRun(t, stored).filePath, 'ttfile://user/wanted.bin')
  t.true(existsSync(host.realPath('ttfile://user/wanted.bin')))
  const bad = await record(host, { url: server.url('/bytes/100'), filePath: 'ttfile://user/../x.bin' }).done
  assertFailedRun(t, bad, 121503, "file path permission denied, open 'ttfile://user/../x.bin'", 'D')
  await assertNoLeftovers(t, dataDir, ['user/wanted.bin'])
  const slow = await record(host, { url: server.url('/slow/10?headerDelayMs=2000&delayMs=0'), timeout: 100 }).done
  assertFailedRun(t, slow, 121520, 'request time out', 'D')
})

test('createHost throws a TypeError for a malformed sdkVersion', async (t) => {
  const dir = await makeTmpDir()
  t.teardown(() => dir.cleanup())
  const malformed: unknown[] = ['', '2.x', 'v2.42.0', '2..0', '2.42.0-beta', ' 2.42.0', '2.42.', '.2.42', '2,42,0', 242, null]
  for (const sdkVersion of malformed) {
    t.throws(
      () => createHost({ appId: 'ttgate', dataDir: dir.dir, sdkVersion } as unknown as HostConfig),
      { instanceOf: TypeError },
      `sdkVersion ${JSON.stringify(sdkVersion)}`,
    )
  }
  for (const sdkVersion of ['2', '2.42', '2.42.0', '10.0.0.1']) {
    const host = createHost({ appId: 'ttgate', dataDir: dir.dir, sdkVersion })
    await host.close()
  }
  t.pass()
})

test('createHost throws a TypeError without an appId or a dataDir', async (t) => {
  const dir = await makeTmpDir()
  t.teardown(() => dir.cleanup())
  const configs: unknown[] = [
    { dataDir: dir.dir },
    { appId: '', dataDir: dir.dir },
    { appId: 42, dataDir: dir.dir },
    { appId: 'ttgate' },
    { appId: 'ttgate', dataDir: '' },
    { appId: 'ttgate', dataDir: 7 },
    {},
    undefined,
  ]
  for (const config of configs) {
    t.throws(() => createHost(config as HostConfig), { instanceOf: TypeError }, JSON.stringify(config))
  }
})
