// Hosts for tests, each with its own dataDir, closed and removed in the test's teardown.
import type { ExecutionContext } from 'ava'
import { createHost, type Host, type HostConfig } from '../../src/index.js'
import { makeTmpDir } from './fs.js'
import { POLICY_RESOLVE } from './policy-servers.js'
import { certKit, TEST_HOST } from './tls.js'

/** What every host the tests create against their own loopback servers sets. */
export const LOOPBACK_EGRESS = { allow: ['127.0.0.0/8', '::1/128'] }

export interface TestHost {
  host: Host
  dataDir: string
}

/**
 * A host in `env: 'test'` with its own dataDir, `files.test` mapped to 127.0.0.1 and the test CA
 * trusted; `overrides` replace any of that. The host is closed and the dataDir removed in the
 * test's teardown (ava runs teardowns last-registered first: the host closes before its
 * directory goes, and before servers started earlier in the test).
 */
export async function makeHost(t: ExecutionContext, overrides: Partial<HostConfig> = {}): Promise<TestHost> {
  const kit = await certKit()
  const tmp = await makeTmpDir()
  t.teardown(() => tmp.cleanup())
  const host = createHost({
    appId: 'tt0123456789abcdef',
    env: 'test',
    dataDir: tmp.dir,
    resolve: { [TEST_HOST]: '127.0.0.1' },
    tls: { ca: kit.ca.cert },
    // The test servers are on this machine: loopback is allowed explicitly, as SPEC 11 asks.
    egress: LOOPBACK_EGRESS,
    ...overrides,
  })
  t.teardown(() => host.close())
  return { host, dataDir: overrides.dataDir ?? tmp.dir }
}

/**
 * makeHost in `env: 'release'` (https only; checkDomain on unless `overrides` turn it off) with
 * every name of the policy leaf mapped to loopback, so it reaches the servers of
 * policy-servers.ts by name.
 */
export function releaseHost(t: ExecutionContext, overrides: Partial<HostConfig> = {}): Promise<TestHost> {
  return makeHost(t, { env: 'release', resolve: POLICY_RESOLVE, ...overrides })
}
