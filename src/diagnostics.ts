// SPEC 12 diagnostics: each download's start, final head and end on `node:diagnostics_channel`,
// the way undici publishes its requests, for operators' tracing and metrics. A message is
// built only when its channel has a subscriber (`hasSubscribers`), so an unobserved host pays
// for one counter increment per call and nothing else. Publishing never throws: Node reports
// an exception a subscriber throws as an `uncaughtException`, on a later tick.
import { channel } from 'node:diagnostics_channel'
import type { DownloadFail } from './errors.js'
import type { Profile } from './profile.js'
import type { DownloadSuccess } from './types.js'

/** `tt-download:download:start`, inside the `downloadFile`/`download` call, before validation. */
export interface DownloadStartMessage {
  appId: string
  /** Unique in the process, across hosts and engines. */
  taskId: number
  /** The `url` option as given (not necessarily a string: validation has not run yet). */
  url: unknown
}

/** `tt-download:download:headers`: the final response head reached the host. */
export interface DownloadHeadersMessage {
  appId: string
  taskId: number
  statusCode: number
}

/** `tt-download:download:success`, right before the app's `success` callback. */
export interface DownloadSuccessMessage {
  appId: string
  taskId: number
  /** The `url` option as given (it passed validation, so a string). */
  url: string
  statusCode: number
  dataLength: number
  /** The success result's profile; absent with `enableProfile: false`. */
  profile?: Profile
}

/** `tt-download:download:fail`, right before the app's `fail` callback. */
export interface DownloadFailMessage {
  appId: string
  taskId: number
  /** The `url` option as given. */
  url: unknown
  errNo: number
  errMsg: string
  /**
   * With `connection error: address not allowed` only: the addresses the egress policy
   * refused (SPEC 11). For operators: the fail object the app receives never names them.
   */
  refused?: string[]
}

const startChannel = channel('tt-download:download:start')
const headersChannel = channel('tt-download:download:headers')
const successChannel = channel('tt-download:download:success')
const failChannel = channel('tt-download:download:fail')

/** What one download's messages share, fixed when `downloadFile` is called. */
export interface DownloadTrace {
  readonly appId: string
  readonly taskId: number
  readonly url: unknown
}

/**
 * Channels are process-wide by name, so two copies of this package in one process (two
 * versions side by side in node_modules) publish on the same channels: the task counter is
 * process-wide too, or their taskIds would collide.
 */
const TASK_COUNTER = Symbol.for('tt-download.diagnostics.taskCounter')
const counter = ((globalThis as { [TASK_COUNTER]?: { last: number } })[TASK_COUNTER] ??= { last: 0 })

/** A new task's trace, published as `start`: call it once per call with an options object. */
export function startTrace(appId: string, url: unknown): DownloadTrace {
  const trace: DownloadTrace = { appId, taskId: ++counter.last, url }
  if (startChannel.hasSubscribers) {
    const message: DownloadStartMessage = { appId, taskId: trace.taskId, url }
    startChannel.publish(message)
  }
  return trace
}

export function publishHeaders(trace: DownloadTrace, statusCode: number): void {
  if (!headersChannel.hasSubscribers) return
  const message: DownloadHeadersMessage = { appId: trace.appId, taskId: trace.taskId, statusCode }
  headersChannel.publish(message)
}

export function publishSuccess(trace: DownloadTrace, result: DownloadSuccess): void {
  if (!successChannel.hasSubscribers) return
  const { appId, taskId } = trace
  const url = trace.url as string
  const { statusCode, dataLength, profile } = result
  // Fixed-shape literals, as for the success result itself: no key that is present but undefined.
  const message: DownloadSuccessMessage =
    profile === undefined ? { appId, taskId, url, statusCode, dataLength } : { appId, taskId, url, statusCode, dataLength, profile }
  successChannel.publish(message)
}

export function publishFail(trace: DownloadTrace, fail: DownloadFail, refused?: readonly string[]): void {
  if (!failChannel.hasSubscribers) return
  const { appId, taskId, url } = trace
  const { errNo, errMsg } = fail
  const message: DownloadFailMessage =
    refused === undefined ? { appId, taskId, url, errNo, errMsg } : { appId, taskId, url, errNo, errMsg, refused: [...refused] }
  failChannel.publish(message)
}
