// Assertions shared by the specs: the fail rows of SPEC section 7, the success result shape
// (section 3), the profile invariants (section 5) and "nothing left on disk".
import type { ExecutionContext } from 'ava'
import type { DownloadFail } from '../../src/index.js'
import { sandboxFiles, stagingFiles } from './fs.js'
import type { Run, Success } from './record.js'

export const TEMP_PATH = /^ttfile:\/\/temp\/[0-9a-f]{32}(\.[a-z0-9]{1,10})?$/

/** Asserts a fail object against one row of SPEC section 7, exactly. */
export function assertFail(
  t: ExecutionContext,
  fail: DownloadFail | undefined,
  errNo: number,
  detail: string | RegExp,
  errorType: 'D' | 'U' | 'F',
): void {
  if (typeof detail === 'string') {
    t.deepEqual(fail, { errMsg: `downloadFile:fail ${detail}`, errNo, errorCode: errNo, errorType })
    return
  }
  t.truthy(fail, 'a fail result')
  t.deepEqual(Object.keys(fail ?? {}).sort(), ['errMsg', 'errNo', 'errorCode', 'errorType'])
  t.is(fail?.errNo, errNo)
  t.is(fail?.errorCode, errNo)
  t.is(fail?.errorType, errorType)
  t.true(fail?.errMsg.startsWith('downloadFile:fail '), `errMsg ${fail?.errMsg}`)
  t.regex(fail?.errMsg.slice('downloadFile:fail '.length) ?? '', detail)
}

/** The success/fail/complete calls of a run, in order. */
function outcomes(run: Run): string[] {
  return run.events.map((e) => e.type).filter((type) => type !== 'headers' && type !== 'progress')
}

/** A run ended in fail (never success) with the given row, then complete with the same object. */
export function assertFailedRun(t: ExecutionContext, run: Run, errNo: number, detail: string | RegExp, errorType: 'D' | 'U' | 'F'): void {
  t.is(run.success, undefined, 'success must not be called')
  assertFail(t, run.fail, errNo, detail, errorType)
  t.deepEqual(run.complete, run.fail, 'complete receives the fail result')
  t.deepEqual(outcomes(run), ['fail', 'complete'])
  t.is(run.events[run.events.length - 1]?.type, 'complete', 'complete comes last')
  t.false(
    run.events.some((e) => e.sync),
    'nothing is called inside downloadFile',
  )
}

/** A run ended in success (never fail), then complete with the same object; returns the result. */
export function assertSucceededRun(t: ExecutionContext, run: Run): Success {
  t.is(run.fail, undefined, `fail must not be called: ${JSON.stringify(run.fail)}`)
  t.truthy(run.success, 'success was called')
  t.deepEqual(run.complete, run.success, 'complete receives the success result')
  t.deepEqual(outcomes(run), ['success', 'complete'])
  t.false(
    run.events.some((e) => e.sync),
    'nothing is called inside downloadFile',
  )
  return run.success!
}

/** The success result shape of SPEC section 3. */
export function assertSuccessShape(
  t: ExecutionContext,
  res: Success,
  expected: { statusCode: number; dataLength: number; filePath?: string },
): void {
  t.is(res.errMsg, 'downloadFile:ok')
  t.is(res.statusCode, expected.statusCode)
  t.is(typeof res.statusCode, 'number')
  t.is(res.dataLength, expected.dataLength)
  t.is(typeof res.header, 'object')
  for (const [name, value] of Object.entries(res.header)) {
    t.is(name, name.toLowerCase(), `header name ${name} is lower-case`)
    t.is(typeof value, 'string', `header ${name} is a string`)
  }
  if (expected.filePath !== undefined) {
    t.is(res.filePath, expected.filePath)
    t.is(res.tempFilePath, undefined, 'no tempFilePath with filePath')
  } else {
    t.regex(res.tempFilePath ?? '', TEMP_PATH)
    t.is(res.filePath, undefined, 'no filePath without filePath')
  }
}

export const PROFILE_NUMBERS = [
  'invokeStart',
  'queueStart',
  'queueEnd',
  'fetchStart',
  'redirectStart',
  'redirectEnd',
  'domainLookupStart',
  'domainLookupEnd',
  'connectStart',
  'connectEnd',
  'sslConnectionStart',
  'sslConnectionEnd',
  'requestStart',
  'requestEnd',
  'responseStart',
  'responseEnd',
  'rtt',
  'throughputKbps',
  'port',
  'sentBytesCount',
  'receivedBytesCount',
  'redirectCount',
] as const

export interface ProfileExpectation {
  protocol: 'http/1.1' | 'h2'
  tls: boolean
  port: number
  /** Date.now() taken just before downloadFile was called. */
  startedAt: number
  /** The body bytes of the final response. */
  dataLength: number
  /** Host names mapped by `resolve` or IP literals: no lookup, DNS fields equal fetchStart. */
  noLookup?: boolean
  /** Expect a fresh connection (true) or a pooled one (false); unchecked when absent. */
  reused?: boolean
  redirectCount?: number
}

/**
 * SPEC section 5: every field present and of its type, the phases in order on one clock, and the
 * connection facts. Orderings are `<=`: loopback phases can take less than the clock resolves.
 */
export function assertProfile(t: ExecutionContext, profile: unknown, exp: ProfileExpectation): void {
  t.truthy(profile, 'profile present')
  const p = profile as Record<string, unknown>
  for (const key of PROFILE_NUMBERS) {
    t.is(typeof p[key], 'number', `profile.${key} is a number`)
    const value = p[key] as number
    t.true(Number.isFinite(value) && value >= 0, `profile.${key} = ${value}`)
  }
  t.is(typeof p.socketReused, 'boolean')
  t.is(typeof p.peerIP, 'string')
  const netTypes = ['slow 2g', '2g', '3g', '4g', 'unknown']
  t.true(netTypes.includes(p.estimateNetType as string), `estimateNetType ${p.estimateNetType}`)
  const n = (key: string) => p[key] as number

  t.is(p.protocol, exp.protocol)
  t.is(n('port'), exp.port)
  t.is(p.peerIP, '127.0.0.1')
  t.is(n('redirectCount'), exp.redirectCount ?? 0)
  if (exp.reused !== undefined) t.is(p.socketReused, exp.reused)

  // One clock, anchored to wall time: invokeStart is close to Date.now() at the call.
  t.true(Math.abs(n('invokeStart') - exp.startedAt) < 1000, `invokeStart ${n('invokeStart')} vs Date.now() ${exp.startedAt}`)

  const order = (keys: string[]) => {
    for (let i = 1; i < keys.length; i++) {
      const [a, b] = [keys[i - 1]!, keys[i]!]
      t.true(n(a) <= n(b), `${a} (${n(a)}) <= ${b} (${n(b)})`)
    }
  }
  order(['invokeStart', 'queueStart', 'queueEnd', 'fetchStart'])
  order(['fetchStart', 'domainLookupStart', 'domainLookupEnd', 'connectStart'])
  order(['connectStart', 'connectEnd', 'requestStart'])
  order(['requestStart', 'requestEnd', 'responseStart', 'responseEnd'])

  if (exp.noLookup) {
    t.is(n('domainLookupStart'), n('fetchStart'), 'no lookup: domainLookupStart equals fetchStart')
    t.is(n('domainLookupEnd'), n('fetchStart'), 'no lookup: domainLookupEnd equals fetchStart')
  }
  if (p.socketReused === true) {
    t.is(n('connectStart'), n('fetchStart'), 'reused socket: connectStart equals fetchStart')
    t.is(n('connectEnd'), n('fetchStart'), 'reused socket: connectEnd equals fetchStart')
    t.is(n('sslConnectionStart'), 0, 'reused socket: sslConnectionStart 0')
    t.is(n('sslConnectionEnd'), 0, 'reused socket: sslConnectionEnd 0')
  } else if (exp.tls) {
    order(['connectStart', 'sslConnectionStart', 'sslConnectionEnd', 'connectEnd'])
    t.true(n('sslConnectionStart') > 0, 'TLS: sslConnectionStart set')
  } else {
    t.is(n('sslConnectionStart'), 0, 'plain http: sslConnectionStart 0')
    t.is(n('sslConnectionEnd'), 0, 'plain http: sslConnectionEnd 0')
  }

  if ((exp.redirectCount ?? 0) === 0) {
    t.is(n('redirectStart'), 0, 'no redirect: redirectStart 0')
    t.is(n('redirectEnd'), 0, 'no redirect: redirectEnd 0')
  } else {
    order(['fetchStart', 'redirectStart', 'redirectEnd', 'responseStart'])
  }

  t.true(n('sentBytesCount') > 0, 'request bytes counted')
  t.true(n('receivedBytesCount') >= exp.dataLength, `receivedBytesCount ${n('receivedBytesCount')} >= body ${exp.dataLength}`)
}

/** No file under temp/ or user/ besides `keep`, and nothing in staging; true if so. */
export async function assertNoLeftovers(t: ExecutionContext, dataDir: string, keep: string[] = []): Promise<boolean> {
  const staging = t.deepEqual(await stagingFiles(dataDir), [], 'staging is empty')
  const sandbox = t.deepEqual(await sandboxFiles(dataDir), [...keep].sort(), 'no partial file')
  return staging && sandbox
}
