// `--proxy URL|env|none` of `get` and `bench` (SPEC 9, 11), and which proxy a download of the
// given URL goes through, for the notice on stderr and `bench --json`'s `proxy`. A proxy is
// named by its host and port only: credentials are never printed.
import { isIP } from 'node:net'
import type { BindingProxyEndpoint } from '../native.js'
import { resolveProxy } from '../proxy.js'
import { UsageError } from './usage-error.js'

/** `HostConfig.proxy` from `--proxy` (default `env`); `none` leaves the field out. */
export function proxyOf(value: string | undefined): string | undefined {
  const choice = value ?? 'env'
  if (choice === 'none') return undefined
  if (choice === 'env') return 'env'
  try {
    // The host's own parser, so the CLI accepts exactly what createHost accepts.
    resolveProxy(choice)
  } catch (error) {
    if (!(error instanceof TypeError)) throw error
    const shown = choice.includes('@') ? '<a value with credentials>' : `'${choice}'`
    throw new UsageError(`--proxy must be http://[user:password@]host[:port], env or none, got ${shown}`)
  }
  return choice
}

export interface ProxyUse {
  /** `host:port` (an IPv6 host in brackets). */
  hostPort: string
  hasCredentials: boolean
  /** Where the choice came from: `--proxy` or the environment. */
  from: '--proxy' | 'the environment'
}

/**
 * The proxy the first request of `url` goes through under `proxy` (a `proxyOf` value), read
 * from `env` now, as the host reads it when it is created; undefined when it goes direct (no
 * proxy for its scheme, excluded by `no_proxy`, or a URL that will fail validation anyway).
 */
export function proxyInUse(url: string, proxy: string | undefined, env: NodeJS.ProcessEnv): ProxyUse | undefined {
  if (proxy === undefined || !URL.canParse(url)) return undefined
  const target = new URL(url)
  let settings: ReturnType<typeof resolveProxy>
  try {
    settings = resolveProxy(proxy, env)
  } catch (error) {
    // A malformed proxy variable: createHost refuses it the same way, naming the variable.
    if (error instanceof TypeError) throw new UsageError(error.message)
    throw error
  }
  if (settings === undefined) return undefined
  const endpoint = target.protocol === 'https:' ? settings.https : target.protocol === 'http:' ? settings.http : undefined
  if (endpoint === undefined || bypassesProxy(settings.noProxy, target.hostname)) return undefined
  return {
    hostPort: hostPortOf(endpoint),
    hasCredentials: endpoint.authorization !== undefined,
    from: proxy === 'env' ? 'the environment' : '--proxy',
  }
}

/** The stderr line saying downloads go through a proxy. */
export function proxyNotice(command: string, use: ProxyUse): string {
  const credentials = use.hasCredentials ? ', with credentials' : ''
  return `tt-download ${command}: through the proxy ${use.hostPort} (from ${use.from}${credentials})\n`
}

function hostPortOf(endpoint: BindingProxyEndpoint): string {
  const host = isIP(endpoint.host) === 6 ? `[${endpoint.host}]` : endpoint.host
  return `${host}:${endpoint.port}`
}

/**
 * `no_proxy` as the engine reads it (crates/engine/src/proxy.rs `NoProxy`, which decides
 * every hop): comma-separated, spaces ignored, `*` alone excludes every host, `example.com`
 * matches it and its subdomains, `.example.com` only its subdomains, an IP entry that literal.
 * Here only to name the proxy in a report; the binding has no call to ask the engine.
 */
function bypassesProxy(noProxy: string, hostname: string): boolean {
  const entries = noProxy
    .split(',')
    .map((entry) => unbracket(entry.replace(/\s+/g, '').toLowerCase()))
    .filter((entry) => entry !== '')
  if (entries.length === 1 && entries[0] === '*') return true
  const host = unbracket(hostname.toLowerCase())
  const hostIp = canonicalIp(host)
  return entries.some((entry) => {
    const ip = canonicalIp(entry)
    if (ip !== undefined) return ip === hostIp
    return entry.startsWith('.') ? host.endsWith(entry) : host === entry || host.endsWith(`.${entry}`)
  })
}

function unbracket(text: string): string {
  return text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text
}

/** One spelling per address (`0::1` is `::1`); undefined for anything that is not one. */
function canonicalIp(text: string): string | undefined {
  const family = isIP(text)
  if (family === 0) return undefined
  return family === 6 ? new URL(`http://[${text}]/`).hostname.slice(1, -1) : text
}
