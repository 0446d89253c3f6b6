// Foundation: a download over each transport lands on disk byte for byte, with the result shape
// of SPEC section 3 and a profile (section 5) that tells the truth about the connection.
// Connection reuse and enableProfile: false are pinned in profile.spec.ts.
import test from 'ava'
import { readFile, writeFile } from 'node:fs/promises'
import { expectedSha256, patternBytes, sha256, sha256File } from './helpers/bytes.js'
import { startContentServer, type ContentMode } from './helpers/content-server.js'
import { sandboxFiles } from './helpers/fs.js'
import { assertNoLeftovers, assertProfile } from './helpers/assert.js'
import { assertFailedRun, assertSucceededRun, assertSuccessShape } from './helpers/assert.js'
import { makeHost } from './helpers/hosts.js'
import { record } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'
import { startServerFor, startTlsServer } from './helpers/tls.js'

const transports: { name: string; mode: ContentMode; protocol: 'http/1.1' | 'h2' }[] = [
  { name: 'plain HTTP/1.1', mode: 'http', protocol: 'http/1.1' },
  { name: 'HTTPS with HTTP/1.1 (ALPN offers only http/1.1)', mode: 'https', protocol: 'http/1.1' },
  { name: 'HTTPS with HTTP/2 (server also accepts HTTP/1.1)', mode: 'h2', protocol: 'h2' },
  { name: 'HTTPS with HTTP/2 only', mode: 'h2-only', protocol: 'h2' },
]

for (const { name, mode, protocol } of transports) {
  test(`downloads over ${name}: exact bytes in ttfile://temp, result shape, protocol ${protocol}`, async (t) => {
    const server = closeAfter(t, await startServerFor(mode))
    const { host } = await makeHost(t)
    const size = 300_000
    const run = record(host, { url: server.url(`/bytes/${size}`) })
    await run.done

    const res = assertSucceededRun(t, run)
    assertSuccessShape(t, res, { statusCode: 200, dataLength: size })
    t.is(res.header['content-length'], String(size))
    t.is(res.header['content-type'], 'application/octet-stream')
    t.is(await sha256File(host.realPath(res.tempFilePath!)), expectedSha256(size))
    assertProfile(t, res.profile, {
      protocol,
      tls: mode !== 'http',
      port: server.port,
      startedAt: run.startedAt,
      dataLength: size,
      noLookup: true,
      reused: false,
      redirectCount: 0,
    })
    t.is(server.requests.length, 1)
    t.is(server.requests[0]!.httpVersion, protocol === 'h2' ? '2.0' : '1.1')
  })

  test(`a body without Content-Length is stored completely over ${name}`, async (t) => {
    const server = closeAfter(t, await startServerFor(mode))
    const { host } = await makeHost(t)
    const size = 200_001
    const run = record(host, { url: server.url(`/chunked/${size}`) })
    await run.done
    const res = assertSucceededRun(t, run)
    assertSuccessShape(t, res, { statusCode: 200, dataLength: size })
    t.is(res.header['content-length'], undefined)
    t.is(await sha256File(host.realPath(res.tempFilePath!)), expectedSha256(size))
  })
}

test('a download to an IP literal needs no lookup and reports the peer address', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host } = await makeHost(t)
  t.regex(server.url('/'), /^http:\/\/127\.0\.0\.1:\d+\/$/)
  const run = record(host, { url: server.url('/bytes/10') })
  await run.done
  const res = assertSucceededRun(t, run)
  assertProfile(t, res.profile, {
    protocol: 'http/1.1',
    tls: false,
    port: server.port,
    startedAt: run.startedAt,
    dataLength: 10,
    noLookup: true,
  })
})

test('filePath in ttfile://user stores the file there and the result carries filePath, not tempFilePath', async (t) => {
  const server = closeAfter(t, await startTlsServer('https'))
  const { host, dataDir } = await makeHost(t)
  const filePath = 'ttfile://user/video.bin'
  const run = record(host, { url: server.url('/bytes/65536'), filePath })
  await run.done
  const res = assertSucceededRun(t, run)
  assertSuccessShape(t, res, { statusCode: 200, dataLength: 65536, filePath })
  t.is(await sha256File(host.realPath(filePath)), expectedSha256(65536))
  await assertNoLeftovers(t, dataDir, ['user/video.bin'])
})

test('filePath in ttfile://temp (read-only to the app), its root included, fails with 121503 and sends nothing', async (t) => {
  const server = closeAfter(t, await startTlsServer('h2'))
  const { host, dataDir } = await makeHost(t)
  for (const filePath of ['ttfile://temp/mine.dat', 'ttfile://temp', 'ttfile://temp/a/b/c.bin']) {
    const run = record(host, { url: server.url('/bytes/4096'), filePath })
    await run.done
    assertFailedRun(t, run, 121503, `file path permission denied, open '${filePath}'`, 'D')
  }
  t.is(server.requests.length, 0)
  await assertNoLeftovers(t, dataDir, [])
})

test('an existing file at filePath is replaced on success', async (t) => {
  const server = closeAfter(t, await startTlsServer('https'))
  const { host } = await makeHost(t)
  const filePath = 'ttfile://user/replace-me.bin'
  await writeFile(host.realPath(filePath), 'old content that is longer than nothing')
  const run = record(host, { url: server.url('/bytes/100?seed=7'), filePath })
  await run.done
  assertSucceededRun(t, run)
  t.deepEqual(await readFile(host.realPath(filePath)), patternBytes(100, 7))
})

test('every download without filePath gets its own ttfile://temp name', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host, dataDir } = await makeHost(t)
  const a = record(host, { url: server.url('/bytes/10') })
  const b = record(host, { url: server.url('/bytes/10') })
  await Promise.all([a.done, b.done])
  const pa = assertSucceededRun(t, a).tempFilePath!
  const pb = assertSucceededRun(t, b).tempFilePath!
  t.not(pa, pb)
  t.deepEqual(await sandboxFiles(dataDir), [pa, pb].map((p) => p.replace('ttfile://', '')).sort())
  t.true(host.realPath(pa).startsWith(dataDir), 'realPath lies inside dataDir')
})

test('the temp file extension comes from Content-Disposition, then the URL path, then the Content-Type', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host } = await makeHost(t)
  const cases: [string, string][] = [
    ['/files/photo.jpg?filename=report.pdf&type=image/png', '.pdf'],
    ['/named?filename=archive.zip', '.zip'],
    ['/files/photo.jpg?type=image/png', '.jpg'],
    ['/file.png', '.png'],
    ['/typed?type=image/png', '.png'],
  ]
  for (const [path, ext] of cases) {
    const run = record(host, { url: server.url(path) })
    await run.done
    const res = assertSucceededRun(t, run)
    t.regex(res.tempFilePath!, /^ttfile:\/\/temp\/[0-9a-f]{32}\.[a-z0-9]{1,10}$/, path)
    t.true(res.tempFilePath!.endsWith(ext), `${path} -> ${res.tempFilePath} ends with ${ext}`)
  }
})

test('response headers reach the result with lower-case names, repeated ones joined with ", "', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host } = await makeHost(t)
  const url = server.url('/response-headers?X-Custom-Name=Value&X-Repeat=one&X-Repeat=two')
  const run = record(host, { url })
  await run.done
  const res = assertSucceededRun(t, run)
  assertSuccessShape(t, res, { statusCode: 200, dataLength: 'headers set'.length })
  t.is(res.header['x-custom-name'], 'Value')
  t.is(res.header['x-repeat'], 'one, two')
})

test('any HTTP status reaches success and its body is stored', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host } = await makeHost(t)
  for (const code of [404, 500]) {
    const run = record(host, { url: server.url(`/status/${code}`) })
    await run.done
    const res = assertSucceededRun(t, run)
    assertSuccessShape(t, res, { statusCode: code, dataLength: `status ${code}`.length })
    t.is(await readFile(host.realPath(res.tempFilePath!), 'utf8'), `status ${code}`)
  }
})

test('redirects are followed and only the final response is stored', async (t) => {
  const server = closeAfter(t, await startTlsServer('https'))
  const { host } = await makeHost(t)
  const run = record(host, { url: server.url('/redirect/3') })
  await run.done
  const res = assertSucceededRun(t, run)
  assertSuccessShape(t, res, { statusCode: 200, dataLength: 1024 })
  t.is(await sha256File(host.realPath(res.tempFilePath!)), expectedSha256(1024))
  t.deepEqual(
    server.requests.map((r) => r.path),
    ['/redirect/3', '/redirect/2', '/redirect/1', '/bytes/1024'],
  )
  assertProfile(t, res.profile, {
    protocol: 'http/1.1',
    tls: true,
    port: server.port,
    startedAt: run.startedAt,
    dataLength: 1024,
    redirectCount: 3,
  })
  const headers = run.events.filter((e) => e.type === 'headers')
  t.is(headers.length, 1, 'onHeadersReceived fires for the final response only')
})

test('bytes are stored as received: a gzip body is not decompressed', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host } = await makeHost(t)
  const run = record(host, { url: server.url('/gzip'), header: { 'accept-encoding': 'gzip' } })
  await run.done
  const res = assertSucceededRun(t, run)
  t.is(res.header['content-encoding'], 'gzip')
  const stored = await readFile(host.realPath(res.tempFilePath!))
  t.is(stored.length, res.dataLength)
  t.is(res.header['content-length'], String(stored.length))
  t.deepEqual([...stored.subarray(0, 2)], [0x1f, 0x8b], 'the gzip magic is on disk')
})

test('the fixed referer and android user-agent replace whatever the caller sets', async (t) => {
  const server = closeAfter(t, await startTlsServer('https'))
  const { host } = await makeHost(t, {
    appId: 'ttabc123',
    appVersion: '2.3.4',
    sdkVersion: '3.1.0',
    client: {
      platform: 'android',
      systemUserAgent: 'Mozilla/5.0 (Linux; Android 13; Pixel 7)',
      hostName: 'Douyin',
      hostVersion: '29.5.0',
      pluginVersion: '3.14.2',
    },
  })
  const run = record(host, {
    url: server.url('/headers'),
    header: { Referer: 'https://evil.example/', 'User-Agent': 'curl/8', 'X-Trace': 'abc' },
  })
  await run.done
  const res = assertSucceededRun(t, run)
  const seen = server.requests[0]!.headers
  const expectedReferer = 'https://tmaservice.developer.toutiao.com/?appid=ttabc123&version=2.3.4'
  const expectedUa = 'Mozilla/5.0 (Linux; Android 13; Pixel 7) Douyin/29.5.0 ToutiaoMicroApp/3.1.0 PluginVersion/3.14.2'
  t.is(seen.referer, expectedReferer)
  t.is(seen['user-agent'], expectedUa)
  t.is(seen['x-trace'], 'abc')
  const body = await readFile(host.realPath(res.tempFilePath!), 'utf8')
  const echoed = JSON.parse(body) as Record<string, string>
  t.is(echoed.referer, expectedReferer)
})

test('the fixed ios user-agent ends with webview/<pluginVersion>, over HTTP/2 too', async (t) => {
  const server = closeAfter(t, await startTlsServer('h2-only'))
  const { host } = await makeHost(t, {
    appId: 'ttios',
    client: {
      platform: 'ios',
      systemUserAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)',
      hostName: 'Aweme',
      hostVersion: '30.0.0',
      pluginVersion: '2.0.1',
    },
  })
  const header = { referer: 'x', 'user-agent': 'y' }
  const run = record(host, { url: server.url('/headers'), header })
  await run.done
  assertSucceededRun(t, run)
  const seen = server.requests[0]!.headers
  t.is(seen.referer, 'https://tmaservice.developer.toutiao.com/?appid=ttios&version=1.0.0')
  t.is(seen['user-agent'], 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Aweme/30.0.0 ToutiaoMicroApp/3.0.0 webview/2.0.1')
})

test('caller headers are sent with lower-cased names; numbers as String(value)', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host } = await makeHost(t)
  const header = { 'X-Token': 'secret', 'X-Count': 42 }
  const run = record(host, { url: server.url('/headers'), header })
  await run.done
  assertSucceededRun(t, run)
  const seen = server.requests[0]!.headers
  t.is(seen['x-token'], 'secret')
  t.is(seen['x-count'], '42')
  t.is(server.requests[0]!.method, 'GET')
})

test('host.tt exposes downloadFile and USER_DATA_PATH', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host } = await makeHost(t)
  t.is(host.tt.env.USER_DATA_PATH, 'ttfile://user')
  const filePath = `${host.tt.env.USER_DATA_PATH}/via-tt.bin`
  const result = await new Promise<unknown>((resolve) => {
    host.tt.downloadFile({ url: server.url('/bytes/32'), filePath, complete: resolve })
  })
  t.like(result, { errMsg: 'downloadFile:ok', statusCode: 200, filePath })
  t.is(sha256(await readFile(host.realPath(filePath))), expectedSha256(32))
})
