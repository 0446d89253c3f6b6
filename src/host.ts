// A host: one mini-program (appId) with its sandbox, policy, queue and state (SPEC section 2).
// It turns validated plans into engine requests, runs at most `maxConcurrent` of them, and
// maps each outcome to the success or fail object its task delivers.
import { checkResolvedEgress, resolveConfig } from './config.js'
import type { HostConfig, ResolvedConfig } from './config.js'
import { publishFail, startTrace } from './diagnostics.js'
import type { DownloadTrace } from './diagnostics.js'
import { TaskRun } from './download-task.js'
import { createEngine, NativeEngine } from './engine.js'
import type { BindingMessage } from './engine.js'
import { DownloadError, failFromEngine, failOf } from './errors.js'
import type { DownloadFail } from './errors.js'
import { headerObject } from './headers.js'
import { now } from './native.js'
import type { BindingHost, BindingRequest, ErrorKind } from './native.js'
import { planDownload, sharedEngineSettings, typeName } from './options.js'
import type { DownloadPlan } from './options.js'
import { Sandbox, USER_DATA_PATH } from './paths.js'
import { buildProfile } from './profile.js'
import type { QueueTimes } from './profile.js'
import type {
  Download,
  DownloadCallbacks,
  DownloadFile,
  DownloadFileOptions,
  DownloadOptions,
  DownloadSuccess,
  Host,
  HostStats,
  Usage,
} from './types.js'
import type { CookieJar } from './types.js'
import { cookieJarOf } from './cookies.js'

export function createHost(config: HostConfig): Host {
  return new HostImpl(resolveConfig(config))
}

/** A download that passed validation: queued, then running. */
interface Job {
  run: TaskRun
  plan: DownloadPlan
  times: QueueTimes
  /** The first host-side reason to stop it (abort, network, background, close). */
  reason: DownloadFail | undefined
  /** Its id in the engine, once started. */
  id: number | undefined
}

class HostImpl implements Host {
  readonly downloadFile: DownloadFile
  readonly download: Download
  readonly tt: Host['tt']
  readonly cookies: CookieJar

  readonly #config: ResolvedConfig
  readonly #sandbox: Sandbox
  readonly #engine: NativeEngine
  readonly #ownsEngine: boolean
  /**
   * This host in the engine, its settings converted once: the user-directory quota and the
   * temp/ budget its downloads count against, and the app's cookie jar (SPEC 6: only with
   * cookie.enableStore from sdkVersion 2.45.0).
   */
  readonly #binding: BindingHost
  readonly #queue: Job[] = []
  readonly #running = new Set<Job>()
  #closing: Promise<void> | undefined
  /** Set by `close()` while it waits for running jobs to end. */
  #allStopped: (() => void) | undefined
  /** The job `downloadFile` is enqueueing right now: if it starts at once, it never waited. */
  #invoking: Job | undefined
  #networkAvailable = true
  #backgroundTimer: NodeJS.Timeout | undefined
  #backgroundExpired = false
  /** SPEC 12 counters; queued and running are the queue and the running set themselves. */
  readonly #counts = { started: 0, succeeded: 0, failed: 0, egressRefused: 0, bytesReceived: 0 }
  readonly #failedByErrNo: Record<number, number> = {}

  constructor(config: ResolvedConfig) {
    if (config.engine !== undefined && !(config.engine instanceof NativeEngine)) {
      throw new TypeError('createHost: engine must come from createEngine()')
    }
    this.#config = config
    // A malformed policy is a bad config: refused before anything is on disk.
    checkResolvedEgress(config.egress)
    this.#sandbox = new Sandbox(config.dataDir)
    this.#sandbox.removeStaleStaging()
    const init = {
      ...sharedEngineSettings(config),
      stagingDir: this.#sandbox.stagingDir,
      stagingPrefix: this.#sandbox.stagingPrefix,
      tempDir: this.#sandbox.tempDir,
      userUsed: this.#sandbox.userUsage(),
      cookieFile: this.#sandbox.cookieFile,
    }
    this.#ownsEngine = config.engine === undefined
    this.#engine = (config.engine ?? createEngine()) as NativeEngine
    try {
      this.#binding = asTypeError(() => this.#engine.openHost(init))
    } catch (error) {
      // Settings the engine refuses must not cost a running engine of our own.
      if (this.#ownsEngine) void this.#engine.close()
      throw error
    }
    this.#engine.hosts.add(this)
    this.cookies = cookieJarOf(this.#binding, () => this.#closing !== undefined)

    // Bound once so `const { downloadFile } = host` and `tt.downloadFile(...)` both work.
    this.downloadFile = ((options: unknown) => this.#downloadFile(options)) as DownloadFile
    this.download = ((options: unknown) => this.#download(options)) as Download
    this.tt = Object.freeze({
      downloadFile: this.downloadFile,
      env: Object.freeze({ USER_DATA_PATH }),
    })
  }

  realPath(ttfilePath: string): string {
    return this.#sandbox.realPath(ttfilePath)
  }

  setNetworkAvailable(available: boolean): void {
    this.#networkAvailable = Boolean(available)
    if (!this.#networkAvailable) this.#stopAll(failOf('networkUnavailable'), true)
  }

  notifyNetworkChange(): void {
    // SPEC 10: queued downloads are not affected; they start later on the new network.
    this.#stopAll(failOf('networkChanged'), false)
  }

  setBackground(background: boolean): void {
    if (!background) {
      clearTimeout(this.#backgroundTimer)
      this.#backgroundTimer = undefined
      this.#backgroundExpired = false
      return
    }
    // Going to the background twice does not restart the grace period.
    if (this.#backgroundTimer !== undefined || this.#backgroundExpired || this.#closing) return
    this.#backgroundTimer = setTimeout(() => {
      this.#backgroundTimer = undefined
      this.#backgroundExpired = true
      this.#stopAll(failOf('background'), true)
    }, this.#config.backgroundGraceMs)
    // A pending grace period alone must not keep the process alive.
    this.#backgroundTimer.unref()
  }

  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  usage(): Usage {
    this.#throwIfClosed()
    return { user: this.#binding.userUsed, temp: this.#binding.tempUsed }
  }

  async refreshUsage(ttfilePath?: string): Promise<Usage> {
    this.#throwIfClosed()
    const path = ttfilePath === undefined ? undefined : this.#sandbox.realPath(ttfilePath)
    // Each budget measures under its own lock, so a download committing meanwhile counts once.
    if (path === undefined || this.#sandbox.isUnder('user', path)) this.#binding.remeasureUser(this.#sandbox.userDir)
    if (path === undefined || this.#sandbox.isUnder('temp', path)) {
      this.#binding.refreshTemp(path === undefined ? undefined : this.#sandbox.engineSpelling('temp', path))
    }
    return this.usage()
  }

  async clearTemp(): Promise<void> {
    this.#throwIfClosed()
    this.#binding.clearTemp()
  }

  stats(): HostStats {
    this.#throwIfClosed()
    return {
      started: this.#counts.started,
      queued: this.#queue.length,
      running: this.#running.size,
      succeeded: this.#counts.succeeded,
      failed: this.#counts.failed,
      failedByErrNo: { ...this.#failedByErrNo },
      egressRefused: this.#counts.egressRefused,
      tempEvicted: this.#binding.tempEvicted,
      bytesReceived: this.#counts.bytesReceived,
    }
  }

  #throwIfClosed(): void {
    if (this.#closing !== undefined) throw new DownloadError(failOf('abort'))
  }

  /** A call that ended in `fail` (counted when decided, so the totals always add up). */
  #countFail(fail: DownloadFail): void {
    this.#counts.failed++
    this.#failedByErrNo[fail.errNo] = (this.#failedByErrNo[fail.errNo] ?? 0) + 1
    if (fail.errMsg === ADDRESS_NOT_ALLOWED) this.#counts.egressRefused++
  }

  async #close(): Promise<void> {
    clearTimeout(this.#backgroundTimer)
    this.#backgroundTimer = undefined
    this.#stopAll(failOf('abort'), true)
    // Running jobs end when the engine reports them (SPEC 10: a file already stored wins).
    if (this.#running.size > 0) await new Promise<void>((resolve) => (this.#allStopped = resolve))
    this.#sandbox.removeOwnStaging()
    this.#engine.hosts.delete(this)
    if (this.#ownsEngine) await this.#engine.close()
  }

  #downloadFile(options: unknown): TaskRun['task'] {
    const invokeStart = now()
    // SPEC 10: a non-object `options` only returns a task; nothing is ever called.
    if (typeof options !== 'object' || options === null) {
      return new TaskRun({}, this.#config.onError, undefined).task
    }
    const input = options as Record<string, unknown>
    const trace = startTrace(this.#config.appId, input.url)
    const callbacks = {
      success: asFunction<(result: DownloadSuccess) => void>(input.success),
      fail: asFunction<(result: DownloadFail) => void>(input.fail),
      complete: asFunction<(result: DownloadSuccess | DownloadFail) => void>(input.complete),
    }
    return this.#enqueue(input, callbacks, invokeStart, trace)
  }

  /** `downloadFile` after its callbacks were taken from `input` (or given by `download`). */
  #enqueue(
    input: Record<string, unknown>,
    callbacks: DownloadCallbacks<DownloadSuccess>,
    invokeStart: number,
    trace: DownloadTrace,
  ): TaskRun['task'] {
    const run = new TaskRun(callbacks, this.#config.onError, trace)
    this.#counts.started++
    const failed = (fail: DownloadFail): TaskRun['task'] => {
      this.#countFail(fail)
      run.failSoon(fail)
      return run.task
    }
    if (this.#closing !== undefined || this.#engine.closed) return failed(failOf('abort'))
    let planned: ReturnType<typeof planDownload>
    try {
      planned = planDownload(input, this.#config, this.#sandbox)
    } catch (error) {
      // Untrusted code may pass getters or a Proxy that throw: a parameter error, never an
      // exception out of downloadFile.
      return failed(failOf('parameter', `reading the options threw: ${errorText(error)}`))
    }
    if (!planned.ok) return failed(planned.fail)
    const stateFail = this.#stateFail()
    if (stateFail !== undefined) return failed(stateFail)

    const queueStart = now()
    const job: Job = {
      run,
      plan: planned.plan,
      times: { invokeStart, queueStart, queueEnd: queueStart },
      reason: undefined,
      id: undefined,
    }
    run.onAbort = () => this.#stop(job, failOf('abort'))
    this.#queue.push(job)
    this.#invoking = job
    this.#pump()
    this.#invoking = undefined
    return run.task
  }

  /** Host state that refuses new downloads, in SPEC 10's order: network, then background. */
  #stateFail(): DownloadFail | undefined {
    if (!this.#networkAvailable) return failOf('networkUnavailable')
    if (this.#backgroundExpired) return failOf('background')
    return undefined
  }

  /** Stops running downloads, and with `queuedToo` the queued ones as well. */
  #stopAll(reason: DownloadFail, queuedToo: boolean): void {
    for (const job of [...this.#running]) this.#stop(job, reason)
    if (queuedToo) for (const job of [...this.#queue]) this.#stop(job, reason)
  }

  /**
   * A queued job leaves the queue and fails at once (in a microtask). A running one is
   * cancelled in the engine and fails when its outcome arrives: only then is it known that
   * no file was stored (SPEC 10: a file already renamed into place means `success`).
   */
  #stop(job: Job, reason: DownloadFail): void {
    const index = this.#queue.indexOf(job)
    if (index !== -1) {
      this.#queue.splice(index, 1)
      this.#countFail(reason)
      job.run.failSoon(reason)
      return
    }
    if (!this.#running.has(job)) return
    job.reason ??= reason
    if (job.id !== undefined) this.#engine.cancel(job.id)
  }

  #pump(): void {
    while (this.#running.size < this.#config.maxConcurrent) {
      const job = this.#queue.shift()
      if (job === undefined) return
      this.#start(job)
    }
  }

  #start(job: Job): void {
    this.#running.add(job)
    // SPEC 5: a download that never waited has queueEnd equal to queueStart.
    job.times.queueEnd = job === this.#invoking ? job.times.queueStart : now()
    if (this.#engine.closed) {
      // A shared engine closed while this job waited in the queue: it ends like the engine's
      // in-flight downloads did (`cancelled`, 121522), not as an internal failure of a call
      // into a closed engine.
      this.#finishSoon(job, 'cancelled', 'engine closed')
      return
    }
    const run = job.run
    let id: number
    try {
      const handler = { message: (m: BindingMessage) => this.#message(job, m) }
      id = this.#engine.start(this.#binding, this.#request(job.plan), handler)
    } catch (error) {
      this.#finishSoon(job, 'internal', errorText(error))
      return
    }
    job.id = id
    const watch = (): void => this.#engine.watch(id, run.wantsHeaders, run.wantsProgress)
    if (run.wantsHeaders || run.wantsProgress) watch()
    run.onListen = watch
  }

  /** Ends a job that never reached the engine, on a later turn like the engine's outcomes. */
  #finishSoon(job: Job, errorKind: ErrorKind, errorMessage: string): void {
    queueMicrotask(() => this.#finish(job, { id: -1, kind: 'done', errorKind, errorMessage }))
  }

  #message(job: Job, message: BindingMessage): void {
    switch (message.kind) {
      case 'headers':
        job.run.handleHeaders(message.statusCode ?? 0, headerObject(message.headers))
        break
      case 'progress':
        job.run.handleProgress(message.written ?? 0, message.expected ?? -1)
        break
      case 'done':
        this.#finish(job, message)
        break
    }
  }

  #request(plan: DownloadPlan): BindingRequest {
    const request: BindingRequest = {
      url: plan.url,
      headers: plan.headers,
      timeoutMs: plan.timeoutMs,
      profile: plan.profile,
    }
    if (plan.target.kind === 'file') request.targetPath = plan.target.absPath
    else request.tempStem = this.#sandbox.newTempStem()
    return request
  }

  #finish(job: Job, outcome: BindingMessage): void {
    this.#running.delete(job)
    if (this.#running.size === 0) this.#allStopped?.()
    this.#pump()
    this.#counts.bytesReceived += outcome.errorKind === undefined ? (outcome.dataLength ?? 0) : (outcome.received ?? 0)
    try {
      if (outcome.errorKind === undefined) {
        const result = this.#success(job, outcome)
        this.#counts.succeeded++
        job.run.succeed(result)
        // SPEC 12: a temp file may be evicted only once its success was delivered.
        if (job.plan.target.kind === 'temp' && outcome.path !== undefined) this.#binding.tempDelivered(outcome.path)
      } else {
        const fail =
          job.reason ??
          failFromEngine(outcome.errorKind, this.#engineWords(job, outcome), {
            url: job.plan.url,
            maxFileSize: this.#config.maxFileSize,
            proxyStatus: outcome.proxyStatus,
            errorUrl: outcome.errorUrl,
          })
        this.#countFail(fail)
        const head =
          outcome.headers === undefined ? undefined : { statusCode: outcome.statusCode ?? 0, header: headerObject(outcome.headers) }
        // The refused addresses belong to the policy's own failure, not to an abort that won.
        const refused = job.reason === undefined && outcome.errorKind === 'addressNotAllowed' ? outcome.refused : undefined
        job.run.failNow(fail, head, refused)
      }
    } catch (error) {
      // A malformed outcome (missing fields) is an engine bug: fail this download only.
      const fail = failOf('internal', errorText(error))
      this.#countFail(fail)
      job.run.failNow(fail)
    }
  }

  /**
   * The engine's message for a failure, with the app's name of the file a storage failure
   * concerns (the engine never puts a path in it). hidePaths stays as a safety net: a host
   * path must never reach a mini-program, whatever an OS error's text holds.
   */
  #engineWords(job: Job, outcome: BindingMessage): string {
    const message = outcome.errorMessage ?? ''
    const target = job.plan.target
    const named = outcome.failedPath === 'target' && target.kind === 'file' ? `${message} (${target.filePath})` : message
    return this.#sandbox.hidePaths(named)
  }

  #success(job: Job, outcome: BindingMessage): DownloadSuccess {
    const { statusCode, path, dataLength } = outcome
    if (statusCode === undefined || path === undefined || dataLength === undefined) {
      throw new Error('engine reported success without statusCode, path or dataLength')
    }
    const header = headerObject(outcome.headers)
    const target = job.plan.target
    // Literals of fixed shapes, no spreads: this runs once per download.
    const result: DownloadSuccess =
      target.kind === 'file'
        ? { errMsg: 'downloadFile:ok', statusCode, header, dataLength, filePath: target.filePath }
        : { errMsg: 'downloadFile:ok', statusCode, header, dataLength, tempFilePath: this.#sandbox.tempFilePathOf(path) }
    const { profile: at, profiles: numbers, peerIp, protocol } = outcome
    if (job.plan.profile && at !== undefined && numbers !== undefined && peerIp !== undefined && protocol !== undefined) {
      result.profile = buildProfile(job.times, { numbers, at, peerIp, protocol }, dataLength)
    }
    return result
  }

  #download(options: unknown): Promise<DownloadSuccess> {
    const invokeStart = now()
    return new Promise((resolve, reject) => {
      if (typeof options !== 'object' || options === null) {
        const what = `parameter should be Object instead of ${typeName(options)}`
        reject(new DownloadError(failOf('parameter', what)))
        return
      }
      // Callbacks in the options are left out: the Promise form reports through the Promise.
      const input = options as DownloadOptions & Record<string, unknown>
      const trace = startTrace(this.#config.appId, input.url)
      const { signal, onProgress, onHeaders } = input
      if (signal !== undefined && !isAbortSignal(signal)) {
        const what = `parameter.signal should be AbortSignal instead of ${typeName(signal)}`
        const fail = failOf('parameter', what)
        // A call with an options object: counted like any validation failure (SPEC 12).
        this.#counts.started++
        this.#countFail(fail)
        publishFail(trace, fail)
        reject(new DownloadError(fail))
        return
      }
      const onAbort = (): void => task.abort()
      const task = this.#enqueue(
        input,
        {
          success: resolve,
          fail: (result: DownloadFail) => reject(new DownloadError(result)),
          complete: signal === undefined ? undefined : () => signal.removeEventListener('abort', onAbort),
        },
        invokeStart,
        trace,
      )
      if (onProgress !== undefined) task.onProgressUpdate(onProgress)
      if (onHeaders !== undefined) task.onHeadersReceived(onHeaders)
      if (signal?.aborted) task.abort()
      else signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}

/** The engine parses what it owns (egress entries); what it refuses is a bad config. */
function asTypeError<T>(make: () => T): T {
  try {
    return make()
  } catch (error) {
    throw new TypeError(`createHost: ${errorText(error)}`)
  }
}

const ADDRESS_NOT_ALLOWED = failOf('addressNotAllowed').errMsg

function asFunction<T>(value: unknown): T | undefined {
  return typeof value === 'function' ? (value as T) : undefined
}

function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function'
  )
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
