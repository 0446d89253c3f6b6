// Every row of SPEC section 7, each provoked by its real cause: bad options, a domain list,
// misbehaving servers (helpers/raw-servers.ts), bad certificates (helpers/tls.ts), host state,
// a file-size limit in a child process, and an engine panic through the `test-panic` addon.
// Each test asserts errNo, errorCode, errorType and the exact errMsg, that nothing is left in
// the sandbox or in staging, and that an existing file at `filePath` is untouched.
//
// Some rows are also covered, from other angles, by abort.spec.ts (abort at each moment),
// limits.spec.ts (timeouts, byte limits) and download-promise.spec.ts (the Promise form).
import test from 'ava'
import type { ExecutionContext } from 'ava'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DownloadError } from '../src/index.js'
import type { Host } from '../src/index.js'
import { assertFail, assertFailedRun, assertNoLeftovers } from './helpers/assert.js'
import { describeChild, ROOT, runHostChild } from './helpers/child.js'
import { startContentServer, type ContentMode } from './helpers/content-server.js'
import { makeTmpDir } from './helpers/fs.js'
import { makeHost } from './helpers/hosts.js'
import type { TestHost } from './helpers/hosts.js'
import { record } from './helpers/record.js'
import type { RecordOptions, Run } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'
import {
  refusedPort,
  startCloseBeforeResponseServer,
  startGarbageServer,
  startPlainTextOnTlsServer,
  startResetBeforeResponseServer,
  startResetMidBodyServer,
  startShortBodyServer,
  startStallServer,
} from './helpers/raw-servers.js'
import { OTHER_HOST, startBadCertServer, startTlsServer, TEST_HOST, type BadCert } from './helpers/tls.js'

type Row = readonly [errNo: number, detail: string | RegExp, errorType: 'D' | 'U' | 'F']

const KEEP = 'ttfile://user/keep.bin'
const KEPT = ['user/keep.bin']
const PRECIOUS = 'precious'

type Hooks = Parameters<typeof record>[2]
/**
 * Runs one download that must fail with `row`. Unless the options bring their own `filePath`,
 * the download targets KEEP, an existing file, which must come out untouched. Then nothing may
 * be left: no staging file, no partial file, nothing in the sandbox besides KEEP and `keep`.
 */
async function expectFail(
  t: ExecutionContext,
  { host, dataDir }: TestHost,
  options: RecordOptions,
  row: Row,
  { hooks, keep = [] }: { hooks?: Hooks; keep?: string[] } = {},
): Promise<Run> {
  const ownPath = Object.hasOwn(options, 'filePath')
  if (!ownPath) await writeFile(host.realPath(KEEP), PRECIOUS)
  const run = record(host, ownPath ? options : { ...options, filePath: KEEP }, hooks)
  await run.done
  assertFailedRun(t, run, ...row)
  if (!ownPath) t.is(await readFile(host.realPath(KEEP), 'utf8'), PRECIOUS, 'existing file untouched')
  await assertNoLeftovers(t, dataDir, ownPath ? keep : [...KEPT, ...keep])
  return run
}

/** The fail fields of a DownloadError, as a fail object. */
function failFields(error: DownloadError | undefined) {
  return error === undefined ? undefined : { ...error.toJSON() }
}

// ---------------------------------------------------------------------------------------------
// 121599 url is invalid

test('121599: a missing, non-string or unparseable url fails with "url is invalid" and the url as given', async (t) => {
  const h = await makeHost(t)
  const cases: [unknown, string][] = [
    [undefined, 'undefined'],
    [42, '42'],
    [null, 'null'],
    [{ toString: () => 'an object' }, 'an object'],
    [Object.create(null), '[object Object]'],
    ['not a url', 'not a url'],
    ['http://', 'http://'],
    ['', ''],
  ]
  for (const [url, shown] of cases) {
    await expectFail(t, h, { url } as unknown as RecordOptions, [121599, `url is invalid, url == ${shown}`, 'D'])
  }
})

// ---------------------------------------------------------------------------------------------
// 121599 url use invalid protocol

test('121599: http in release fails with "url use invalid protocol" naming https as the only protocol', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t, { env: 'release', checkDomain: false })
  const url = server.url('/bytes/10')
  await expectFail(t, h, { url }, [121599, `url use invalid protocol, url == ${url}, url support protocol is https`, 'D'])
  t.is(server.requests.length, 0)
})

test('121599: every scheme but http(s) (ftp:, file:, data:, ws:, javascript: ...) fails with "url use invalid protocol" in test and in release', async (t) => {
  const server = closeAfter(t, await startTlsServer('https'))
  const urls = [
    'ftp://files.test/file.bin',
    'file:///etc/passwd',
    'data:text/plain,hello',
    'ws://files.test/x',
    `wss://${TEST_HOST}:${server.port}/socket`,
    'javascript:alert(1)',
    `blob:https://${TEST_HOST}/0b6c7f2e`,
    `mailto:someone@${TEST_HOST}`,
    'about:blank',
    `gopher://${TEST_HOST}/1`,
  ]
  for (const [env, allowed] of [
    ['test', 'http,https'],
    ['release', 'https'],
  ] as const) {
    const h = await makeHost(t, { env, checkDomain: false })
    for (const url of urls) {
      await expectFail(t, h, { url }, [121599, `url use invalid protocol, url == ${url}, url support protocol is ${allowed}`, 'D'])
    }
  }
  t.is(server.requests.length, 0, 'the wss: URL reached no server')
})

// ---------------------------------------------------------------------------------------------
// 121599 parameter error

test('121599: a header that is not an object fails with a parameter error', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t)
  const url = server.url('/bytes/10')
  const cases: [unknown, string][] = [
    ['x-a: 1', 'String'],
    [42, 'Number'],
    [null, 'Null'],
    [['x-a', '1'], 'Array'],
    [true, 'Boolean'],
  ]
  for (const [header, type] of cases) {
    await expectFail(t, h, { url, header } as unknown as RecordOptions, [
      121599,
      `parameter error: parameter.header should be Object instead of ${type}`,
      'D',
    ])
  }
  t.is(server.requests.length, 0)
})

test('121599: a header value neither string nor number, or a non-finite number, fails with a parameter error', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t)
  const url = server.url('/bytes/10')
  const cases: [unknown, string][] = [
    [true, 'Boolean'],
    [null, 'Null'],
    [{ a: 1 }, 'Object'],
    [['a'], 'Array'],
    [undefined, 'Undefined'],
    [NaN, 'NaN'],
    [Infinity, 'Infinity'],
    [-Infinity, '-Infinity'],
  ]
  for (const [value, type] of cases) {
    await expectFail(t, h, { url, header: { 'x-ok': 'fine', 'x-bad': value } } as unknown as RecordOptions, [
      121599,
      `parameter error: parameter.header.x-bad should be String or Number instead of ${type}`,
      'D',
    ])
  }
  t.is(server.requests.length, 0)
})

test('121599: a header name or value with CR, LF or NUL (or any non-token name) fails with a parameter error', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t)
  const url = server.url('/bytes/10')
  for (const name of ['x-a\r\nx-injected', 'x-a\n', 'x-a\0', 'x a', '', 'x:a']) {
    await expectFail(t, h, { url, header: { [name]: 'v' } }, [121599, `parameter error: invalid header name ${JSON.stringify(name)}`, 'D'])
  }
  for (const value of ['a\r\nx-injected: 1', 'a\nb', 'a\rb', 'a\0b', 'caf\u00e9 \u2603']) {
    await expectFail(t, h, { url, header: { 'x-a': value } }, [121599, 'parameter error: invalid value of header "x-a"', 'D'])
  }
  // A header the library drops or replaces is still validated.
  await expectFail(t, h, { url, header: { referer: 'a\r\nb' } }, [121599, 'parameter error: invalid value of header "referer"', 'D'])
  t.is(server.requests.length, 0)
})

test('121599: a timeout that is not a finite number fails with a parameter error', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t)
  const url = server.url('/bytes/10')
  const cases: [unknown, string][] = [
    [NaN, 'NaN'],
    [Infinity, 'Infinity'],
    [-Infinity, '-Infinity'],
    ['1000', 'String'],
    [null, 'Null'],
    [{}, 'Object'],
  ]
  for (const [timeout, type] of cases) {
    await expectFail(t, h, { url, timeout } as unknown as RecordOptions, [
      121599,
      `parameter error: parameter.timeout should be a finite Number instead of ${type}`,
      'D',
    ])
  }
  t.is(server.requests.length, 0)
})

test('121599: download() with options that are not an object rejects with the exact parameter error', async (t) => {
  const { host, dataDir } = await makeHost(t)
  const download = host.download as (options: unknown) => Promise<unknown>
  const cases: [unknown, string][] = [
    [undefined, 'Undefined'],
    [null, 'Null'],
    ['https://files.test/x', 'String'],
    [42, 'Number'],
    [true, 'Boolean'],
  ]
  for (const [options, type] of cases) {
    const error = await t.throwsAsync(download(options), { instanceOf: DownloadError })
    assertFail(t, failFields(error), 121599, `parameter error: parameter should be Object instead of ${type}`, 'D')
  }
  await assertNoLeftovers(t, dataDir)
})

test('downloadFile with options that are not an object returns an inert task and calls nothing', async (t) => {
  const { host, dataDir } = await makeHost(t)
  const downloadFile = host.downloadFile as (options: unknown) => ReturnType<Host['downloadFile']>
  const calls: string[] = []
  for (const options of [undefined, null, 'https://files.test/x', 42]) {
    const task = downloadFile(options)
    task.onHeadersReceived(() => calls.push('headers'))
    task.onProgressUpdate(() => calls.push('progress'))
    task.abort()
  }
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.deepEqual(calls, [])
  await assertNoLeftovers(t, dataDir)
})

// ---------------------------------------------------------------------------------------------
// 121501 url not in domain list

test('121501: a URL whose host or port is not in the domain list fails before any request', async (t) => {
  const server = closeAfter(t, await startContentServer({ hostname: TEST_HOST }))
  const port = server.port
  const resolve = { [TEST_HOST]: '127.0.0.1', [OTHER_HOST]: '127.0.0.1' }
  const cases: [string[], string][] = [
    // Another host.
    [[`http://${OTHER_HOST}:${port}`], server.url('/bytes/10')],
    // The listed host without a port admits only URLs that spell none.
    [[`http://${TEST_HOST}`], server.url('/bytes/10')],
    // A listed port other than the one spelled.
    [[`http://${TEST_HOST}:${port + 1}`], server.url('/bytes/10')],
    // Nothing listed at all.
    [[], server.url('/bytes/10')],
  ]
  for (const [domains, url] of cases) {
    const h = await makeHost(t, { checkDomain: true, domains, resolve })
    await expectFail(t, h, { url }, [121501, `url not in domain list, url == ${url}`, 'D'])
  }
  t.is(server.requests.length, 0)
})

test('121501: IP literals and localhost never pass a checked domain list, even when listed', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const port = server.port
  const urls = [`http://127.0.0.1:${port}/bytes/10`, `http://localhost:${port}/bytes/10`, `http://[::1]:${port}/bytes/10`]
  const domains = [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`]
  const h = await makeHost(t, { checkDomain: true, domains })
  for (const url of urls) {
    await expectFail(t, h, { url }, [121501, `url not in domain list, url == ${url}`, 'D'])
  }
  t.is(server.requests.length, 0)
})

test("121501: a redirect hop outside the domain list fails with that hop's URL and is not requested", async (t) => {
  const server = closeAfter(t, await startContentServer({ hostname: TEST_HOST }))
  const hop = `http://${OTHER_HOST}:${server.port}/bytes/10`
  const h = await makeHost(t, {
    checkDomain: true,
    domains: [server.origin],
    resolve: { [TEST_HOST]: '127.0.0.1', [OTHER_HOST]: '127.0.0.1' },
  })
  const url = server.url(`/redirect-to?url=${encodeURIComponent(hop)}`)
  const run = await expectFail(t, h, { url }, [121501, `url not in domain list, url == ${hop}`, 'D'])
  t.false(
    run.events.some((e) => e.type === 'headers'),
    'a refused redirect is not a final response',
  )
  t.deepEqual(
    server.requests.map((r) => r.path),
    [new URL(url).pathname + new URL(url).search],
  )
})

// ---------------------------------------------------------------------------------------------
// 121529 url error

test('121529: a URL with credentials fails with "url error" before any request', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t)
  for (const auth of ['user:secret@', 'user@', ':secret@']) {
    await expectFail(t, h, { url: `http://${auth}127.0.0.1:${server.port}/bytes/10` }, [121529, 'url error', 'D'])
  }
  t.is(server.requests.length, 0)
})

test('121529: a redirect to file:, to an unparseable Location, or to a URL with credentials fails with "url error"', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t)
  const locations = [
    'file:///etc/passwd',
    'ftp://127.0.0.1/x',
    'data:text/plain,hi',
    'http://[oops/x',
    'http://exa mple.test/',
    `http://user:pw@127.0.0.1:${server.port}/bytes/10`,
  ]
  for (const location of locations) {
    const run = await expectFail(t, h, { url: server.url(`/redirect-to?url=${encodeURIComponent(location)}`) }, [121529, 'url error', 'D'])
    t.false(
      run.events.some((e) => e.type === 'headers'),
      `no final response for ${location}`,
    )
  }
  t.is(server.requestsTo('/bytes').length, 0)
})

test('121529: a redirect from https to http in release fails with "url error"', async (t) => {
  const tls = closeAfter(t, await startTlsServer('https'))
  const plain = closeAfter(t, await startContentServer({ hostname: TEST_HOST }))
  const h = await makeHost(t, { env: 'release', checkDomain: false })
  const url = tls.url(`/redirect-to?url=${encodeURIComponent(plain.url('/bytes/10'))}`)
  await expectFail(t, h, { url }, [121529, 'url error', 'D'])
  t.is(plain.requests.length, 0)
})

test('121529: the 11th redirect response fails with "url error" and its Location is not requested', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t)
  await expectFail(t, h, { url: server.url('/redirect/11') }, [121529, 'url error', 'D'])
  t.deepEqual(
    server.requests.map((r) => r.path),
    Array.from({ length: 11 }, (_, i) => `/redirect/${11 - i}`),
    'eleven redirect responses were read, the final /bytes never requested',
  )
})

// ---------------------------------------------------------------------------------------------
// 121508 / 121503 / 121502 filePath

test('121508: a filePath that is not a string, not a ttfile:// path, empty, ends with / or names a directory fails with "destination path has error"', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t)
  await mkdir(h.host.realPath('ttfile://user/dir'))
  const row: Row = [121508, 'destination path has error', 'D']
  const cases: unknown[] = [
    42,
    null,
    {},
    '',
    '/tmp/x.bin',
    'user/x.bin',
    'file:///tmp/x.bin',
    'ttfile://user/',
    'ttfile://user/dir/',
    'ttfile://temp/',
    'ttfile://user/dir',
  ]
  for (const filePath of cases) {
    await expectFail(t, h, { url: server.url('/bytes/10'), filePath } as unknown as RecordOptions, row)
  }
  t.is(server.requests.length, 0)
})

test('121503: a filePath outside ttfile://user and ttfile://temp fails with "file path permission denied"', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t)
  const outside = await makeTmpDir('tt-download-outside-')
  t.teardown(() => outside.cleanup())
  await symlink(outside.dir, h.host.realPath('ttfile://user/out'))
  const cases = [
    'ttfile://other/x.bin',
    'ttfile://.tt-download/staging/x.bin',
    'ttfile://user/../x.bin',
    'ttfile://user/../../x.bin',
    'ttfile://temp/../user/../../x.bin',
    'ttfile://user/out/x.bin',
  ]
  for (const filePath of cases) {
    await expectFail(t, h, { url: server.url('/bytes/10'), filePath }, [121503, `file path permission denied, open '${filePath}'`, 'D'], {
      keep: ['user/out'],
    })
  }
  t.deepEqual(readdirSync(outside.dir), [], 'nothing was written through the symlink')
  t.is(server.requests.length, 0)
})

test('121502: a filePath whose parent directory does not exist fails with "no such file or directory"', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t)
  await writeFile(h.host.realPath('ttfile://user/plain.txt'), 'a file, not a directory')
  for (const filePath of ['ttfile://user/missing/x.bin', 'ttfile://user/a/b/c.bin', 'ttfile://user/plain.txt/x.bin']) {
    const run = record(h.host, { url: server.url('/bytes/10'), filePath })
    await run.done
    assertFailedRun(t, run, 121502, `no such file or directory, '${filePath}'`, 'D')
  }
  await assertNoLeftovers(t, h.dataDir, ['user/plain.txt'])
  t.is(server.requests.length, 0)
})

// ---------------------------------------------------------------------------------------------
// 121530 user dir saved file size limit exceeded

test('121530: a file that would push ttfile://user over userDataQuota fails with "user dir saved file size limit exceeded"', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t, { userDataQuota: 1000 })
  const row: Row = [121530, 'user dir saved file size limit exceeded', 'D']
  // Over the quota by itself: by its Content-Length, and by the running count without one.
  await expectFail(t, h, { url: server.url('/bytes/2000') }, row)
  await expectFail(t, h, { url: server.url('/chunked/2000') }, row)
  // Within the quota alone, over it together with a file stored before.
  const first = record(h.host, { url: server.url('/bytes/600'), filePath: 'ttfile://user/a.bin' })
  await first.done
  t.is(first.fail, undefined, JSON.stringify(first.fail))
  await expectFail(t, h, { url: server.url('/bytes/600?seed=2') }, row, { keep: ['user/a.bin'] })
})

// ---------------------------------------------------------------------------------------------
// 121521 file size exceeds

test('121521: a Content-Length or a running count over maxFileSize fails with "file size exceeds <N>MB"', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const mib = 1024 * 1024
  const h = await makeHost(t, { maxFileSize: 2 * mib + 100 })
  for (const path of [`/bytes/${2 * mib + 101}`, `/chunked/${3 * mib}`]) {
    await expectFail(t, h, { url: server.url(path) }, [121521, 'file size exceeds 2MB', 'D'])
  }
})

// ---------------------------------------------------------------------------------------------
// 121520 request time out

test('121520: a server that stalls mid-body fails with "request time out" once timeout elapses', async (t) => {
  const server = closeAfter(t, await startStallServer({ contentLength: 100_000, sendBytes: 5000 }))
  const h = await makeHost(t)
  const run = await expectFail(t, h, { url: server.url('/stall'), timeout: 300 }, [121520, 'request time out', 'D'])
  t.true(run.completedAt! - run.startedAt >= 290, 'not before the timeout')
})

// ---------------------------------------------------------------------------------------------
// 121528 certificate error

test('121528: an untrusted, self-signed, expired, not-yet-valid or wrong-name certificate fails with "certificate error", over HTTP/2 too', async (t) => {
  const cases: [BadCert, ContentMode][] = [
    ['untrustedIssuer', 'https'],
    ['selfSigned', 'https'],
    ['expired', 'https'],
    ['notYetValid', 'https'],
    ['wrongHost', 'https'],
    ['expired', 'h2-only'],
  ]
  for (const [kind, mode] of cases) {
    const server = closeAfter(t, await startBadCertServer(kind, mode))
    const h = await makeHost(t)
    const run = await expectFail(t, h, { url: server.url('/bytes/10') }, [121528, 'certificate error', 'D'])
    t.is(server.requests.length, 0, `${kind} over ${mode}: the server never saw a request`)
    t.false(
      run.events.some((e) => e.type === 'headers' || e.type === 'progress'),
      `${kind} over ${mode}: nothing before fail`,
    )
  }
})

// ---------------------------------------------------------------------------------------------
// 121522 download file abort

const ABORT: Row = [121522, 'download file abort', 'U']

test('121522: abort() on a running download fails with "download file abort"', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t)
  await expectFail(t, h, { url: server.url('/slow/100000?chunks=10&delayMs=200') }, ABORT, {
    hooks: { onHeaders: (run) => run.task.abort() },
  })
})

test('121522: aborting download()\'s signal rejects with "download file abort"', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const { host, dataDir } = await makeHost(t)
  await writeFile(host.realPath(KEEP), PRECIOUS)
  const controller = new AbortController()
  const pending = host.download({
    url: server.url('/slow/100000?chunks=10&delayMs=200'),
    filePath: KEEP,
    signal: controller.signal,
    onHeaders: () => controller.abort(),
  })
  const error = await t.throwsAsync(pending, { instanceOf: DownloadError })
  assertFail(t, failFields(error), ...ABORT)
  t.is(await readFile(host.realPath(KEEP), 'utf8'), PRECIOUS)
  await assertNoLeftovers(t, dataDir, KEPT)
})

test('121522: host.close() fails running downloads with "download file abort"', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t)
  await expectFail(t, h, { url: server.url('/slow/100000?chunks=10&delayMs=200') }, ABORT, {
    hooks: { onHeaders: () => void h.host.close() },
  })
})

test('121522: downloadFile after host.close() fails with "download file abort"', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t)
  await h.host.close()
  await expectFail(t, h, { url: server.url('/bytes/10') }, ABORT)
  t.is(server.requests.length, 0)
})

// ---------------------------------------------------------------------------------------------
// 121585 network unavailable / 121523 network changed / 121594 app in background

test('121585: setNetworkAvailable(false) fails running and new downloads with "network unavailable"', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t)
  const row: Row = [121585, 'network unavailable', 'U']
  await expectFail(t, h, { url: server.url('/slow/100000?chunks=10&delayMs=200') }, row, {
    hooks: { onHeaders: () => h.host.setNetworkAvailable(false) },
  })
  const before = server.requests.length
  await expectFail(t, h, { url: server.url('/bytes/10') }, row)
  t.is(server.requests.length, before, 'no request while the network is unavailable')
})

test('121523: notifyNetworkChange() fails a running download with "network changed"', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const h = await makeHost(t)
  await expectFail(t, h, { url: server.url('/slow/100000?chunks=10&delayMs=200') }, [121523, 'network changed', 'U'], {
    hooks: { onHeaders: () => h.host.notifyNetworkChange() },
  })
})

test('121594: setBackground(true) fails running and new downloads with "app in background" after backgroundGraceMs', async (t) => {
  const server = closeAfter(t, await startContentServer())
  const graceMs = 200
  const h = await makeHost(t, { backgroundGraceMs: graceMs })
  const row: Row = [121594, 'app in background', 'U']
  let wentBackground = 0
  const run = await expectFail(t, h, { url: server.url('/slow/100000?chunks=20&delayMs=150') }, row, {
    hooks: {
      onHeaders: () => {
        wentBackground = Date.now()
        h.host.setBackground(true)
      },
    },
  })
  const waited = run.completedAt! - wentBackground
  t.true(waited >= graceMs - 10, `failed ${waited} ms after setBackground(true), grace ${graceMs} ms`)
  const before = server.requests.length
  await expectFail(t, h, { url: server.url('/bytes/10') }, row)
  t.is(server.requests.length, before, 'no request while in the background')
})

// ---------------------------------------------------------------------------------------------
// 121524 dns error / 121525 ssl error / 121526 connection error / 121527 interrupted

test('121524: a name that does not resolve fails with "dns error"', async (t) => {
  const h = await makeHost(t)
  for (const url of ['http://no-such-host.invalid/file.bin', 'https://no-such-host.invalid/file.bin']) {
    await expectFail(t, h, { url }, [121524, 'dns error', 'U'])
  }
})

test('121525: plain text on a TLS port fails with "ssl error"', async (t) => {
  const server = closeAfter(t, await startPlainTextOnTlsServer())
  const h = await makeHost(t)
  const run = await expectFail(t, h, { url: server.url('/file.bin') }, [121525, 'ssl error', 'U'])
  t.false(run.events.some((e) => e.type === 'headers'))
  t.is(server.connections, 1)
})

test('121525: a connection closed during the TLS handshake fails with "ssl error"', async (t) => {
  const reset = await startResetBeforeResponseServer({ scheme: 'https', hostname: TEST_HOST, waitForRequest: false })
  const server = closeAfter(t, reset)
  const h = await makeHost(t)
  await expectFail(t, h, { url: server.url('/file.bin') }, [121525, 'ssl error', 'U'])
})

test('121526: a refused connection, or one reset or closed before any response byte, fails with "connection error"', async (t) => {
  const h = await makeHost(t)
  const row: Row = [121526, 'connection error', 'U']
  const port = await refusedPort()
  const refused = await expectFail(t, h, { url: `http://127.0.0.1:${port}/file.bin` }, row)
  t.false(
    refused.events.some((e) => e.type === 'headers' || e.type === 'progress'),
    'a refused connection calls nothing before fail',
  )
  for (const start of [startResetBeforeResponseServer, startCloseBeforeResponseServer]) {
    const server = closeAfter(t, await start())
    const run = await expectFail(t, h, { url: server.url('/file.bin') }, row)
    t.true(server.requests.length >= 1, 'the request was sent')
    t.false(run.events.some((e) => e.type === 'headers'))
  }
})

test('121527: a body cut short by a reset or by an early clean close fails with "interrupted", into filePath or ttfile://temp', async (t) => {
  const h = await makeHost(t)
  const row: Row = [121527, 'interrupted', 'U']
  const servers = [
    await startResetMidBodyServer({ contentLength: 100_000, sendBytes: 20_000 }),
    await startShortBodyServer({ contentLength: 100_000, sendBytes: 20_000 }),
  ]
  for (const server of servers) {
    closeAfter(t, server)
    const run = await expectFail(t, h, { url: server.url('/file.bin') }, row)
    t.is(run.events.filter((e) => e.type === 'headers').length, 1, 'the head arrived first')
    t.false(
      run.events.some((e) => e.type === 'progress' && e.progress === 100),
      'progress never reached 100',
    )
    // Without filePath the bytes went to a temp file, which must not survive either.
    const temp = record(h.host, { url: server.url('/file.bin') })
    await temp.done
    assertFailedRun(t, temp, ...row)
    await assertNoLeftovers(t, h.dataDir, KEPT)
  }
})

// ---------------------------------------------------------------------------------------------
// 121591 network error: <cause>

test('121591: garbage instead of an HTTP response fails with "network error: <cause>"', async (t) => {
  const server = closeAfter(t, await startGarbageServer())
  const h = await makeHost(t)
  const run = await expectFail(t, h, { url: server.url('/file.bin') }, [121591, /^network error: \S.*$/s, 'F'])
  t.false(run.events.some((e) => e.type === 'headers'))
})

// ---------------------------------------------------------------------------------------------
// 121507 <cause>: local I/O failure

test('121507: a write refused by the file-size limit (EFBIG) fails with the cause and leaves nothing', async (t) => {
  t.timeout(60_000)
  const server = closeAfter(t, await startContentServer())
  const dir = await makeTmpDir()
  t.teardown(() => dir.cleanup())
  const keepPath = join(dir.dir, 'user', 'keep.bin')
  await mkdir(join(dir.dir, 'user'), { recursive: true })
  await writeFile(keepPath, PRECIOUS)
  const limitKiB = 1024
  const child = await runHostChild(
    t,
    {
      config: { dataDir: dir.dir },
      downloads: [{ url: server.url(`/bytes/${4 * 1024 * 1024}`), filePath: KEEP }, { url: server.url(`/chunked/${4 * 1024 * 1024}`) }],
    },
    { fileSizeLimitKiB: limitKiB },
  )
  t.is(child.code, 0, describeChild(child))
  t.is(child.results?.length, 2, describeChild(child))
  for (const result of child.results ?? []) {
    t.is(result.success, undefined)
    assertFail(t, result.fail, 121507, /File too large \(os error 27\)/, 'F')
    // The engine names the file's role, never its path: no host directory reaches the app.
    t.false(result.fail?.errMsg.includes(dir.dir), result.fail?.errMsg)
  }
  t.is(await readFile(keepPath, 'utf8'), PRECIOUS, 'existing file untouched')
  await assertNoLeftovers(t, dir.dir, KEPT)
})

// ---------------------------------------------------------------------------------------------
// 121592 <cause>: internal failure of the engine

const PANIC_ADDON = join(ROOT, 'target', 'test-panic', 'tt-download.node')

/** Newest modification time of the Rust sources and manifests the addon is built from. */
function newestSource(): number {
  let newest = 0
  const visit = (path: string): void => {
    const stat = statSync(path)
    if (stat.isDirectory()) {
      for (const name of readdirSync(path)) visit(join(path, name))
    } else if (/\.(rs|toml|lock)$/.test(path)) {
      newest = Math.max(newest, stat.mtimeMs)
    }
  }
  for (const path of [
    'Cargo.toml',
    'Cargo.lock',
    'crates/engine/Cargo.toml',
    'crates/engine/src',
    'crates/node/Cargo.toml',
    'crates/node/src',
  ]) {
    const abs = join(ROOT, path)
    if (existsSync(abs)) visit(abs)
  }
  return newest
}

test('121592: a panic inside the engine fails that download with the cause, and the process survives', async (t) => {
  t.timeout(60_000)
  // `npm run test:js` builds it first (`npm run build:test-panic`); a bare `npx ava` uses what
  // is there.
  if (!existsSync(PANIC_ADDON)) {
    t.fail(`${PANIC_ADDON} is missing: run npm run build:test-panic (npm run test:js does)`)
    return
  }
  if (statSync(PANIC_ADDON).mtimeMs < newestSource()) {
    t.log('the test-panic addon is older than the Rust sources: npm run build:test-panic refreshes it')
  }
  const server = closeAfter(t, await startContentServer())
  const dir = await makeTmpDir()
  t.teardown(() => dir.cleanup())
  await mkdir(join(dir.dir, 'user'), { recursive: true })
  await writeFile(join(dir.dir, 'user', 'keep.bin'), PRECIOUS)
  const child = await runHostChild(
    t,
    {
      config: { dataDir: dir.dir },
      downloads: [
        { url: server.url('/__engine_panic__/bytes/1000'), filePath: KEEP },
        { url: server.url('/bytes/1000'), filePath: 'ttfile://user/after.bin' },
      ],
    },
    { env: { NAPI_RS_NATIVE_LIBRARY_PATH: PANIC_ADDON } },
  )
  // The panic hook prints to the child's stderr; that is expected and not checked.
  t.is(child.code, 0, describeChild(child))
  const [panicked, after] = child.results ?? []
  t.is(panicked?.success, undefined, describeChild(child))
  assertFail(t, panicked?.fail, 121592, /^engine panic: test-panic: panic requested by the URL$/, 'F')
  t.is(server.requestsTo('/__engine_panic__').length, 0)
  t.is(after?.fail, undefined, describeChild(child))
  t.is(after?.success?.dataLength, 1000, 'the next download on the same host succeeds')
  t.is(await readFile(join(dir.dir, 'user', 'keep.bin'), 'utf8'), PRECIOUS, 'existing file untouched')
  await assertNoLeftovers(t, dir.dir, [...KEPT, 'user/after.bin'])
})
