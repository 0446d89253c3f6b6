// The part held-listener.ts and blackhole.ts share: a worker thread listens with a backlog of 1
// and blocks its own event loop (Atomics.wait on `workerData.flag`), so nothing is accepted; the
// main thread fills the kernel's accept queue until a probe connect gets no answer. A worker, not
// the main thread, because only a blocked event loop keeps a listener from accepting.
import type { Socket } from 'node:net'
import { Worker } from 'node:worker_threads'
import { fillAcceptQueue } from './listen.js'

export interface StalledListener {
  readonly port: number
  /** Ends the worker's wait: from then on it accepts (or, as its source says, closes). */
  release(): void
  /** Releases the worker, closes the queued connections and waits for the worker to exit. */
  close(): Promise<void>
}

/** How long close() lets the worker end on its own before terminating it. */
const EXIT_GRACE_MS = 2000

/**
 * Runs `source` (CommonJS, evaluated) in a worker with `workerData` plus `flag`; the worker
 * posts `{ port }` once it listens, or `{ error }`, and may handle a 'close' message. Rejects
 * with the worker's error, `EADDRINUSE` included, after cleaning up.
 */
export async function startStalledListener(source: string, host: string, workerData: Record<string, unknown>): Promise<StalledListener> {
  const flag = new Int32Array(new SharedArrayBuffer(4))
  const worker = new Worker(source, { eval: true, execArgv: [], workerData: { ...workerData, flag: flag.buffer } })
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
  const fillers: Socket[] = []
  let closed = false
  const release = (): void => {
    Atomics.store(flag, 0, 1)
    Atomics.notify(flag, 0)
  }
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    release()
    for (const socket of fillers) socket.destroy()
    worker.postMessage('close')
    const timer = setTimeout(() => void worker.terminate(), EXIT_GRACE_MS)
    await exited
    clearTimeout(timer)
  }

  try {
    const port = await new Promise<number>((resolve, reject) => {
      worker.once('error', reject)
      worker.once('message', (message: { port?: number; error?: string }) => {
        if (message.port !== undefined) resolve(message.port)
        else reject(new Error(`listener on ${host}:${String(workerData.port ?? 0)}: ${message.error}`))
      })
    })
    await fillAcceptQueue(host, port, fillers)
    return { port, release, close }
  } catch (error) {
    await close()
    throw error
  }
}
