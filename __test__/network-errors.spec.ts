// Foundation: failures from real misbehaving peers (SPEC section 7): a reset mid-body (121527)
// leaves no file, a refused connection is 121526, and bad certificates are 121528.
import test from 'ava'
import { readFile, writeFile } from 'node:fs/promises'
import { assertFailedRun, assertNoLeftovers } from './helpers/assert.js'
import { makeHost } from './helpers/hosts.js'
import { record } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'
import { refusedPort, startResetMidBodyServer } from './helpers/raw-servers.js'
import { startShortBodyServer } from './helpers/raw-servers.js'
import { startBadCertServer, type BadCert } from './helpers/tls.js'

const INTERRUPTED = [121527, 'interrupted', 'U'] as const

test('a server resetting the connection mid-body fails with 121527 and leaves no partial file', async (t) => {
  const reset = await startResetMidBodyServer({ contentLength: 100_000, sendBytes: 20_000 })
  const server = closeAfter(t, reset)
  const { host, dataDir } = await makeHost(t)
  const run = record(host, { url: server.url('/file.bin') })
  await run.done
  assertFailedRun(t, run, ...INTERRUPTED)
  const heads = run.events.filter((e) => e.type === 'headers')
  t.is(heads.length, 1, 'the head arrived before the reset')
  t.false(run.events.some((e) => e.type === 'progress' && e.progress === 100))
  await assertNoLeftovers(t, dataDir)
})

test('a reset mid-body leaves an existing file at filePath untouched', async (t) => {
  const reset = await startResetMidBodyServer({ contentLength: 100_000, sendBytes: 20_000 })
  const server = closeAfter(t, reset)
  const { host, dataDir } = await makeHost(t)
  const filePath = 'ttfile://user/keep.bin'
  await writeFile(host.realPath(filePath), 'precious')
  const run = record(host, { url: server.url('/file.bin'), filePath })
  await run.done
  assertFailedRun(t, run, ...INTERRUPTED)
  t.is(await readFile(host.realPath(filePath), 'utf8'), 'precious')
  await assertNoLeftovers(t, dataDir, ['user/keep.bin'])
})

test('a body shorter than its Content-Length, then a clean close, fails with 121527', async (t) => {
  const short = await startShortBodyServer({ contentLength: 50_000, sendBytes: 10_000 })
  const server = closeAfter(t, short)
  const { host, dataDir } = await makeHost(t)
  const run = record(host, { url: server.url('/file.bin') })
  await run.done
  assertFailedRun(t, run, ...INTERRUPTED)
  await assertNoLeftovers(t, dataDir)
})

test('a refused connection fails with 121526', async (t) => {
  const port = await refusedPort()
  const { host, dataDir } = await makeHost(t)
  const run = record(host, { url: `http://127.0.0.1:${port}/file.bin` })
  await run.done
  assertFailedRun(t, run, 121526, 'connection error', 'U')
  t.false(run.events.some((e) => e.type === 'headers' || e.type === 'progress'))
  await assertNoLeftovers(t, dataDir)
})

const badCerts: [BadCert, string][] = [
  ['expired', 'an expired certificate'],
  ['notYetValid', 'a certificate not yet valid'],
  ['wrongHost', 'a certificate for another name'],
  ['selfSigned', 'an untrusted self-signed certificate'],
  ['untrustedIssuer', 'a certificate from an untrusted CA'],
]

for (const [kind, what] of badCerts) {
  test(`${what} fails with 121528 and the server never sees a request`, async (t) => {
    const server = closeAfter(t, await startBadCertServer(kind))
    const { host, dataDir } = await makeHost(t)
    const run = record(host, { url: server.url('/bytes/1000') })
    await run.done
    assertFailedRun(t, run, 121528, 'certificate error', 'D')
    t.is(server.requests.length, 0)
    t.false(run.events.some((e) => e.type === 'headers' || e.type === 'progress'))
    await assertNoLeftovers(t, dataDir)
  })
}

test('a certificate error over HTTP/2 is 121528 too', async (t) => {
  const server = closeAfter(t, await startBadCertServer('expired', 'h2-only'))
  const { host } = await makeHost(t)
  const run = record(host, { url: server.url('/bytes/1000') })
  await run.done
  assertFailedRun(t, run, 121528, 'certificate error', 'D')
})
