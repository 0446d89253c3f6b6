// Resource bounds against hostile servers (issue 9): a server that sends header lines forever,
// a huge header block, a header that never ends, a slow-loris body (one byte every 100 ms),
// over HTTP/1.1 and HTTP/2. Each is cut off with the right error and bounded memory:
//
// - HTTP/1.1 heads: both paths (the engine's own exchange, h1.rs, and hyper's) read at most 100
//   header lines and ~400 KiB of head ("message head is too large", hyper's `Parse::TooLarge`
//   words) -> 121591 `network error: <cause>`, the
//   "malformed HTTP response" row; a head that drips slower than the timeout -> 121520.
// - HTTP/2 heads: hyper's client advertises a 16 KiB header list limit and h2 refuses
//   CONTINUATION floods (GOAWAY ENHANCE_YOUR_CALM / COMPRESSION_ERROR) -> 121591 too.
// - Bodies that drip: the whole-download timeout -> 121520.
//
// Memory: the attacking servers live in this process and respect backpressure, so what they
// hold is bounded by socket buffers; the test samples this process's RSS during the attack and
// allows ATTACK_RSS_BOUND of growth (why: 8 parallel connections, each allowed hyper's ~400 KiB
// read buffer or h2's 16 KiB header list plus rustls's record buffers, is a few MiB; the rest is
// slack for V8 and the allocator. A client that buffered what the servers offer would grow by
// hundreds of MiB: each attack offers at least 64 MiB per connection).
import test from 'ava'
import type { ExecutionContext } from 'ava'
import * as net from 'node:net'
import * as tls from 'node:tls'
import type { Host } from '../src/index.js'
import { assertFailedRun, assertNoLeftovers } from './helpers/assert.js'
import { startContentServer } from './helpers/content-server.js'
import { makeHost } from './helpers/hosts.js'
import { listenLocal } from './helpers/listen.js'
import { record, type Run } from './helpers/record.js'
import { closeAfter, trackServer } from './helpers/server.js'
import { certKit, TEST_HOST } from './helpers/tls.js'

const MiB = 1024 * 1024
const ATTACK_RSS_BOUND = 64 * MiB
const PARALLEL = 8
/** What each attacking connection offers before giving up on its own. */
const OFFER = 64 * MiB

const TIMEOUT = [121520, 'request time out', 'D'] as const
const HEAD_TOO_LARGE = /^network error: .*message head is too large/
const H2_HEADERS_REFUSED = /^network error: .*http2 error: connection error detected: /

// ---------------------------------------------------------------------------------------------
// Attacking servers: plain TCP (HTTP/1.1) or TLS with ALPN h2 (raw HTTP/2 frames), writing with
// backpressure until OFFER bytes or the peer goes away. Each records when its sockets closed.

interface Attacker {
  port: number
  /** Bytes written to each connection so far, and whether the peer closed it. */
  connections: { written: number; closedAt?: number }[]
  close(): Promise<void>
}

type Feed = (write: (chunk: Buffer | string) => Promise<boolean>, ctx: { stream: number }) => Promise<void>

async function startAttacker(t: ExecutionContext, protocol: 'http1' | 'h2', feed: Feed): Promise<Attacker> {
  const connections: Attacker['connections'] = []
  const onSocket = (socket: net.Socket) => {
    const conn: { written: number; closedAt?: number } = { written: 0 }
    connections.push(conn)
    socket.on('close', () => (conn.closedAt = Date.now()))
    socket.on('error', () => {})
    const write = (chunk: Buffer | string): Promise<boolean> => {
      if (tracked.closed || socket.destroyed || conn.written >= OFFER) return Promise.resolve(false)
      conn.written += Buffer.byteLength(chunk)
      if (socket.write(chunk)) return Promise.resolve(true)
      return new Promise((resolve) => {
        const done = (ok: boolean) => {
          socket.off('drain', onDrain)
          socket.off('close', onClose)
          resolve(ok)
        }
        const onDrain = () => done(true)
        const onClose = () => done(false)
        socket.on('drain', onDrain)
        socket.on('close', onClose)
      })
    }
    let buffered = Buffer.alloc(0)
    let started = false
    socket.on('data', (chunk: Buffer) => {
      if (started) return
      buffered = Buffer.concat([buffered, chunk])
      const stream = protocol === 'http1' ? requestArrived1(buffered) : requestArrived2(buffered, write)
      if (stream === undefined) return
      started = true
      void feed(write, { stream }).catch(() => {})
    })
  }
  const kit = await certKit()
  const server =
    protocol === 'http1'
      ? net.createServer(onSocket)
      : tls.createServer({ cert: kit.leaf.cert, key: kit.leaf.key, ALPNProtocols: ['h2'] }, onSocket)
  const tracked = trackServer(server)
  server.on('tlsClientError', () => {})
  const port = await listenLocal(server)
  return closeAfter(t, { port, connections, close: tracked.close })
}

/** HTTP/1.1: a request head arrived (the stream number is unused). */
function requestArrived1(buffered: Buffer): number | undefined {
  return buffered.includes('\r\n\r\n') ? 0 : undefined
}

const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9)
  head.writeUIntBE(payload.length, 0, 3)
  head[3] = type
  head[4] = flags
  head.writeUInt32BE(stream & 0x7fffffff, 5)
  return Buffer.concat([head, payload])
}
const HEADERS = 0x1
const SETTINGS = 0x4
const CONTINUATION = 0x9
const END_HEADERS = 0x4

/**
 * HTTP/2: once the client's preface, SETTINGS and first HEADERS frame are in, sends our
 * SETTINGS and the ACK of theirs, and returns the request's stream id.
 */
function requestArrived2(buffered: Buffer, write: (chunk: Buffer) => Promise<boolean>): number | undefined {
  if (buffered.length < PREFACE.length) return undefined
  let offset = PREFACE.length
  while (offset + 9 <= buffered.length) {
    const length = buffered.readUIntBE(offset, 3)
    const type = buffered[offset + 3]
    const stream = buffered.readUInt32BE(offset + 5) & 0x7fffffff
    if (offset + 9 + length > buffered.length) return undefined
    if (type === HEADERS) {
      void write(Buffer.concat([frame(SETTINGS, 0, 0), frame(SETTINGS, 0x1, 0)]))
      return stream
    }
    offset += 9 + length
  }
  return undefined
}

/** An HPACK integer with an n-bit prefix (RFC 7541 5.1), first byte's high bits `flags`. */
function hpackInt(value: number, prefixBits: number, flags = 0): Buffer {
  const max = (1 << prefixBits) - 1
  if (value < max) return Buffer.from([flags | value])
  const out = [flags | max]
  let rest = value - max
  while (rest >= 128) {
    out.push((rest % 128) + 128)
    rest = Math.floor(rest / 128)
  }
  out.push(rest)
  return Buffer.from(out)
}

/** A literal header field without indexing, new name (RFC 7541 6.2.2), no Huffman coding. */
function hpackLiteral(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00]), hpackInt(name.length, 7), Buffer.from(name), hpackInt(value.length, 7), Buffer.from(value)])
}
/** `:status: 200`, static table index 8. */
const STATUS_200 = Buffer.from([0x88])

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
/** A long wait of an attacking server that must not keep the test process alive. */
const idle = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref())

// ---------------------------------------------------------------------------------------------
// Running an attack: PARALLEL downloads, RSS sampled throughout

interface Attack {
  runs: Run[]
  rssGrowth: number
  elapsedMs: number
}

async function attack(host: Host, url: string, timeout: number): Promise<Attack> {
  globalThis.gc?.()
  const rssBefore = process.memoryUsage().rss
  let rssMax = rssBefore
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, process.memoryUsage().rss)
  }, 20)
  const started = Date.now()
  const runs = Array.from({ length: PARALLEL }, (_, i) => record(host, { url: `${url}?n=${i}`, timeout }))
  await Promise.all(runs.map((run) => run.done))
  clearInterval(sampler)
  rssMax = Math.max(rssMax, process.memoryUsage().rss)
  return { runs, rssGrowth: rssMax - rssBefore, elapsedMs: Date.now() - started }
}

function assertBounded(t: ExecutionContext, result: Attack, attacker?: Attacker): void {
  t.true(
    result.rssGrowth < ATTACK_RSS_BOUND,
    `RSS grew ${(result.rssGrowth / MiB).toFixed(1)} MiB during the attack (bound ${ATTACK_RSS_BOUND / MiB} MiB)`,
  )
  if (attacker === undefined) return
  const offered = attacker.connections.reduce((sum, c) => sum + c.written, 0)
  t.log(
    `${attacker.connections.length} connections, ${(offered / MiB).toFixed(2)} MiB written before the cut-off, ` +
      `RSS +${(result.rssGrowth / MiB).toFixed(1)} MiB, ${result.elapsedMs} ms`,
  )
}

/** The attacker's connections are all closed within `ms` of the last fail: the client let go. */
async function assertLetGo(t: ExecutionContext, attacker: Attacker, runs: Run[], ms = 3000): Promise<void> {
  const lastFail = Math.max(...runs.map((run) => run.completedAt ?? 0))
  const deadline = Date.now() + ms
  while (attacker.connections.some((c) => c.closedAt === undefined) && Date.now() < deadline) await sleep(20)
  const open = attacker.connections.filter((c) => c.closedAt === undefined).length
  t.is(open, 0, `${open} connections still open ${ms} ms after the downloads failed`)
  for (const c of attacker.connections) {
    if (c.closedAt !== undefined) t.true(c.closedAt - lastFail < ms, 'closed soon after the fail')
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 heads

test.serial(
  'HTTP/1.1: header lines forever are cut off at the head limit with 121591, long before the timeout, memory bounded',
  async (t) => {
    const line = `X-Fill: ${'a'.repeat(1000)}\r\n`
    const attacker = await startAttacker(t, 'http1', async (write) => {
      if (!(await write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n'))) return
      for (let i = 0; ; i++) if (!(await write(`${line.slice(0, 6)}${i}${line.slice(6)}`))) return
    })
    const { host, dataDir } = await makeHost(t)
    const result = await attack(host, `http://127.0.0.1:${attacker.port}/forever`, 20_000)
    for (const run of result.runs) assertFailedRun(t, run, 121591, HEAD_TOO_LARGE, 'F')
    t.true(result.elapsedMs < 10_000, `cut off after ${result.elapsedMs} ms, by the limit, not the 20 s timeout`)
    assertBounded(t, result, attacker)
    await assertLetGo(t, attacker, result.runs)
    await assertNoLeftovers(t, dataDir)
  },
)

test.serial('HTTP/1.1: a 1 MiB header block in few lines is refused with 121591, memory bounded', async (t) => {
  const attacker = await startAttacker(t, 'http1', async (write) => {
    let head = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n'
    for (let i = 0; i < 16; i++) head += `X-Big-${i}: ${'b'.repeat(64 * 1024)}\r\n`
    if (await write(head + '\r\nok')) await idle(60_000)
  })
  const { host, dataDir } = await makeHost(t)
  const result = await attack(host, `http://127.0.0.1:${attacker.port}/block`, 20_000)
  for (const run of result.runs) assertFailedRun(t, run, 121591, HEAD_TOO_LARGE, 'F')
  assertBounded(t, result, attacker)
  await assertLetGo(t, attacker, result.runs)
  await assertNoLeftovers(t, dataDir)
})

test.serial('HTTP/1.1: one header line that never ends is cut off at the head limit with 121591, memory bounded', async (t) => {
  const attacker = await startAttacker(t, 'http1', async (write) => {
    if (!(await write('HTTP/1.1 200 OK\r\nX-Endless: '))) return
    const chunk = 'c'.repeat(64 * 1024)
    for (;;) if (!(await write(chunk))) return
  })
  const { host, dataDir } = await makeHost(t)
  const result = await attack(host, `http://127.0.0.1:${attacker.port}/endless`, 20_000)
  for (const run of result.runs) assertFailedRun(t, run, 121591, HEAD_TOO_LARGE, 'F')
  t.true(result.elapsedMs < 10_000, `cut off after ${result.elapsedMs} ms`)
  assertBounded(t, result, attacker)
  await assertLetGo(t, attacker, result.runs)
  await assertNoLeftovers(t, dataDir)
})

test.serial('HTTP/1.1: header lines dripping slower than the timeout fail with 121520 at the timeout', async (t) => {
  const attacker = await startAttacker(t, 'http1', async (write) => {
    if (!(await write('HTTP/1.1 200 OK\r\n'))) return
    for (let i = 0; ; i++) {
      await sleep(100)
      if (!(await write(`X-Drip-${i}: ${i}\r\n`))) return
    }
  })
  const { host, dataDir } = await makeHost(t)
  const result = await attack(host, `http://127.0.0.1:${attacker.port}/drip`, 1000)
  for (const run of result.runs) {
    assertFailedRun(t, run, ...TIMEOUT)
    t.false(
      run.events.some((e) => e.type === 'headers'),
      'no head was ever complete',
    )
  }
  t.true(result.elapsedMs >= 950 && result.elapsedMs < 5000, `failed after ${result.elapsedMs} ms`)
  assertBounded(t, result, attacker)
  await assertLetGo(t, attacker, result.runs)
  await assertNoLeftovers(t, dataDir)
})

// ---------------------------------------------------------------------------------------------
// HTTP/2 heads (raw frames over TLS with ALPN h2)

async function h2Host(t: ExecutionContext) {
  const kit = await certKit()
  return makeHost(t, { resolve: { [TEST_HOST]: '127.0.0.1' }, tls: { ca: kit.ca.cert } })
}

test.serial('HTTP/2: CONTINUATION frames forever are refused with 121591, memory bounded', async (t) => {
  const attacker = await startAttacker(t, 'h2', async (write, { stream }) => {
    if (!(await write(frame(HEADERS, 0, stream, STATUS_200)))) return
    for (let i = 0; ; i++) {
      if (!(await write(frame(CONTINUATION, 0, stream, hpackLiteral(`x-fill-${i}`, 'f'.repeat(1000)))))) return
    }
  })
  const { host, dataDir } = await h2Host(t)
  const result = await attack(host, `https://${TEST_HOST}:${attacker.port}/continuation`, 20_000)
  for (const run of result.runs) assertFailedRun(t, run, 121591, H2_HEADERS_REFUSED, 'F')
  t.true(result.elapsedMs < 10_000, `cut off after ${result.elapsedMs} ms`)
  assertBounded(t, result, attacker)
  await assertLetGo(t, attacker, result.runs)
  await assertNoLeftovers(t, dataDir)
})

test.serial('HTTP/2: a complete 1 MiB header block is refused with 121591, memory bounded', async (t) => {
  const attacker = await startAttacker(t, 'h2', async (write, { stream }) => {
    const fields = Buffer.concat([STATUS_200, ...Array.from({ length: 16 }, (_, i) => hpackLiteral(`x-big-${i}`, 'b'.repeat(64 * 1024)))])
    // In frames of 16 KiB (the default SETTINGS_MAX_FRAME_SIZE): HEADERS, then CONTINUATIONs.
    const size = 16 * 1024
    for (let off = 0; off < fields.length; off += size) {
      const last = off + size >= fields.length
      const type = off === 0 ? HEADERS : CONTINUATION
      if (!(await write(frame(type, last ? END_HEADERS : 0, stream, fields.subarray(off, off + size))))) return
    }
    await idle(60_000)
  })
  const { host, dataDir } = await h2Host(t)
  const result = await attack(host, `https://${TEST_HOST}:${attacker.port}/block`, 20_000)
  for (const run of result.runs) assertFailedRun(t, run, 121591, H2_HEADERS_REFUSED, 'F')
  assertBounded(t, result, attacker)
  await assertLetGo(t, attacker, result.runs)
  await assertNoLeftovers(t, dataDir)
})

// ---------------------------------------------------------------------------------------------
// Slow-loris bodies: one byte every 100 ms, forever (as far as the client can tell)

for (const mode of ['http', 'h2'] as const) {
  test.serial(`a body of one byte every 100 ms fails with 121520 at the timeout over ${mode}, no partial file`, async (t) => {
    const kit = await certKit()
    const server = closeAfter(t, await startContentServer(mode === 'http' ? {} : { mode: 'h2-only', cert: kit.leaf, hostname: TEST_HOST }))
    const { host, dataDir } = await makeHost(t)
    // 10 000 bytes in 10 000 chunks, 100 ms apart: 1000 s of body.
    const result = await attack(host, server.url('/slow/10000?chunks=10000&delayMs=100&length=0'), 1500)
    for (const run of result.runs) {
      assertFailedRun(t, run, ...TIMEOUT)
      t.is(run.events.filter((e) => e.type === 'headers').length, 1, 'the head arrived')
      const written = run.events.filter((e) => e.type === 'progress').map((e) => (e as { totalBytesWritten: number }).totalBytesWritten)
      t.true(written.length > 0 && written.at(-1)! <= 20, `a few bytes arrived (${written.at(-1)})`)
    }
    t.true(result.elapsedMs >= 1450 && result.elapsedMs < 5000, `failed after ${result.elapsedMs} ms`)
    assertBounded(t, result)
    await assertNoLeftovers(t, dataDir)
  })
}

test.serial('a timeout under 1 ms still times out (it is not rounded down to "no timeout")', async (t) => {
  const attacker = await startAttacker(t, 'http1', async () => {
    await idle(60_000) // never answers
  })
  const { host, dataDir } = await makeHost(t, { networkTimeout: 30_000 })
  const run = record(host, { url: `http://127.0.0.1:${attacker.port}/tiny`, timeout: 0.5 })
  const ended = await Promise.race([run.done.then(() => true), sleep(8000).then(() => false)])
  if (!ended) run.task.abort() // no timeout at all: end it here rather than hang the suite
  await run.done
  t.true(ended, 'the download was still running 8 s later')
  assertFailedRun(t, run, ...TIMEOUT)
  t.true(run.completedAt! - run.startedAt < 5000, `failed after ${run.completedAt! - run.startedAt} ms`)
  await assertNoLeftovers(t, dataDir)
})
