// URL policy of a host: which schemes its `env` allows, credentials in URLs, and the download
// domain list (SPEC sections 2, 7 and 10). The engine applies the same decisions to redirect
// hops from the plain data built here (`allowHttp`, `redirectHosts`).
import { isIPv4 } from 'node:net'
import { failOf } from './errors.js'
import type { DownloadFail } from './errors.js'

export type HostEnv = 'release' | 'test'

/** One `domains` entry: host as WHATWG `URL` spells it (lower-case punycode), port if spelled. */
export interface DomainEntry {
  host: string
  port: number | undefined
}

/** The URL to hand to the engine, after the checks of SPEC 10's order (url, protocol, credentials, domain). */
export type UrlCheck = { ok: true; url: string } | { ok: false; fail: DownloadFail }

export interface UrlPolicy {
  env: HostEnv
  checkDomain: boolean
  domains: readonly DomainEntry[]
}

/** SPEC 2: the schemes each `env` admits, for first requests and redirect hops alike. */
const SCHEMES: Record<HostEnv, readonly ('http' | 'https')[]> = { release: ['https'], test: ['http', 'https'] }

export function allowedProtocols(env: HostEnv): string {
  // The message names them exactly like this (SPEC 7): `https` or `http,https`.
  return SCHEMES[env].join(',')
}

/** Whether the engine may follow a redirect to plain http (binding.d.ts `allowHttp`). */
export function allowsHttp(env: HostEnv): boolean {
  return SCHEMES[env].includes('http')
}

/** SPEC 10: the url in messages is the caller's, or a best-effort string of a non-string. */
export function describeUrl(url: unknown): string {
  if (typeof url === 'string') return url
  try {
    return String(url)
  } catch {
    return Object.prototype.toString.call(url)
  }
}

export function checkUrl(input: unknown, policy: UrlPolicy): UrlCheck {
  const shown = describeUrl(input)
  if (typeof input !== 'string') return { ok: false, fail: failOf('invalidUrl', shown) }
  let url: URL
  try {
    url = new URL(input)
  } catch {
    return { ok: false, fail: failOf('invalidUrl', shown) }
  }
  if (!SCHEMES[policy.env].some((scheme) => url.protocol === `${scheme}:`)) {
    return { ok: false, fail: failOf('invalidProtocol', shown, allowedProtocols(policy.env)) }
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, fail: failOf('urlError') }
  }
  if (policy.checkDomain && !inDomainList(input, url, policy.domains)) {
    return { ok: false, fail: failOf('notInDomainList', shown) }
  }
  // The fragment is never sent; the engine gets the normalised form (punycode host), which
  // its own parser accepts whatever the caller's spelling was. A spelled default port is put
  // back (WHATWG drops it): the engine's redirect check reads it for relative hops, where a
  // `:443` entry admits only URLs that spell `:443`. Any `#` starts the fragment (an empty one
  // too), and the setter re-parses the whole URL: it runs only when there is one to drop.
  if (input.includes('#')) url.hash = ''
  const port = portSpelledIn(input, url)
  if (port !== undefined && url.port === '') {
    return { ok: true, url: `${url.protocol}//${url.hostname}:${port}${url.pathname}${url.search}` }
  }
  return { ok: true, url: url.href }
}

function inDomainList(raw: string, url: URL, domains: readonly DomainEntry[]): boolean {
  if (isNeverListed(url.hostname)) return false
  const port = portSpelledIn(raw, url)
  return domains.some((entry) => entry.host === url.hostname && entry.port === port)
}

/**
 * SPEC 10: IP literals and `localhost` never pass a checked list, even when listed. WHATWG
 * `URL` already normalises every IPv4 spelling (`0x7f.1`, `2130706433`) to dotted form and
 * brackets IPv6, so the hostname tells. `*.localhost` resolves to loopback too (RFC 6761).
 * The engine's `is_never_listed` runs the same cases (`__test__/cases/url-policy.json`).
 */
export function isNeverListed(hostname: string): boolean {
  if (hostname.startsWith('[') || isIPv4(hostname)) return true
  const name = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname
  return name === 'localhost' || name.endsWith('.localhost')
}

/**
 * `spelledPort(input)` for a string `new URL` parsed as `url`, without re-reading the string
 * in the common cases: a port WHATWG kept is the spelled one, and a string with one colon
 * (the scheme's) spells none.
 */
function portSpelledIn(input: string, url: URL): number | undefined {
  if (url.port !== '') return Number(url.port)
  if (input.indexOf(':', input.indexOf(':') + 1) === -1) return undefined
  return spelledPort(input)
}

/**
 * The port as the URL string spells it, or undefined when it spells none. WHATWG `URL` drops
 * a default port (`https://a.com:443/` has `port === ''`), but SPEC 2 says an entry without
 * a port must not admit `:443`, so read the authority ourselves, mirroring the WHATWG parser
 * for the special schemes: trim C0 controls and spaces, drop tabs and newlines, skip any run
 * of `/` and `\` after `scheme:`, end the authority at `/ \ ? #`, take the host after the last
 * `@`, and the port after the first `:` outside brackets. Call only on strings that `new URL`
 * parsed with an http(s) scheme. crates/engine/src/redirect.rs `authority_in` reads redirect
 * hops the same way; both run the cases of `__test__/cases/url-policy.json`.
 */
export function spelledPort(input: string): number | undefined {
  const s = input.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '').replace(/[\t\n\r]/g, '')
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(s)
  if (scheme === null) return undefined
  let start = scheme[0].length
  while (start < s.length && (s[start] === '/' || s[start] === '\\')) start++
  let end = start
  while (end < s.length && !'/\\?#'.includes(s[end] as string)) end++
  const authority = s.slice(start, end)
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1)
  const afterHost = hostPort.startsWith('[') ? hostPort.indexOf(']') + 1 : 0
  const colon = hostPort.indexOf(':', afterHost)
  if (colon === -1) return undefined
  const digits = hostPort.slice(colon + 1)
  // `https://a.com:/` is a valid URL with an empty port: it spells no port.
  return digits === '' ? undefined : Number.parseInt(digits, 10)
}

/**
 * Parses `HostConfig.domains`. Entries are `scheme://host[:port]` with an http(s) scheme and
 * nothing else (a trailing `/` is tolerated); anything else is a configuration mistake and
 * throws a TypeError from `createHost` rather than silently never matching.
 */
export function parseDomains(domains: unknown): DomainEntry[] {
  if (domains === undefined) return []
  if (!Array.isArray(domains)) throw new TypeError('createHost: domains must be an array of strings')
  return domains.map((entry: unknown) => {
    if (typeof entry !== 'string') throw new TypeError('createHost: domains must be an array of strings')
    let url: URL
    try {
      url = new URL(entry)
    } catch {
      throw new TypeError(`createHost: domains entry is not a URL: ${entry}`)
    }
    const plain =
      (url.protocol === 'https:' || url.protocol === 'http:') &&
      url.username === '' &&
      url.password === '' &&
      url.pathname === '/' &&
      url.search === '' &&
      url.hash === '' &&
      !/[?#]/.test(entry) &&
      /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/\\]+\/?$/.test(entry.trim())
    if (!plain) {
      throw new TypeError(`createHost: domains entries must be scheme://host[:port], got: ${entry}`)
    }
    return { host: url.hostname, port: spelledPort(entry) }
  })
}

/**
 * The set the engine checks redirect hops against (binding.d.ts `redirectHosts`): `host` for
 * entries without a port, `host:port` for entries with one. IP-literal and localhost entries
 * are left out, so such hops fail like first requests do. Undefined means "any host", which
 * is the case only when the domain check is off for hops; an empty list admits none.
 */
export function redirectHostsOf(policy: UrlPolicy & { checkRedirectDomain: boolean }): string[] | undefined {
  if (!policy.checkDomain || !policy.checkRedirectDomain) return undefined
  const hosts = policy.domains
    .filter((entry) => !isNeverListed(entry.host))
    .map((entry) => (entry.port === undefined ? entry.host : `${entry.host}:${entry.port}`))
  return [...new Set(hosts)]
}
