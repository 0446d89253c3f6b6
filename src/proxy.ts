// `HostConfig.proxy` (SPEC 11): an http:// proxy URL, or 'env' read once from the proxy
// variables, turned into the engine's per-scheme proxies. Which hop goes through which proxy
// (and NO_PROXY matching) is decided by the engine, hop by hop.
import { noProxyMatches } from './native.js'
import type { BindingProxy, BindingProxyEndpoint } from './native.js'

type Env = Record<string, string | undefined>

/** The proxy a download goes through, named as it may be shown: never with its credentials. */
export interface ProxyEndpoint {
  /** A name or an IP literal, as the proxy URL spells it (an IPv6 literal in brackets). */
  host: string
  port: number
  hasCredentials: boolean
}

/**
 * The proxy the first request of `url` goes through for a host created now with
 * `HostConfig.proxy` = `proxy` (`'env'` reads `env` as createHost reads the process
 * environment), or undefined when it connects directly: no proxy for its scheme, excluded by
 * `no_proxy`, or a URL that is not http(s). Later redirect hops choose again by their own URL.
 * A malformed `proxy` (or proxy variable) throws the TypeError createHost would throw, whatever
 * the URL, so an operator can check a configuration before any host exists.
 */
export function proxyFor(url: string, proxy: string | undefined, env: Env = process.env): ProxyEndpoint | undefined {
  const settings = resolveProxy(proxy, env)
  if (settings === undefined || !URL.canParse(url)) return undefined
  const target = new URL(url)
  const endpoint = target.protocol === 'https:' ? settings.https : target.protocol === 'http:' ? settings.http : undefined
  // The engine's own NO_PROXY matcher: the answer is the one every download gets.
  if (endpoint === undefined || noProxyMatches(settings.noProxy, target.hostname)) return undefined
  return { host: endpoint.host, port: endpoint.port, hasCredentials: endpoint.authorization !== undefined }
}

export function resolveProxy(value: unknown, env: Env = process.env): BindingProxy | undefined {
  if (value === undefined) return undefined
  if (value === 'env') return fromEnv(env)
  if (typeof value !== 'string') throw new TypeError(`createHost: proxy must be a string (an http:// URL or 'env')`)
  const endpoint = parseProxyUrl(value, 'proxy')
  return { http: endpoint, https: endpoint, noProxy: '' }
}

/**
 * The lower-case spelling wins when both are set (curl, Go), even set empty (which turns the
 * proxy off); an empty value means unset.
 */
function variable(env: Env, lower: string): { name: string; value: string } | undefined {
  const name = env[lower] !== undefined ? lower : lower.toUpperCase()
  const value = env[name]?.trim()
  return value === undefined || value === '' ? undefined : { name, value }
}

function fromEnv(env: Env): BindingProxy | undefined {
  const endpointOf = (lower: string): BindingProxyEndpoint | undefined => {
    const found = variable(env, lower)
    // A value without a scheme means http://, as curl reads it.
    return found === undefined
      ? undefined
      : parseProxyUrl(/^[a-z][a-z0-9+.-]*:\/\//i.test(found.value) ? found.value : `http://${found.value}`, found.name)
  }
  // ALL_PROXY is not read (SPEC 11): only the per-scheme variables.
  const https = endpointOf('https_proxy')
  const http = endpointOf('http_proxy')
  if (https === undefined && http === undefined) return undefined
  return {
    ...(http === undefined ? {} : { http }),
    ...(https === undefined ? {} : { https }),
    noProxy: variable(env, 'no_proxy')?.value ?? '',
  }
}

/** `http://[user:password@]host[:port]`, port 80 by default, credentials percent-decoded. */
function parseProxyUrl(text: string, name: string): BindingProxyEndpoint {
  const bad = (why: string): TypeError =>
    new TypeError(`createHost: ${name} must be 'http://[user:password@]host[:port]' (${why}), got ${JSON.stringify(redact(text))}`)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw bad('not a URL')
  }
  if (url.protocol !== 'http:') throw bad(`only http:// proxies are supported, not ${url.protocol}//`)
  if (url.hostname === '') throw bad('no host')
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    throw bad('a proxy URL has no path, query or fragment')
  }
  let user: string
  let password: string
  try {
    user = decodeURIComponent(url.username)
    password = decodeURIComponent(url.password)
  } catch {
    throw bad('credentials are not valid percent-encoding')
  }
  const endpoint: BindingProxyEndpoint = { host: url.hostname, port: url.port === '' ? 80 : Number(url.port) }
  if (url.username !== '' || url.password !== '') {
    endpoint.authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`
  }
  return endpoint
}

/** A proxy URL as it may appear in an error message: never with its password. */
export function redact(text: string): string {
  // Everything between `//` and the last `@` may be credentials, whatever characters they hold.
  const start = text.indexOf('//')
  const at = text.lastIndexOf('@')
  if (start === -1 || at < start) return text
  return `${text.slice(0, start + 2)}${text.slice(start + 2, at).split(':')[0]}:***${text.slice(at)}`
}
