// A server that is too busy to accept: the honest way, from userland, to delay a client's TCP
// connect on loopback. The kernel completes a TCP handshake before accept() is ever called, so a
// server that merely waits before accept() delays nothing; what does delay the connect is a
// listening socket whose accept queue is full. Linux then drops the client's SYN (no SYN-ACK),
// and the client's kernel retransmits it after its initial RTO (1 s), by which time the server
// has drained its queue and the retransmitted SYN is answered.
//
// Setup (stalled-listener.ts): a worker's listener that does not accept, its accept queue filled
// until a probe connect gets no answer. `release()`
// unblocks the worker, which accepts everything queued and from then on answers any request
// with 200 and a fixed body (keep-alive).
//
// (tc/netem would be the other honest tool, a delayed SYN-ACK on a veth; netem is not available
// in every kernel, this one included, and needs root. This needs neither.)
import { originOf } from './server.js'
import { startStalledListener } from './stalled-listener.js'

export interface HeldListener {
  readonly port: number
  readonly origin: string
  url(path: string): string
  /** Lets the server accept again. */
  release(): void
  close(): Promise<void>
}

/** The worker is never held longer than this, whatever the test does. */
const MAX_HOLD_MS = 10_000

const WORKER = `
const { workerData, parentPort } = require('node:worker_threads')
const net = require('node:net')
const flag = new Int32Array(workerData.flag)
const body = Buffer.alloc(workerData.bodyBytes, 0x61)
const sockets = new Set()
const server = net.createServer((socket) => {
  sockets.add(socket)
  socket.on('close', () => sockets.delete(socket))
  socket.on('error', () => {})
  let buffered = ''
  socket.on('data', (chunk) => {
    buffered += chunk.toString('latin1')
    let end
    let guard = 0
    while ((end = buffered.indexOf('\\r\\n\\r\\n')) !== -1 && guard++ < 100) {
      buffered = buffered.slice(end + 4)
      socket.write('HTTP/1.1 200 OK\\r\\nContent-Type: application/octet-stream\\r\\n' +
        'Content-Length: ' + body.length + '\\r\\n\\r\\n')
      socket.write(body)
    }
  })
})
parentPort.on('message', (message) => {
  if (message !== 'close') return
  for (const socket of sockets) socket.destroy()
  server.close(() => parentPort.close())
})
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  parentPort.postMessage({ port: server.address().port })
  // Nothing is accepted while this thread waits: the kernel's accept queue fills up.
  Atomics.wait(flag, 0, 0, workerData.maxHoldMs)
})
`

/**
 * A plain HTTP/1.1 server at http://<hostname>:<port> whose accept queue is full until
 * `release()`; every request is answered with `bodyBytes` bytes.
 */
export async function startHeldListener(opts: { hostname?: string; bodyBytes?: number } = {}): Promise<HeldListener> {
  const hostname = opts.hostname ?? '127.0.0.1'
  const listener = await startStalledListener(WORKER, '127.0.0.1', { bodyBytes: opts.bodyBytes ?? 1024, maxHoldMs: MAX_HOLD_MS })
  return { port: listener.port, ...originOf('http', hostname, listener.port), release: listener.release, close: listener.close }
}
