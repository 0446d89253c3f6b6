// One download's life as its caller sees it: the `DownloadTask` object, its listeners, and
// the order of everything delivered to user code (SPEC 4): headers once, then progress,
// then `success` or `fail`, then `complete`. Nothing here is ever called from inside a call
// into the library: failures decided synchronously are delivered in a microtask, and engine
// events and outcomes arrive on their own turns of the event loop.
import type { CallbackSource, ErrorReporter } from './config.js'
import type { DownloadFail } from './errors.js'
import type {
  DownloadCallbacks,
  DownloadSuccess,
  DownloadTask,
  HeadersListener,
  ProgressListener,
  ProgressUpdate,
} from './types.js'

/** Driven by the host: it queues, starts and ends the run; the run talks to user code. */
export class TaskRun {
  readonly task: DownloadTask
  /** Set by the host while the run can still be aborted (queued or running). */
  onAbort: (() => void) | undefined
  /** Set by the host while the run is in the engine: a first listener was added. */
  onListen: (() => void) | undefined

  readonly #callbacks: DownloadCallbacks<DownloadSuccess>
  readonly #report: ErrorReporter
  #ended: boolean
  #progressListeners: ProgressListener[] = []
  #headersListeners: HeadersListener[] = []
  #headersDelivered = false
  #written = 0
  #expected = -1

  /** An inert run (`downloadFile(nonObject)`) is born ended: it calls nothing, ever. */
  constructor(callbacks: DownloadCallbacks<DownloadSuccess>, report: ErrorReporter, inert = false) {
    this.#callbacks = callbacks
    this.#report = report
    this.#ended = inert
    this.task = new Task(this)
  }

  get ended(): boolean {
    return this.#ended
  }

  abort(): void {
    if (this.#ended) return
    this.onAbort?.()
  }

  /** Ends the run now and delivers `fail` + `complete` in a microtask. */
  failSoon(fail: DownloadFail): void {
    if (this.#ended) return
    this.#ended = true
    this.onAbort = undefined
    this.onListen = undefined
    queueMicrotask(() => this.#deliverFail(fail))
  }

  /** Headers of the final response from the engine; ignored once the run has ended. */
  handleHeaders(header: Record<string, string>): void {
    if (!this.#ended) this.#deliverHeaders(header)
  }

  /** A progress report from the engine (`expected` -1: unknown); ignored once ended. */
  handleProgress(written: number, expected: number): void {
    if (!this.#ended) this.#deliverProgress(written, expected)
  }

  /** Whether anyone listens to headers or progress (the engine sends them only then). */
  get wantsHeaders(): boolean {
    return this.#headersListeners.length > 0
  }

  get wantsProgress(): boolean {
    return this.#progressListeners.length > 0
  }

  /**
   * The engine's outcome was a stored file. Headers not delivered yet (nobody listened when
   * they arrived) are delivered from the result first.
   */
  succeed(result: DownloadSuccess): void {
    if (this.#ended) return
    this.#ended = true
    this.onAbort = undefined
    this.onListen = undefined
    if (!this.#headersDelivered) this.#deliverHeaders(result.header)
    // SPEC 10: every success ends with progress 100, an empty body included; with an
    // unknown length the final event reports the stored size as the expected one.
    const written = Math.max(this.#written, result.dataLength)
    const expected = this.#expected >= 0 ? this.#expected : written
    this.#emitProgress({ progress: 100, totalBytesWritten: written, totalBytesExpectedToWrite: expected })
    this.#call(this.#callbacks.success, result, 'success')
    this.#call(this.#callbacks.complete, result, 'complete')
  }

  /** The engine's outcome was a failure; `header` is the final head if one arrived. */
  failNow(fail: DownloadFail, header?: Record<string, string>): void {
    if (this.#ended) return
    this.#ended = true
    this.onAbort = undefined
    this.onListen = undefined
    // SPEC 10: the head can precede a 121521/121530 fail, so a head that arrived is shown.
    if (header !== undefined && !this.#headersDelivered) this.#deliverHeaders(header)
    this.#deliverFail(fail)
  }

  addProgressListener(listener: unknown): void {
    if (typeof listener !== 'function') return
    this.#progressListeners.push(listener as ProgressListener)
    if (this.#progressListeners.length === 1) this.onListen?.()
  }

  removeProgressListener(listener: unknown): void {
    this.#progressListeners =
      listener === undefined ? [] : this.#progressListeners.filter((existing) => existing !== listener)
  }

  addHeadersListener(listener: unknown): void {
    if (typeof listener !== 'function') return
    this.#headersListeners.push(listener as HeadersListener)
    if (this.#headersListeners.length === 1) this.onListen?.()
  }

  removeHeadersListener(listener: unknown): void {
    this.#headersListeners =
      listener === undefined ? [] : this.#headersListeners.filter((existing) => existing !== listener)
  }

  #deliverHeaders(header: Record<string, string>): void {
    if (this.#headersDelivered) return
    this.#headersDelivered = true
    for (const listener of [...this.#headersListeners]) this.#call(listener, { header }, 'headers')
  }

  #deliverProgress(written: number, expected: number): void {
    // totalBytesWritten never decreases, whatever order or values arrive in.
    this.#written = Math.max(this.#written, written)
    this.#expected = expected >= 0 ? expected : -1
    const progress =
      this.#expected > 0 ? Math.min(100, Math.floor((100 * this.#written) / this.#expected)) : 0
    this.#emitProgress({
      progress,
      totalBytesWritten: this.#written,
      totalBytesExpectedToWrite: this.#expected,
    })
  }

  #emitProgress(update: ProgressUpdate): void {
    // Each listener gets its own object, so one listener mutating it cannot mislead another.
    for (const listener of [...this.#progressListeners]) this.#call(listener, { ...update }, 'progress')
  }

  #deliverFail(fail: DownloadFail): void {
    this.#call(this.#callbacks.fail, fail, 'fail')
    this.#call(this.#callbacks.complete, fail, 'complete')
  }

  #call<T>(fn: ((arg: T) => void) | undefined, arg: T, source: CallbackSource): void {
    if (typeof fn !== 'function') return
    try {
      fn(arg)
    } catch (error) {
      try {
        this.#report(error, { source })
      } catch {
        // SPEC 2: an exception thrown by onError itself is swallowed.
      }
    }
  }
}

/** The object user code holds: exactly the five methods of SPEC 4, state kept private. */
class Task implements DownloadTask {
  readonly #run: TaskRun

  constructor(run: TaskRun) {
    this.#run = run
  }

  abort(): void {
    this.#run.abort()
  }

  onProgressUpdate(listener: ProgressListener): void {
    this.#run.addProgressListener(listener)
  }

  offProgressUpdate(listener?: ProgressListener): void {
    this.#run.removeProgressListener(listener)
  }

  onHeadersReceived(listener: HeadersListener): void {
    this.#run.addHeadersListener(listener)
  }

  offHeadersReceived(listener?: HeadersListener): void {
    this.#run.removeHeadersListener(listener)
  }
}
