// The public shapes of `downloadFile`, its task and results. The overloads follow SPEC 10 and
// are written so that `host.tt.downloadFile` is assignable to the `downloadFile` of
// `@douyin-microapp/typings` (checked by __test__/typings.check.ts).
import type { DownloadFail } from './errors.js'
import type { Profile } from './profile.js'

export interface DownloadSuccessCommon {
  errMsg: 'downloadFile:ok'
  /** HTTP status of the final response; any status is a success. */
  statusCode: number
  /** Final response headers: names lower-case, repeated headers joined with `', '`. */
  header: Record<string, string>
  /** Bytes stored. */
  dataLength: number
  /** Absent when `enableProfile: false`. */
  profile?: Profile
}

/** Success without `filePath`: the file went to `ttfile://temp/<32 hex>[.ext]`. */
export interface TempFileSuccess extends DownloadSuccessCommon {
  tempFilePath: string
  filePath?: never
}

/** Success with `filePath`: the file is there, and `filePath` is the one given. */
export interface SavedFileSuccess extends DownloadSuccessCommon {
  filePath: string
  tempFilePath?: never
}

export type DownloadSuccess = TempFileSuccess | SavedFileSuccess

export type { DownloadFail }

export interface ProgressUpdate {
  /** Integer 0-100; 0 until the end when the length is unknown. */
  progress: number
  totalBytesWritten: number
  /** -1 when the length is unknown. */
  totalBytesExpectedToWrite: number
}

export interface HeadersReceived {
  header: Record<string, string>
}

export type ProgressListener = (update: ProgressUpdate) => void
export type HeadersListener = (event: HeadersReceived) => void

export interface DownloadTask {
  /** Queued or running: `fail` 121522 then `complete`. After the end: nothing. */
  abort(): void
  onProgressUpdate(listener: ProgressListener): void
  /** Without an argument, removes every progress listener. */
  offProgressUpdate(listener?: ProgressListener): void
  onHeadersReceived(listener: HeadersListener): void
  /** Without an argument, removes every headers listener. */
  offHeadersReceived(listener?: HeadersListener): void
}

export interface DownloadRequestOptions {
  url: string
  /** Values string or number; `referer` and `user-agent` are always replaced. */
  header?: Record<string, string | number>
  /** `ttfile://user/...` or `ttfile://temp/...` (sdkVersion >= 2.42.0; ignored before). */
  filePath?: string
  /** ms; `> 0` wins over `networkTimeout`; capped at `maxTimeout` (sdkVersion >= 2.42.0). */
  timeout?: number
  /** Default true. */
  enableProfile?: boolean
}

export interface DownloadCallbacks<S extends DownloadSuccess> {
  success?: (result: S) => void
  fail?: (result: DownloadFail) => void
  complete?: (result: S | DownloadFail) => void
}

export type DownloadFileOptions<S extends DownloadSuccess = DownloadSuccess> = DownloadRequestOptions & DownloadCallbacks<S>

export interface DownloadFile {
  (options: DownloadRequestOptions & { filePath?: undefined } & DownloadCallbacks<TempFileSuccess>): DownloadTask
  (options: DownloadRequestOptions & { filePath: string } & DownloadCallbacks<SavedFileSuccess>): DownloadTask
  (options: DownloadFileOptions): DownloadTask
}

/** `host.download()`: the request options, plus an abort signal and listeners. */
export interface DownloadOptions extends DownloadRequestOptions {
  signal?: AbortSignal
  onProgress?: ProgressListener
  onHeaders?: HeadersListener
}

export interface Download {
  (options: DownloadOptions & { filePath?: undefined }): Promise<TempFileSuccess>
  (options: DownloadOptions & { filePath: string }): Promise<SavedFileSuccess>
  (options: DownloadOptions): Promise<DownloadSuccess>
}

export interface Host {
  /** `tt.downloadFile`: never throws; results only through the callbacks, always later. */
  readonly downloadFile: DownloadFile
  /** A `tt` object for mini-program code: `downloadFile` and `env.USER_DATA_PATH`. */
  readonly tt: {
    readonly downloadFile: DownloadFile
    readonly env: { readonly USER_DATA_PATH: 'ttfile://user' }
  }
  /** Promise form; rejects with `DownloadError`. */
  readonly download: Download
  /** Absolute path on disk of a ttfile:// path; throws for paths outside the sandbox. */
  realPath(ttfilePath: string): string
  /** `false`: in-flight, queued and new downloads fail with 121585. */
  setNetworkAvailable(available: boolean): void
  /** Running downloads fail with 121523; queued ones start later on the new network. */
  notifyNetworkChange(): void
  /** `true`: after `backgroundGraceMs`, in-flight, queued and new downloads fail with 121594. */
  setBackground(background: boolean): void
  /** Aborts in-flight and queued work (121522), releases the engine if owned. */
  close(): Promise<void>
  /** The host's cookie jar, shared with its other network APIs (`tt.request`, `uploadFile`). */
  readonly cookies: CookieJar
  /** Bytes the host counts under `user/` and `temp/` now (running downloads not included). */
  usage(): Usage
  /** Measures again on disk (everything, or one ttfile:// path), after the host's own file APIs changed files. */
  refreshUsage(ttfilePath?: string): Promise<Usage>
  /** Removes every file in `temp/` stored before the call (the app exited). */
  clearTemp(): Promise<void>
  /** Counters since the host was created, for operators. */
  stats(): HostStats
}

export interface Usage {
  user: number
  temp: number
}

/** RFC 6265 cookies of one app; persistent ones are saved (mode 0600) like a download's. */
export interface CookieJar {
  /** The `Cookie` value a request to `url` would send; `''` when none. */
  header(url: string): string
  /** What a response from `url` set (its `Set-Cookie` values); malformed ones are ignored. */
  store(url: string, setCookie: string[]): void
  /** Forgets every cookie, the saved file too. */
  clear(): void
}

export interface HostStats {
  /** Calls with an options object: `started = queued + running + succeeded + failed`. */
  started: number
  queued: number
  running: number
  succeeded: number
  /** Every `fail`, validation failures and aborts included. */
  failed: number
  failedByErrNo: Record<number, number>
  /** Downloads failed with `address not allowed`. */
  egressRefused: number
  /** Files removed from `temp/` to make room. */
  tempEvicted: number
  /** Body bytes of every download whatever its outcome, redirect bodies excluded. */
  bytesReceived: number
}
