// Turns one `downloadFile` options object into plain data for the engine, or the first
// failure in SPEC 10's check order: url 121599, protocol 121599, credentials 121529,
// domain 121501, header/timeout 121599, filePath 121508/121503/121502. The host checks
// what comes before (closed) and after (network, background).
import type { ResolvedConfig } from './config.js'
import { allowsHttp, checkUrl, redirectHostsOf } from './domains.js'
import { failOf } from './errors.js'
import type { DownloadFail } from './errors.js'
import { isFieldName, isFieldValue } from './headers.js'
import type { BindingHostInit } from './native.js'
import type { Sandbox, Target } from './paths.js'

/**
 * Everything a validated download needs of its own; what all downloads of a host share
 * (schemes, redirect hosts, byte limit, staging, tls, referer and user-agent) is in the
 * host's engine settings (`engineSettings`).
 */
export interface DownloadPlan {
  url: string
  /** The caller's headers to send, name, value, name, value... */
  headers: string[]
  timeoutMs: number
  target: Target
  profile: boolean
}

/** The engine settings every download of a host shares, but for what its sandbox measures and where it keeps files. */
export function sharedEngineSettings(
  config: ResolvedConfig,
): Omit<BindingHostInit, 'stagingDir' | 'stagingPrefix' | 'tempDir' | 'userUsed' | 'cookieFile'> {
  const redirectHosts = redirectHostsOf(config)
  return {
    allowHttp: allowsHttp(config.env),
    ...(redirectHosts === undefined ? {} : { redirectHosts }),
    maxRedirects: MAX_REDIRECTS,
    maxBytes: config.maxFileSize,
    tempQuota: config.tempQuota,
    userQuota: config.userDataQuota,
    cookieStore: config.cookieStore,
    fsync: config.fsync,
    caPems: config.caPems,
    resolve: config.resolve,
    egress: config.egress,
    ...(config.proxy === undefined ? {} : { proxy: config.proxy }),
    // SPEC 3: always these values, after the caller's own headers.
    trailingHeaders: ['referer', config.referer, 'user-agent', config.userAgent],
  }
}

/** SPEC 7: more redirects than this fail with 121529. */
const MAX_REDIRECTS = 10

export type PlanCheck = { ok: true; plan: DownloadPlan } | { ok: false; fail: DownloadFail }

/**
 * SPEC 3: the transport owns these, a caller may not set them. The proxy ones matter even
 * without a proxy: a mini-program must never choose what a host's proxy is told.
 */
const DROPPED = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'te',
  'upgrade',
  'proxy-authorization',
  'proxy-connection',
  'keep-alive',
])
/** SPEC 3: always the fixed values, whatever the caller sends. */
const FIXED = new Set(['referer', 'user-agent'])
/**
 * SPEC 3: the caller's headers may total this many bytes, each entry as given counted as
 * `name: value` CRLF. Servers refuse heads far smaller (nginx 8 KiB a line, Node 16 KiB), so
 * more is a mistake in the app, and the cap keeps a huge value from ever reaching the engine.
 */
const MAX_HEADER_BYTES = 64 * 1024
/** `': '` and CRLF around each entry. */
const ENTRY_OVERHEAD = 4

export function planDownload(options: Record<string, unknown>, config: ResolvedConfig, sandbox: Sandbox): PlanCheck {
  const url = checkUrl(options.url, config)
  if (!url.ok) return url

  const headers = checkHeaders(options.header)
  if (!headers.ok) return headers

  // SPEC 10: below 2.42.0 `timeout` and `filePath` are ignored entirely, not validated.
  let timeoutMs = Math.min(config.networkTimeout, config.maxTimeout)
  let target: Target = { kind: 'temp' }
  if (config.filePathAndTimeout) {
    const timeout = options.timeout
    if (timeout !== undefined) {
      if (typeof timeout !== 'number' || !Number.isFinite(timeout)) {
        const what = `parameter.timeout should be a finite Number instead of ${typeName(timeout)}`
        return { ok: false, fail: failOf('parameter', what) }
      }
      if (timeout > 0) timeoutMs = Math.min(timeout, config.maxTimeout)
    }
    if (options.filePath !== undefined) {
      const checked = sandbox.checkFilePath(options.filePath)
      if (!checked.ok) return checked
      target = checked.target
    }
  }

  return {
    ok: true,
    plan: {
      url: url.url,
      headers: headers.headers,
      timeoutMs,
      target,
      profile: options.enableProfile !== false,
    },
  }
}

type HeaderCheck = { ok: true; headers: string[] } | { ok: false; fail: DownloadFail }

/**
 * Keys are lower-cased and the later of two keys differing only in case wins (SPEC 10);
 * numbers are sent as `String(value)`. Every entry is validated, including those that are
 * then dropped or replaced: bad input is reported, not silently discarded. Only once every
 * entry passed is the total size judged (SPEC 3), so a bad entry is named as such even in
 * an oversized object. Names and values are Latin-1 (isFieldName, isFieldValue), so a
 * string's length is its byte count on the wire.
 */
function checkHeaders(header: unknown): HeaderCheck {
  if (header === undefined) return { ok: true, headers: [] }
  const bad = (what: string): HeaderCheck => ({ ok: false, fail: failOf('parameter', what) })
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    return bad(`parameter.header should be Object instead of ${typeName(header)}`)
  }
  const merged = new Map<string, string>()
  let bytes = 0
  for (const [name, value] of Object.entries(header)) {
    if (!isFieldName(name)) return bad(`invalid header name ${JSON.stringify(name)}`)
    let text: string
    if (typeof value === 'string') text = value
    else if (typeof value === 'number' && Number.isFinite(value)) text = String(value)
    else return bad(`parameter.header.${name} should be String or Number instead of ${typeName(value)}`)
    if (!isFieldValue(text)) return bad(`invalid value of header ${JSON.stringify(name)}`)
    bytes += name.length + text.length + ENTRY_OVERHEAD
    const key = name.toLowerCase()
    // Delete first so the surviving entry takes the later key's position, as it would
    // in a fresh object built from the lower-cased keys.
    merged.delete(key)
    merged.set(key, text)
  }
  if (bytes > MAX_HEADER_BYTES) return bad('header too large')
  const headers: string[] = []
  for (const [name, value] of merged) {
    if (!DROPPED.has(name) && !FIXED.has(name)) headers.push(name, value)
  }
  return { ok: true, headers }
}

/** Type names as the platform's parameter errors spell them (`String`, `Undefined`, ...). */
export function typeName(value: unknown): string {
  if (value === null) return 'Null'
  if (Array.isArray(value)) return 'Array'
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value)
  const type = typeof value
  return type.charAt(0).toUpperCase() + type.slice(1)
}
