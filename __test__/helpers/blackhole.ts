// A loopback address:port that swallows SYNs: the honest stand-in, on one machine, for an
// address whose route is broken (the Happy Eyeballs case of SPEC 11). A listening socket whose
// accept queue is full makes Linux drop every further SYN (no SYN-ACK, no RST), so a client's
// connect stays in SYN-SENT and retransmits, exactly as towards a blackholed route.
//
// As in held-listener.ts, stalled-listener.ts keeps a worker's listener from accepting and fills
// its queue. Unlike the held listener it never serves:
// on close (or after MAX_HOLD_MS, whichever comes first) it closes everything it had queued.
// Tests use /proc/net/tcp to see the SYN-SENT sockets a client left towards it.
import { readFile } from 'node:fs/promises'
import * as net from 'node:net'
import { startStalledListener } from './stalled-listener.js'

export interface Blackhole {
  readonly host: string
  readonly port: number
  close(): Promise<void>
}

/** The worker never holds longer than this, whatever the test does. */
const MAX_HOLD_MS = 30_000

const WORKER = `
const { workerData, parentPort } = require('node:worker_threads')
const net = require('node:net')
const flag = new Int32Array(workerData.flag)
const server = net.createServer((socket) => socket.destroy())
server.on('error', (error) => parentPort.postMessage({ error: error.code || String(error) }))
server.listen({ port: workerData.port, host: workerData.host, backlog: 1 }, () => {
  parentPort.postMessage({ port: server.address().port })
  // Nothing is accepted while this thread waits: the kernel's accept queue fills up.
  Atomics.wait(flag, 0, 0, workerData.maxHoldMs)
  server.close(() => parentPort.close())
})
`

/**
 * A blackholed `host:port` (port 0: any free one). Rejects with `EADDRINUSE` in the message when
 * that port is taken on that address, so a caller can pick another pair.
 */
export async function startBlackhole(opts: { host?: string; port?: number } = {}): Promise<Blackhole> {
  const host = opts.host ?? '127.0.0.1'
  const listener = await startStalledListener(WORKER, host, { host, port: opts.port ?? 0, maxHoldMs: MAX_HOLD_MS })
  return { host, port: listener.port, close: listener.close }
}

// ---------------------------------------------------------------------------------------------
// /proc/net/tcp

/** TCP states of /proc/net/tcp (include/net/tcp_states.h). */
export const TCP_SYN_SENT = '02'

/** The 16 bytes of an IPv6 address (no zone id), or of `::ffff:a.b.c.d` for an IPv4 one. */
function bytesOf(ip: string): number[] {
  if (net.isIPv4(ip)) return [...Array(10).fill(0), 0xff, 0xff, ...ip.split('.').map(Number)]
  if (!net.isIPv6(ip)) throw new TypeError(`not an IP address: ${ip}`)
  let text = ip
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4 !== null) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number]
    text = text.slice(0, -v4[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)))
  const left = groups(head)
  const right = tail === undefined ? [] : groups(tail)
  const all = [...left, ...Array(8 - left.length - right.length).fill(0), ...right]
  return all.flatMap((g) => [g >> 8, g & 0xff])
}

const hex = (bytes: number[]) =>
  bytes
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase()
const portHex = (port: number) => port.toString(16).padStart(4, '0').toUpperCase()

/**
 * How /proc/net/tcp{,6} print a remote `ip:port`: the address as 32-bit words in host
 * (little-endian) byte order. IPv4 addresses appear in /proc/net/tcp, and in /proc/net/tcp6 as
 * `::ffff:a.b.c.d` when a dual-stack socket dialled them.
 */
function procAddresses(ip: string, port: number): string[] {
  const bytes = bytesOf(ip)
  const words: number[] = []
  for (let i = 0; i < 16; i += 4) words.push(...bytes.slice(i, i + 4).reverse())
  const out = [`${hex(words)}:${portHex(port)}`]
  if (net.isIPv4(ip)) out.push(`${hex(bytes.slice(12).reverse())}:${portHex(port)}`)
  return out
}

/**
 * Local sockets in `state` (two hex digits, e.g. TCP_SYN_SENT) whose remote end is `ip:port`,
 * from /proc/net/tcp and /proc/net/tcp6. Every socket of the machine is listed there, not only
 * this process's: use an address:port only this test talks to.
 */
export async function socketsTo(ip: string, port: number, state: string): Promise<number> {
  const wanted = new Set(procAddresses(ip, port))
  let count = 0
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields.length < 4) continue
      if (wanted.has(fields[2]!) && fields[3] === state) count++
    }
  }
  return count
}
