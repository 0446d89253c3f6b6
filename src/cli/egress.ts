// The egress side of `get` and `bench` (SPEC 9, 11): `--allow` and `--allow-private` as
// `HostConfig.egress`, and the hint printed when the policy refused a download: which
// address, and the flag that would allow it. The fail object never names the address (SPEC
// 11), so the hint reads it where an operator would, from the diagnostics channel (SPEC 12).
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { isIP } from 'node:net'
import { checkEgressConfig } from '../index.js'
import type { DownloadFailMessage, EgressConfig } from '../index.js'
import { UsageError } from './usage-error.js'

/**
 * `HostConfig.egress` from `--allow` and `--allow-private`. Each `--allow` value is checked by
 * the engine's own parser (the rule createHost applies), so a malformed one is bad usage
 * that names the flag and the value.
 */
export function egressOf(allow: string[] | undefined, allowPrivate: boolean | undefined): EgressConfig | undefined {
  if (allow === undefined && allowPrivate !== true) return undefined
  const egress: EgressConfig = {}
  if (allow !== undefined) egress.allow = allow.map(checkAllow)
  if (allowPrivate === true) egress.allowPrivate = true
  return egress
}

function checkAllow(value: string): string {
  try {
    checkEgressConfig({ allow: [value] })
  } catch (error) {
    const why = (error instanceof Error ? error.message : String(error)).replace(/^createHost: (egress: )?/, '')
    throw new UsageError(`--allow must be an IP address or CIDR such as 10.1.0.0/16 or ::1/128: ${why}`)
  }
  return value
}

export interface RefusalWatch {
  /** The lines to print on stderr, or undefined when nothing was refused. */
  hint(command: string): string | undefined
  stop(): void
}

const FAIL_CHANNEL = 'tt-download:download:fail'

/** Collects the `refused` addresses of the fail messages of `appId`'s downloads. */
export function watchRefusals(appId: string): RefusalWatch {
  // In the order first seen, each once, however many downloads met it.
  const refused = new Set<string>()
  const onFail = (message: unknown): void => {
    const fail = message as DownloadFailMessage
    if (fail.appId !== appId || fail.refused === undefined) return
    for (const address of fail.refused) refused.add(address)
  }
  subscribe(FAIL_CHANNEL, onFail)
  return {
    hint(command) {
      if (refused.size === 0) return undefined
      const addresses = [...refused]
      const flags = addresses.map((address) => `--allow ${hostRange(address)}`).join(' ')
      const them = addresses.length === 1 ? 'it' : 'them'
      return (
        `tt-download ${command}: the egress policy refused ${addresses.join(', ')} ` +
        `(private and special ranges are refused by default)\n` +
        `tt-download ${command}: ${flags} would allow ${them} (--allow-private: every private range)\n`
      )
    },
    stop() {
      unsubscribe(FAIL_CHANNEL, onFail)
    },
  }
}

/** The narrowest `--allow` value for one address: a /32 or /128. */
function hostRange(address: string): string {
  const bare = address.replace(/^\[(.*)\]$/, '$1')
  const family = isIP(bare)
  return family === 4 ? `${bare}/32` : family === 6 ? `${bare}/128` : bare
}
