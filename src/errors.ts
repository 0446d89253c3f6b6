// The error table of SPEC section 7, once. Every `fail` object the library produces is built
// here, so the codes, types and message texts cannot drift apart between modules.
import type { ErrorKind } from './native.js'

/** D: developer error, U: user or network condition, F: framework failure. */
export type ErrorType = 'D' | 'U' | 'F'

/** What `fail` (and `complete` after a failure) receives. `errNo === errorCode` always. */
export interface DownloadFail {
  errMsg: string
  errNo: number
  errorCode: number
  errorType: ErrorType
}

interface Row<A extends unknown[]> {
  errNo: number
  errorType: ErrorType
  detail: (...args: A) => string
}

const row = <A extends unknown[]>(errNo: number, errorType: ErrorType, detail: (...args: A) => string): Row<A> => ({
  errNo,
  errorType,
  detail,
})

const MIB = 1024 * 1024

export const ERRORS = {
  invalidUrl: row(121599, 'D', (url: string) => `url is invalid, url == ${url}`),
  invalidProtocol: row(
    121599,
    'D',
    (url: string, allowed: string) => `url use invalid protocol, url == ${url}, url support protocol is ${allowed}`,
  ),
  parameter: row(121599, 'D', (what: string) => `parameter error: ${what}`),
  notInDomainList: row(121501, 'D', (url: string) => `url not in domain list, url == ${url}`),
  urlError: row(121529, 'D', () => 'url error'),
  destinationPath: row(121508, 'D', () => 'destination path has error'),
  permissionDenied: row(121503, 'D', (filePath: string) => `file path permission denied, open '${filePath}'`),
  noSuchFile: row(121502, 'D', (filePath: string) => `no such file or directory, '${filePath}'`),
  quotaExceeded: row(121530, 'D', () => 'user dir saved file size limit exceeded'),
  // SPEC 10: N = floor(maxFileSize / 1 MiB), so a limit under 1 MiB reads "0MB".
  tooLarge: row(121521, 'D', (maxFileSize: number) => `file size exceeds ${Math.floor(maxFileSize / MIB)}MB`),
  timeout: row(121520, 'D', () => 'request time out'),
  certificate: row(121528, 'D', () => 'certificate error'),
  abort: row(121522, 'U', () => 'download file abort'),
  networkUnavailable: row(121585, 'U', () => 'network unavailable'),
  networkChanged: row(121523, 'U', () => 'network changed'),
  background: row(121594, 'U', () => 'app in background'),
  dns: row(121524, 'U', () => 'dns error'),
  ssl: row(121525, 'U', () => 'ssl error'),
  connection: row(121526, 'U', () => 'connection error'),
  // SPEC 11: the policy refused every address; the fail object never names them.
  addressNotAllowed: row(121526, 'U', () => 'connection error: address not allowed'),
  proxyUnreachable: row(121526, 'U', () => 'connection error: proxy unreachable'),
  proxyRefused: row(121526, 'U', (status: number) => `connection error: proxy refused (${status})`),
  interrupted: row(121527, 'U', () => 'interrupted'),
  // The seed writes `network error:%s`; SPEC 10 adds the space after the colon.
  network: row(121591, 'F', (cause: string) => `network error: ${cause}`),
  io: row(121507, 'F', (cause: string) => cause),
  tempQuota: row(121507, 'F', () => 'temp quota exceeded'),
  internal: row(121592, 'F', (cause: string) => cause),
} as const

export type ErrorName = keyof typeof ERRORS
type DetailArgs<K extends ErrorName> = Parameters<(typeof ERRORS)[K]['detail']>

const FAIL_PREFIX = 'downloadFile:fail '

export function failOf<K extends ErrorName>(name: K, ...args: DetailArgs<K>): DownloadFail {
  const entry = ERRORS[name] as Row<DetailArgs<K>>
  return {
    errMsg: FAIL_PREFIX + entry.detail(...args),
    errNo: entry.errNo,
    errorCode: entry.errNo,
    errorType: entry.errorType,
  }
}

/** The detail text of a fail object, without the `downloadFile:fail ` prefix. */
export function detailOf(fail: DownloadFail): string {
  return fail.errMsg.startsWith(FAIL_PREFIX) ? fail.errMsg.slice(FAIL_PREFIX.length) : fail.errMsg
}

/** The engine's error kinds (binding.d.ts `ErrorKind`), mapped to rows of the table. */
export function failFromEngine(
  kind: ErrorKind,
  message: string | undefined,
  context: { url: string; maxFileSize: number; proxyStatus?: number | undefined; errorUrl?: string | undefined },
): DownloadFail {
  // Messages are the engine's own words; a missing one falls back to the kind so the
  // "<cause>" rows never read as an empty string.
  const cause = message !== undefined && message !== '' ? message : kind
  switch (kind) {
    case 'dns':
      return failOf('dns')
    case 'connect':
      return failOf('connection')
    case 'addressNotAllowed':
      return failOf('addressNotAllowed')
    case 'proxyUnreachable':
      return failOf('proxyUnreachable')
    case 'proxyRefused':
      return context.proxyStatus === undefined ? failOf('proxyUnreachable') : failOf('proxyRefused', context.proxyStatus)
    case 'tlsCertificate':
      return failOf('certificate')
    case 'tls':
      return failOf('ssl')
    case 'timeout':
      return failOf('timeout')
    case 'interrupted':
      return failOf('interrupted')
    case 'network':
      return failOf('network', cause)
    case 'tooLarge':
      return failOf('tooLarge', context.maxFileSize)
    case 'quota':
      return failOf('quotaExceeded')
    case 'cancelled':
      return failOf('abort')
    case 'io':
      return failOf('io', cause)
    case 'tempQuota':
      return failOf('tempQuota')
    case 'redirect':
      return failOf('urlError')
    case 'redirectHost':
      // SPEC 10: the `<url>` of a redirect hop is the hop's URL, which the engine reports.
      return failOf('notInDomainList', context.errorUrl ?? context.url)
    case 'internal':
      return failOf('internal', cause)
    default: {
      // Never reached with an addon of the same build: the switch names every kind of the
      // binding's ErrorKind, or this does not compile. An addon from another build may still
      // send one.
      const unknown: never = kind
      return failOf('internal', `unknown engine error kind '${String(unknown)}': ${cause}`)
    }
  }
}

/**
 * The Promise form's rejection: an `Error` that carries the same fields as the `fail` object,
 * so `catch (e) { e.errNo }` works like a `fail` callback.
 */
export class DownloadError extends Error {
  readonly errMsg: string
  readonly errNo: number
  readonly errorCode: number
  readonly errorType: ErrorType

  constructor(fail: DownloadFail) {
    super(fail.errMsg)
    this.name = 'DownloadError'
    this.errMsg = fail.errMsg
    this.errNo = fail.errNo
    this.errorCode = fail.errorCode
    this.errorType = fail.errorType
  }

  /** The plain `fail` object this error stands for. */
  toJSON(): DownloadFail {
    return {
      errMsg: this.errMsg,
      errNo: this.errNo,
      errorCode: this.errorCode,
      errorType: this.errorType,
    }
  }
}
