// HostConfig: its public shape, its defaults (SPEC section 2) and its version gates (section 6).
// `resolveConfig` is the only place a default is chosen; everything downstream reads the
// resolved values.
import { isIP } from 'node:net'
import { parseDomains } from './domains.js'
import { isFieldValue } from './headers.js'
import type { DomainEntry, HostEnv } from './domains.js'
import type { Engine } from './engine.js'
import { checkEgress } from './native.js'
import type { BindingEgress, BindingProxy, BindingResolve } from './native.js'
import { resolveProxy } from './proxy.js'

export type CallbackSource = 'success' | 'fail' | 'complete' | 'progress' | 'headers'

export type ErrorReporter = (error: unknown, info: { source: CallbackSource }) => void

export interface ClientInfo {
  platform?: 'android' | 'ios'
  /** The system WebView user-agent that starts the fixed `user-agent`. */
  systemUserAgent?: string
  /** Host app name, e.g. `Douyin`. */
  hostName?: string
  /** Host app version. */
  hostVersion?: string
  /** Mini-program plugin version (`PluginVersion/` on android, `webview/` on ios). */
  pluginVersion?: string
}

export interface HostConfig {
  /** The mini-program's appId; used in the fixed `referer`. Required. */
  appId: string
  /** Default `'1.0.0'`; used in the fixed `referer`. */
  appVersion?: string
  /** Base library version, default `'3.0.0'`; gates behaviour (SPEC 6). */
  sdkVersion?: string
  /** Default `'release'` (https only); `'test'` allows http too. */
  env?: HostEnv
  /** Download legal domains, `scheme://host[:port]`. */
  domains?: string[]
  /** Enforce `domains`; default `env === 'release'`. */
  checkDomain?: boolean
  /** With `checkDomain`, every redirect hop must pass the domain check too; default true. */
  checkRedirectDomain?: boolean
  /** Sandbox root on disk: `<dataDir>/user`, `<dataDir>/temp`. Required. */
  dataDir: string
  /** Bytes allowed under `ttfile://user`; default 10 MiB. */
  userDataQuota?: number
  /** Byte limit of one download; default 200 MiB from sdkVersion 2.42.0, 50 MiB before. */
  maxFileSize?: number
  /**
   * Bytes allowed under `ttfile://temp`; the oldest files are removed to make room (SPEC 12).
   * Default `Math.max(1024 ** 3, maxFileSize)`; an explicit value must be >= `maxFileSize`.
   */
  tempQuota?: number
  /** app.json `networkTimeout.downloadFile`, ms; default 60000. */
  networkTimeout?: number
  /** No timeout may exceed this, ms; default 60000. */
  maxTimeout?: number
  /** Concurrent downloads of this host; more wait FIFO. Default 10. */
  maxConcurrent?: number
  /** Per-app cookie jar (sdkVersion >= 2.45.0). Default `{ enableStore: false }`. */
  cookie?: { enableStore: boolean }
  /** Parts of the fixed `user-agent`. */
  client?: ClientInfo
  /** Extra trusted root certificates (PEM) on top of the system roots. */
  tls?: { ca?: string | string[] }
  /**
   * Host name -> one or more IP addresses used in place of DNS answers, like curl
   * `--resolve host:port:a,b`; still subject to `egress` (SPEC 11).
   */
  resolve?: Record<string, string | string[]>
  /** How long after `setBackground(true)` downloads keep working, ms; default 5000. */
  backgroundGraceMs?: number
  /** fsync stored files before the rename; default false. */
  fsync?: boolean
  /** Receives exceptions thrown by callbacks and listeners; default `console.error`. */
  onError?: ErrorReporter
  /** A shared engine from `createEngine()`; default: the host creates and owns one. */
  engine?: Engine
  /** Which IP addresses downloads may connect to; private and special ranges are refused by default (SPEC 11). */
  egress?: EgressConfig
  /**
   * Send every download through this HTTP proxy: `'http://[user:password@]host[:port]'`, or
   * `'env'` to read `https_proxy`/`http_proxy`/`no_proxy` once, now (SPEC 11). Default: direct.
   */
  proxy?: string
}

/** The egress policy, set by the operator (never by the mini-program), SPEC 11. */
export interface EgressConfig {
  /** CIDRs or single addresses always allowed; they win over everything else. */
  allow?: string[]
  /** More CIDRs or single addresses to refuse. */
  deny?: string[]
  /** Turn the built-in list of private and special ranges off (loopback and metadata included); `deny` still applies. Default false. */
  allowPrivate?: boolean
}

/**
 * Defaults of `client`: an Android phone running Douyin, with a Chrome WebView user-agent of
 * the shape real Android WebViews send (`; wv)` and `Version/4.0`). On `ios` the default
 * system user-agent is the WKWebView one.
 */
export const DEFAULT_CLIENT = {
  platform: 'android',
  hostName: 'Douyin',
  hostVersion: '32.5.0',
  pluginVersion: '3.0.0',
  systemUserAgent: {
    android:
      'Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240905.003; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/129.0.6668.100 Mobile Safari/537.36',
    ios: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  },
} as const

const MIB = 1024 * 1024

export interface ResolvedConfig {
  appId: string
  appVersion: string
  sdkVersion: string
  env: HostEnv
  domains: DomainEntry[]
  checkDomain: boolean
  checkRedirectDomain: boolean
  dataDir: string
  userDataQuota: number
  maxFileSize: number
  tempQuota: number
  networkTimeout: number
  maxTimeout: number
  maxConcurrent: number
  /** Effective: `cookie.enableStore` and sdkVersion >= 2.45.0. */
  cookieStore: boolean
  referer: string
  userAgent: string
  caPems: string[]
  resolve: BindingResolve[]
  /** Type-checked here; the engine parses the entries (a malformed one: TypeError from createHost). */
  egress: BindingEgress
  proxy: BindingProxy | undefined
  backgroundGraceMs: number
  fsync: boolean
  onError: ErrorReporter
  engine: Engine | undefined
  /** sdkVersion >= 2.42.0: the `filePath` and `timeout` options are honoured (SPEC 6). */
  filePathAndTimeout: boolean
}

export function resolveConfig(config: HostConfig): ResolvedConfig {
  if (typeof config !== 'object' || config === null) {
    throw new TypeError('createHost: config must be an object')
  }
  const appId = requiredString(config.appId, 'appId')
  const dataDir = requiredString(config.dataDir, 'dataDir')
  headerPart(appId, 'appId')
  const appVersion = headerPart(config.appVersion, 'appVersion') ?? '1.0.0'
  const sdkVersion = optionalString(config.sdkVersion, 'sdkVersion') ?? '3.0.0'
  if (!VERSION.test(sdkVersion)) {
    throw new TypeError(`createHost: sdkVersion must look like 2.42.0, got ${JSON.stringify(sdkVersion)}`)
  }
  const env = config.env ?? 'release'
  if (env !== 'release' && env !== 'test') {
    throw new TypeError(`createHost: env must be 'release' or 'test'`)
  }
  const from2_42 = compareVersions(sdkVersion, '2.42.0') >= 0
  const client = resolveClient(config.client)
  const cookie = config.cookie
  if (cookie !== undefined && (typeof cookie !== 'object' || cookie === null)) {
    throw new TypeError('createHost: cookie must be { enableStore: boolean }')
  }
  const maxFileSize = optionalNumber(config.maxFileSize, 'maxFileSize', 0) ?? (from2_42 ? 200 * MIB : 50 * MIB)
  const onError = config.onError ?? defaultOnError
  if (typeof onError !== 'function') throw new TypeError('createHost: onError must be a function')

  return {
    appId,
    appVersion,
    sdkVersion,
    env,
    domains: parseDomains(config.domains),
    checkDomain: optionalBoolean(config.checkDomain, 'checkDomain') ?? env === 'release',
    checkRedirectDomain: optionalBoolean(config.checkRedirectDomain, 'checkRedirectDomain') ?? true,
    dataDir,
    userDataQuota: optionalNumber(config.userDataQuota, 'userDataQuota', 0) ?? 10 * MIB,
    maxFileSize,
    tempQuota: resolveTempQuota(config.tempQuota, maxFileSize),
    networkTimeout: optionalNumber(config.networkTimeout, 'networkTimeout', 1) ?? 60000,
    maxTimeout: optionalNumber(config.maxTimeout, 'maxTimeout', 1) ?? 60000,
    maxConcurrent: optionalInteger(config.maxConcurrent, 'maxConcurrent') ?? 10,
    cookieStore: cookie?.enableStore === true && compareVersions(sdkVersion, '2.45.0') >= 0,
    referer: `https://tmaservice.developer.toutiao.com/?appid=${appId}&version=${appVersion}`,
    userAgent:
      `${client.systemUserAgent} ${client.hostName}/${client.hostVersion} ToutiaoMicroApp/${sdkVersion} ` +
      (client.platform === 'ios' ? `webview/${client.pluginVersion}` : `PluginVersion/${client.pluginVersion}`),
    caPems: resolveCa(config.tls),
    resolve: resolveOverrides(config.resolve),
    egress: resolveEgress(config.egress),
    proxy: resolveProxy(config.proxy),
    backgroundGraceMs: optionalNumber(config.backgroundGraceMs, 'backgroundGraceMs', 0) ?? 5000,
    fsync: optionalBoolean(config.fsync, 'fsync') ?? false,
    onError,
    engine: config.engine,
    filePathAndTimeout: from2_42,
  }
}

const VERSION = /^\d+(\.\d+)*$/

/** Numeric per segment, missing segments are 0: 2.9.0 < 2.42.0, 2.42 == 2.42.0. */
export function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number)
  const y = b.split('.').map(Number)
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0)
    if (d !== 0) return Math.sign(d)
  }
  return 0
}

function defaultOnError(error: unknown, info: { source: CallbackSource }): void {
  console.error(`tt-download: a ${info.source} callback threw`, error)
}

function resolveClient(client: ClientInfo | undefined): Required<ClientInfo> {
  if (client !== undefined && (typeof client !== 'object' || client === null)) {
    throw new TypeError('createHost: client must be an object')
  }
  const platform = client?.platform ?? DEFAULT_CLIENT.platform
  if (platform !== 'android' && platform !== 'ios') {
    throw new TypeError(`createHost: client.platform must be 'android' or 'ios'`)
  }
  const field = (name: Exclude<keyof ClientInfo, 'platform'>): string | undefined => headerPart(client?.[name], `client.${name}`)
  return {
    platform,
    systemUserAgent: field('systemUserAgent') ?? DEFAULT_CLIENT.systemUserAgent[platform],
    hostName: field('hostName') ?? DEFAULT_CLIENT.hostName,
    hostVersion: field('hostVersion') ?? DEFAULT_CLIENT.hostVersion,
    pluginVersion: field('pluginVersion') ?? DEFAULT_CLIENT.pluginVersion,
  }
}

function resolveCa(tls: HostConfig['tls']): string[] {
  if (tls === undefined) return []
  if (typeof tls !== 'object' || tls === null) throw new TypeError('createHost: tls must be an object')
  const ca = tls.ca === undefined ? [] : Array.isArray(tls.ca) ? tls.ca : [tls.ca]
  if (!ca.every((pem) => typeof pem === 'string')) {
    throw new TypeError('createHost: tls.ca must be a PEM string or an array of them')
  }
  return [...ca]
}

function resolveOverrides(resolve: HostConfig['resolve']): BindingResolve[] {
  if (resolve === undefined) return []
  if (typeof resolve !== 'object' || resolve === null) {
    throw new TypeError('createHost: resolve must be an object of host name -> IP address')
  }
  return Object.entries(resolve).map(([name, value]) => {
    const ips = Array.isArray(value) ? [...(value as unknown[])] : [value]
    if (ips.length === 0 || !ips.every((ip) => typeof ip === 'string' && isIP(ip) !== 0)) {
      throw new TypeError(`createHost: resolve[${JSON.stringify(name)}] must be an IP address or a non-empty array of them`)
    }
    // Keyed by the host as URLs carry it (lower-case punycode), which is what the engine sees.
    const host = URL.canParse(`http://${name}/`) ? new URL(`http://${name}/`).hostname : undefined
    if (host === undefined || /[:/?#@\\]/.test(name)) {
      throw new TypeError(`createHost: resolve has an invalid host name ${JSON.stringify(name)}`)
    }
    return { host, ips: ips as string[] }
  })
}

function resolveTempQuota(value: unknown, maxFileSize: number): number {
  if (value === undefined) return Math.max(1024 ** 3, maxFileSize)
  // Below maxFileSize a download the size limit admits could never be stored in temp/.
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value < maxFileSize) {
    throw new TypeError(`createHost: tempQuota must be a positive finite number >= maxFileSize (${maxFileSize})`)
  }
  return value
}

/**
 * Throws the TypeError createHost would throw for `HostConfig.egress` = `egress` (a malformed
 * entry, a prefix the family does not allow, host bits set), so an operator can check a policy
 * before any host exists; returns nothing when createHost would accept it.
 */
export function checkEgressConfig(egress: EgressConfig | undefined): void {
  checkResolvedEgress(resolveEgress(egress))
}

/** The same check on a policy `resolveConfig` already resolved (createHost's own). */
export function checkResolvedEgress(egress: BindingEgress): void {
  try {
    // The engine's own parser: what it accepts is by definition what a host enforces.
    checkEgress(egress)
  } catch (error) {
    throw new TypeError(`createHost: ${error instanceof Error ? error.message : String(error)}`)
  }
}

function resolveEgress(egress: HostConfig['egress']): BindingEgress {
  if (egress === undefined) return { allow: [], deny: [], allowPrivate: false }
  if (typeof egress !== 'object' || egress === null || Array.isArray(egress)) {
    throw new TypeError('createHost: egress must be { allow?: string[], deny?: string[], allowPrivate?: boolean }')
  }
  const list = (value: unknown, name: string): string[] => {
    if (value === undefined) return []
    if (!Array.isArray(value) || !value.every((entry) => typeof entry === 'string')) {
      throw new TypeError(`createHost: egress.${name} must be an array of CIDRs or IP addresses`)
    }
    return [...(value as string[])]
  }
  const resolved: BindingEgress = {
    allow: list(egress.allow, 'allow'),
    deny: list(egress.deny, 'deny'),
    allowPrivate: optionalBoolean(egress.allowPrivate, 'egress.allowPrivate') ?? false,
  }
  // Not part of the public type: the benchmark's switch to price the check, refused by every
  // addon but the benchmark's own build (feature `bench-switches`).
  const benchSkipCheck = (egress as { benchSkipCheck?: unknown }).benchSkipCheck
  if (benchSkipCheck !== undefined) resolved.benchSkipCheck = benchSkipCheck === true
  return resolved
}

/** A string that becomes part of a fixed header value (`referer`, `user-agent`). */
function headerPart(value: unknown, name: string): string | undefined {
  const text = optionalString(value, name)
  if (text !== undefined && !isFieldValue(text)) {
    throw new TypeError(`createHost: ${name} must be valid in an HTTP header value`)
  }
  return text
}

function requiredString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`createHost: ${name} is required and must be a non-empty string`)
  }
  return value
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw new TypeError(`createHost: ${name} must be a string`)
  return value
}

function optionalBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'boolean') throw new TypeError(`createHost: ${name} must be a boolean`)
  return value
}

function optionalNumber(value: unknown, name: string, min: number): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new TypeError(`createHost: ${name} must be a finite number >= ${min}`)
  }
  return value
}

function optionalInteger(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new TypeError(`createHost: ${name} must be a positive integer`)
  }
  return value as number
}
