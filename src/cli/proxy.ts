// `--proxy URL|env|none` of `get` and `bench` (SPEC 9, 11), and which proxy a download of the
// given URL goes through, for the notice on stderr and `bench --json`'s `proxy`. A proxy is
// named by its host and port only: credentials are never printed.
import { isIP } from 'node:net'
import { proxyFor } from '../index.js'
import type { ProxyEndpoint } from '../index.js'
import { UsageError } from './usage-error.js'

/** `HostConfig.proxy` from `--proxy` (default `env`); `none` leaves the field out. */
export function proxyOf(value: string | undefined): string | undefined {
  const choice = value ?? 'env'
  if (choice === 'none') return undefined
  if (choice === 'env') return 'env'
  try {
    // The host's own parser (any URL will do: the proxy is parsed first), so the CLI accepts
    // exactly what createHost accepts.
    proxyFor('http://localhost/', choice)
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
 * from `env` now, as the host reads it when it is created; undefined when it goes direct.
 */
export function proxyInUse(url: string, proxy: string | undefined, env: NodeJS.ProcessEnv): ProxyUse | undefined {
  let endpoint: ProxyEndpoint | undefined
  try {
    endpoint = proxyFor(url, proxy, env)
  } catch (error) {
    // A malformed proxy variable: createHost refuses it the same way, naming the variable.
    if (error instanceof TypeError) throw new UsageError(error.message)
    throw error
  }
  if (endpoint === undefined) return undefined
  return {
    hostPort: hostPortOf(endpoint),
    hasCredentials: endpoint.hasCredentials,
    from: proxy === 'env' ? 'the environment' : '--proxy',
  }
}

/** The stderr line saying downloads go through a proxy. */
export function proxyNotice(command: string, use: ProxyUse): string {
  const credentials = use.hasCredentials ? ', with credentials' : ''
  return `tt-download ${command}: through the proxy ${use.hostPort} (from ${use.from}${credentials})\n`
}

function hostPortOf(endpoint: ProxyEndpoint): string {
  const host = isIP(endpoint.host) === 6 ? `[${endpoint.host}]` : endpoint.host
  return `${host}:${endpoint.port}`
}
