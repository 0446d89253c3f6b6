// Argument parsing shared by the commands: node:util's parseArgs in strict mode, one error type
// for bad usage (exit status 2), and the host options `get` and `bench` have in common.
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import type { HostConfig } from '../index.js'
import { egressOf } from './egress.js'
import { proxyOf } from './proxy.js'
import { UsageError } from './usage-error.js'

export { UsageError }

type Options = NonNullable<ParseArgsConfig['options']>

/** Every command takes `-h`/`--help`: include it in the options given to `parse`. */
export const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const

type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>>

/** Strict parse (unknown options, missing values and ambiguous values are usage errors). */
export function parse<O extends Options>(args: string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

/** Exactly one `<url>` positional. */
export function oneUrl(positionals: string[]): string {
  if (positionals.length === 0) throw new UsageError('missing <url>')
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}' (exactly one <url>)`)
  return positionals[0]!
}

/** Decimal digits only (no `1e3`, `0x10` or `2.0`), within [min, max]: counts and milliseconds. */
export function intOption(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got '${value}'`)
  }
  return n
}

/** The appId of the CLI's host (it has exactly one). */
export const CLI_APP_ID = 'ttcli0000000000000'

/** The options `get` and `bench` share; parseArgs config and their usage text. */
export const HOST_OPTIONS = {
  'data-dir': { type: 'string' },
  env: { type: 'string' },
  domain: { type: 'string', multiple: true },
  ca: { type: 'string' },
  resolve: { type: 'string', multiple: true },
  allow: { type: 'string', multiple: true },
  'allow-private': { type: 'boolean' },
  proxy: { type: 'string' },
} as const

export const HOST_OPTIONS_USAGE = `  --env test|release   host env (default test): release allows https only
  --domain D           a download domain, scheme://host[:port]; repeatable. Given at
                       least once, the URL (and each redirect) must be in the list;
                       never given, nothing is checked
  --ca FILE            PEM file of extra trusted root certificates (on top of the
                       system roots)
  --resolve host:ip[,ip...]
                       connect to these addresses for host, like curl --resolve;
                       repeatable, one host each
  --allow CIDR         let downloads connect to this range or address (egress.allow),
                       e.g. 127.0.0.0/8 for a server on this machine; repeatable.
                       Loopback, private and other special ranges are refused by default
  --allow-private      turn the built-in refused ranges off (egress.allowPrivate)
  --proxy URL|env|none
                       send downloads through an HTTP proxy,
                       http://[user:password@]host[:port]; env (the default): the
                       proxy https_proxy or http_proxy names, unless no_proxy excludes
                       the host; none: connect directly. A proxy in use is named on
                       stderr, never its credentials
`

export interface HostOptionValues {
  'data-dir'?: string
  env?: string
  domain?: string[]
  ca?: string
  resolve?: string[]
  allow?: string[]
  'allow-private'?: boolean
  proxy?: string
}

/** HostConfig fields from the shared options (everything but `appId` and `dataDir`). */
export function hostConfigOf(values: HostOptionValues): Omit<HostConfig, 'appId' | 'dataDir'> {
  const env = values.env ?? 'test'
  if (env !== 'test' && env !== 'release') throw new UsageError(`--env must be test or release, got '${env}'`)
  const config: Omit<HostConfig, 'appId' | 'dataDir'> = { env }
  const domains = values.domain ?? []
  // SPEC 10: the CLI checks domains only when the user names some.
  config.domains = domains
  config.checkDomain = domains.length > 0
  if (values.ca !== undefined) {
    let pem: string
    try {
      pem = readFileSync(values.ca, 'utf8')
    } catch (error) {
      throw new UsageError(`--ca: cannot read '${values.ca}': ${(error as Error).message}`)
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new UsageError(`--ca: '${values.ca}' holds no PEM certificate`)
    }
    config.tls = { ca: pem }
  }
  if (values.resolve !== undefined) config.resolve = resolveOf(values.resolve)
  const egress = egressOf(values.allow, values['allow-private'])
  if (egress !== undefined) config.egress = egress
  const proxy = proxyOf(values.proxy)
  if (proxy !== undefined) config.proxy = proxy
  return config
}

/** `--resolve host:ip[,ip...]` entries: one address as a string, several as an array. */
function resolveOf(entries: string[]): Record<string, string | string[]> {
  const resolve: Record<string, string | string[]> = {}
  const seen = new Set<string>()
  for (const entry of entries) {
    // Split at the first colon: the host has none, an IPv6 address has several (and no comma).
    const at = entry.indexOf(':')
    const host = entry.slice(0, at)
    const ips = entry
      .slice(at + 1)
      .split(',')
      .map((ip) => ip.replace(/^\[(.*)\]$/, '$1'))
    if (at <= 0 || ips.some((ip) => isIP(ip) === 0)) {
      throw new UsageError(`--resolve must be host:ip[,ip...], got '${entry}'`)
    }
    // Two flags for one host would leave one silently unused: say how to give both.
    if (seen.has(host.toLowerCase())) {
      throw new UsageError(`--resolve: '${host}' given twice; give all its addresses in one --resolve ${host}:ip,ip`)
    }
    seen.add(host.toLowerCase())
    resolve[host] = ips.length === 1 ? ips[0]! : ips
  }
  return resolve
}
