// The package's public surface (SPEC section 1). CommonJS; `index.mts` re-exports it for ESM.
export { createHost } from './host.js'
export { createEngine } from './engine.js'
export type { Engine, EngineOptions, EngineStats } from './engine.js'
export { DownloadError } from './errors.js'
export type { DownloadFail, ErrorType } from './errors.js'
export type { DownloadFailMessage, DownloadHeadersMessage, DownloadStartMessage, DownloadSuccessMessage } from './diagnostics.js'
export { checkEgressConfig } from './config.js'
export type { CallbackSource, ClientInfo, EgressConfig, ErrorReporter, HostConfig } from './config.js'
export { proxyFor } from './proxy.js'
export type { ProxyEndpoint } from './proxy.js'
// The clock every profile time is read from, so a caller's own times (a download's end, a
// batch's start) compare with a profile's without mixing Date.now() and the engine's clock.
export { now } from './native.js'
export { phasesOf } from './profile.js'
export type { EstimateNetType, Phases, Profile } from './profile.js'
export type {
  Download,
  DownloadCallbacks,
  DownloadFile,
  DownloadFileOptions,
  DownloadOptions,
  DownloadRequestOptions,
  DownloadSuccess,
  DownloadSuccessCommon,
  DownloadTask,
  HeadersListener,
  HeadersReceived,
  CookieJar,
  Host,
  HostStats,
  ProgressListener,
  ProgressUpdate,
  SavedFileSuccess,
  TempFileSuccess,
  Usage,
} from './types.js'
