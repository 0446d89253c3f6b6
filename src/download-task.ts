// One download's life as its caller sees it: the `DownloadTask` object, its listeners, and
// the order of everything delivered to user code (SPEC 4): headers once, then progress,
// then `success` or `fail`, then `complete`. Nothing here is ever called from inside a call
// into the library: failures decided synchronously are delivered in a microtask, and engine
// events and outcomes arrive on their own turns of the event loop. The diagnostics messages
// of SPEC 12 are published at the same points: the head's as the head is delivered, the
// outcome's right before the app's `success` or `fail`.
import type { CallbackSource, ErrorReporter } from './config.js'
import { publishFail, publishHeaders, publishSuccess } from './diagnostics.js'
import type { DownloadTrace } from './diagnostics.js'
import type { DownloadFail } from './errors.js'
import type { DownloadCallbacks, DownloadSuccess, DownloadTask, HeadersListener, ProgressListener, ProgressUpdate } from './types.js'

/** The final response's status and headers (names lower-case, repeats joined). */
export interface FinalHead {
  statusCode: number
  header: Record<string, string>
}

/** Driven by the host: it queues, starts and ends the run; the run talks to user code. */
export class TaskRun {
  readonly task: DownloadTask
  /** Set by the host while the run can still be aborted (queued or running). */
  onAbort: (() => void) | undefined
  /** Set by the host while the run is in the engine: a first listener was added. */
  onListen: (() => void) | undefined

  readonly #callbacks: DownloadCallbacks<DownloadSuccess>
  readonly #report: ErrorReporter
  /** Absent for an inert run, which publishes nothing. */
  readonly #trace: DownloadTrace | undefined
  #ended: boolean
  #progressListeners: ProgressListener[] = []
  #headersListeners: HeadersListener[] = []
  #headersDelivered = false
  #written = 0
  #expected = -1

  /**
   * Without a trace the run is inert (`downloadFile(nonObject)`, SPEC 10 and 12): born ended,
   * it calls and publishes nothing, ever.
   */
  constructor(callbacks: DownloadCallbacks<DownloadSuccess>, report: ErrorReporter, trace: DownloadTrace | undefined) {
    this.#callbacks = callbacks
    this.#report = report
    this.#trace = trace
    this.#ended = trace === undefined
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

  /** The final response's head from the engine; ignored once the run has ended. */
  handleHeaders(statusCode: number, header: Record<string, string>): void {
    if (!this.#ended) this.#deliverHeaders(statusCode, header)
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
    if (!this.#headersDelivered) this.#deliverHeaders(result.statusCode, result.header)
    // SPEC 10: every success ends with progress 100, an empty body included; with an
    // unknown length the final event reports the stored size as the expected one.
    const written = Math.max(this.#written, result.dataLength)
    const expected = this.#expected >= 0 ? this.#expected : written
    this.#emitProgress({ progress: 100, totalBytesWritten: written, totalBytesExpectedToWrite: expected })
    if (this.#trace !== undefined) publishSuccess(this.#trace, result)
    this.#call(this.#callbacks.success, result, 'success')
    this.#call(this.#callbacks.complete, result, 'complete')
  }

  /**
   * The engine's outcome was a failure. `head`: the final head, if one arrived; `refused`:
   * the addresses the egress policy refused, for the diagnostics message only.
   */
  failNow(fail: DownloadFail, head?: FinalHead, refused?: readonly string[]): void {
    if (this.#ended) return
    this.#ended = true
    this.onAbort = undefined
    this.onListen = undefined
    // SPEC 10: the head can precede a 121521/121530 fail, so a head that arrived is shown.
    if (head !== undefined && !this.#headersDelivered) this.#deliverHeaders(head.statusCode, head.header)
    this.#deliverFail(fail, refused)
  }

  addProgressListener(listener: unknown): void {
    if (typeof listener !== 'function') return
    this.#progressListeners.push(listener as ProgressListener)
    if (this.#progressListeners.length === 1) this.onListen?.()
  }

  removeProgressListener(listener: unknown): void {
    this.#progressListeners = listener === undefined ? [] : this.#progressListeners.filter((existing) => existing !== listener)
  }

  addHeadersListener(listener: unknown): void {
    if (typeof listener !== 'function') return
    this.#headersListeners.push(listener as HeadersListener)
    if (this.#headersListeners.length === 1) this.onListen?.()
  }

  removeHeadersListener(listener: unknown): void {
    this.#headersListeners = listener === undefined ? [] : this.#headersListeners.filter((existing) => existing !== listener)
  }

  /**
   * The one place a head is delivered, whichever way it came (its own message while someone
   * listens, else with the outcome), so the diagnostics message goes out even when the app
   * has no listener, and exactly once.
   */
  #deliverHeaders(statusCode: number, header: Record<string, string>): void {
    if (this.#headersDelivered) return
    this.#headersDelivered = true
    if (this.#trace !== undefined) publishHeaders(this.#trace, statusCode)
    for (const listener of [...this.#headersListeners]) this.#call(listener, { header }, 'headers')
  }

  #deliverProgress(written: number, expected: number): void {
    // totalBytesWritten never decreases, whatever order or values arrive in.
    this.#written = Math.max(this.#written, written)
    this.#expected = expected >= 0 ? expected : -1
    const progress = this.#expected > 0 ? Math.min(100, Math.floor((100 * this.#written) / this.#expected)) : 0
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

  #deliverFail(fail: DownloadFail, refused?: readonly string[]): void {
    if (this.#trace !== undefined) publishFail(this.#trace, fail, refused)
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
