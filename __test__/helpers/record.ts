// A recorder that turns one downloadFile call into the ordered list of what the library called
// back, so a test asserts on the order and the sync-ness of callbacks, not only their results.
import type { DownloadFail, Host } from '../../src/index.js'

export type DownloadOptions = Parameters<Host['downloadFile']>[0]
/** What record() takes: the options without the callbacks it installs. */
export type RecordOptions = Omit<DownloadOptions, 'success' | 'fail' | 'complete'>
export type Success = {
  errMsg: string
  statusCode: number
  header: Record<string, string>
  tempFilePath?: string
  filePath?: string
  dataLength: number
  profile?: Record<string, unknown>
}

interface ProgressEvent {
  progress: number
  totalBytesWritten: number
  totalBytesExpectedToWrite: number
}

export type Recorded =
  | { type: 'headers'; header: Record<string, string>; sync: boolean }
  | ({ type: 'progress'; sync: boolean } & ProgressEvent)
  | { type: 'success'; result: Success; sync: boolean }
  | { type: 'fail'; result: DownloadFail; sync: boolean }
  | { type: 'complete'; result: unknown; sync: boolean }

export interface Run {
  /** Everything the library called, in order; `sync`: called inside downloadFile. */
  events: Recorded[]
  /** The task downloadFile returned. */
  task: ReturnType<Host['downloadFile']>
  /** Resolves once `complete` was called. */
  done: Promise<Run>
  /** The success result, if success was called. */
  success?: Success
  /** The fail result, if fail was called. */
  fail?: DownloadFail
  /** What complete received. */
  complete?: unknown
  /** Date.now() just before downloadFile and when complete was called. */
  startedAt: number
  completedAt?: number
}

/**
 * Calls `host.downloadFile(options)` with success/fail/complete and both task listeners
 * recording into `run.events`; `hooks` run inside the listeners (to abort at a chosen moment).
 */
export function record(
  host: Host,
  options: RecordOptions,
  hooks: {
    onHeaders?: (run: Run) => void
    onProgress?: (run: Run, event: { progress: number; totalBytesWritten: number }) => void
  } = {},
): Run {
  let returned = false
  let resolveDone!: (run: Run) => void
  const done = new Promise<Run>((resolve) => (resolveDone = resolve))
  const run = { events: [] as Recorded[], done, startedAt: Date.now() } as Run
  const task = host.downloadFile({
    ...options,
    success: (result: Success) => {
      run.success = result
      run.events.push({ type: 'success', result, sync: !returned })
    },
    fail: (result: DownloadFail) => {
      run.fail = result
      run.events.push({ type: 'fail', result, sync: !returned })
    },
    complete: (result: unknown) => {
      run.complete = result
      run.completedAt = Date.now()
      run.events.push({ type: 'complete', result, sync: !returned })
      resolveDone(run)
    },
  } as DownloadOptions)
  returned = true
  run.task = task
  task.onHeadersReceived((event: { header: Record<string, string> }) => {
    run.events.push({ type: 'headers', header: event.header, sync: !returned })
    hooks.onHeaders?.(run)
  })
  task.onProgressUpdate((event: ProgressEvent) => {
    run.events.push({ type: 'progress', ...event, sync: !returned })
    hooks.onProgress?.(run, event)
  })
  return run
}

/**
 * Names of the recorded events in order, runs of progress collapsed:
 * ['headers', 'progress', 'success', 'complete'].
 */
export function eventTypes(run: Run): string[] {
  const out: string[] = []
  for (const e of run.events) {
    if (e.type === 'progress' && out[out.length - 1] === 'progress') continue
    out.push(e.type)
  }
  return out
}
