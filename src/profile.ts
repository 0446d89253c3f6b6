// The success result's `profile` (SPEC section 5), the network-type estimate and the derived
// phases of SPEC 10 (used by the CLI and the docs), in one place.
import { profileNumbersOrder } from './native.js'

export type EstimateNetType = 'slow 2g' | '2g' | '3g' | '4g' | 'unknown'

/** Times are epoch ms on the engine's clock (fractional allowed); SPEC 5 defines each field. */
export interface Profile {
  invokeStart: number
  queueStart: number
  queueEnd: number
  fetchStart: number
  redirectStart: number
  redirectEnd: number
  domainLookupStart: number
  domainLookupEnd: number
  connectStart: number
  connectEnd: number
  sslConnectionStart: number
  sslConnectionEnd: number
  requestStart: number
  requestEnd: number
  responseStart: number
  responseEnd: number
  /** Smoothed RTT of the connection at responseEnd, fractional ms; 0 where unavailable. */
  rtt: number
  throughputKbps: number
  estimateNetType: EstimateNetType
  port: number
  peerIP: string
  protocol: string
  socketReused: boolean
  sentBytesCount: number
  receivedBytesCount: number
  redirectCount: number
}

/** The TS layer's own times; all read from the native `now()`, the engine's clock. */
export interface QueueTimes {
  invokeStart: number
  queueStart: number
  queueEnd: number
}

/** The fields the engine measures (NOT_MEASURED names the rest). */
type EngineNumber = Exclude<keyof Profile, keyof QueueTimes | 'estimateNetType' | 'peerIP' | 'protocol'>

/** The engine's order of its numbers (crates/node/src/convert.rs `PROFILE_FIELDS`, its one table). */
export const ENGINE_PROFILE_ORDER: readonly string[] = Object.freeze(profileNumbersOrder())

/** Where each number sits, from the engine's order. */
const AT = Object.freeze(Object.fromEntries(ENGINE_PROFILE_ORDER.map((name, i) => [name, i]))) as Readonly<Record<EngineNumber, number>>

/** The Profile fields that are not the engine's numbers. */
const NOT_MEASURED = new Set<string>(['invokeStart', 'queueStart', 'queueEnd', 'estimateNetType', 'peerIP', 'protocol'])

/** What the engine measured, as the binding delivers it. */
export interface MeasuredProfile {
  /** The batch's numbers; this profile's, in the order of ENGINE_PROFILE_ORDER, start at `at`. */
  numbers: Float64Array
  at: number
  peerIp: string
  protocol: string
}

/** In bounds: buildProfile checks the profile's range once. */
const numberAt = (numbers: Float64Array, i: number): number => numbers[i] as number

export function buildProfile(times: QueueTimes, m: MeasuredProfile, dataLength: number): Profile {
  const o = m.at
  if (!(Number.isInteger(o) && o >= 0 && o + ENGINE_PROFILE_ORDER.length <= m.numbers.length)) {
    throw new Error(`engine profile at ${o} lies outside the ${m.numbers.length} numbers of its batch`)
  }
  // Indexed in place (a subarray view per download would be one more object to collect),
  // through a module-level reader: a closure made per call costs an allocation and calls
  // V8 must inline into this function and into every caller it inlines this one into.
  const n = m.numbers
  const rtt = numberAt(n, o + AT.rtt)
  const throughputKbps = numberAt(n, o + AT.throughputKbps)
  // One literal in SPEC 5's field order.
  return {
    invokeStart: times.invokeStart,
    queueStart: times.queueStart,
    queueEnd: times.queueEnd,
    fetchStart: numberAt(n, o + AT.fetchStart),
    redirectStart: numberAt(n, o + AT.redirectStart),
    redirectEnd: numberAt(n, o + AT.redirectEnd),
    domainLookupStart: numberAt(n, o + AT.domainLookupStart),
    domainLookupEnd: numberAt(n, o + AT.domainLookupEnd),
    connectStart: numberAt(n, o + AT.connectStart),
    connectEnd: numberAt(n, o + AT.connectEnd),
    sslConnectionStart: numberAt(n, o + AT.sslConnectionStart),
    sslConnectionEnd: numberAt(n, o + AT.sslConnectionEnd),
    requestStart: numberAt(n, o + AT.requestStart),
    requestEnd: numberAt(n, o + AT.requestEnd),
    responseStart: numberAt(n, o + AT.responseStart),
    responseEnd: numberAt(n, o + AT.responseEnd),
    rtt,
    throughputKbps,
    estimateNetType: estimateNetType(rtt, throughputKbps, dataLength),
    port: numberAt(n, o + AT.port),
    peerIP: m.peerIp,
    protocol: m.protocol,
    socketReused: numberAt(n, o + AT.socketReused) === 1,
    sentBytesCount: numberAt(n, o + AT.sentBytesCount),
    receivedBytesCount: numberAt(n, o + AT.receivedBytesCount),
    redirectCount: numberAt(n, o + AT.redirectCount),
  }
}

/** Below this a body is too short for its throughput to say anything about the network. */
export const THROUGHPUT_MIN_BYTES = 64 * 1024

/**
 * The Network Information API's effective-type table: the first row whose rtt or throughput
 * bound is met wins. An rtt of 0 means "not measured" (no TCP_INFO), and throughput of a
 * body under 64 KiB is ignored; with neither, the answer is 'unknown'.
 */
export function estimateNetType(rtt: number, throughputKbps: number, bodyBytes: number): EstimateNetType {
  const rttKnown = rtt > 0
  const kbpsKnown = bodyBytes >= THROUGHPUT_MIN_BYTES && throughputKbps > 0
  if (!rttKnown && !kbpsKnown) return 'unknown'
  // What is not measured counts as fast, so only a measured value can make a row match.
  const r = rttKnown ? rtt : 0
  const k = kbpsKnown ? throughputKbps : Infinity
  if (r >= 2000 || k <= 50) return 'slow 2g'
  if (r >= 1400 || k <= 70) return '2g'
  if (r >= 270 || k <= 700) return '3g'
  return '4g'
}

/** SPEC 10's derived phases, ms. */
export interface Phases {
  dns: number
  connect: number
  tls: number
  firstByte: number
  transfer: number
}

export function phasesOf(p: Profile): Phases {
  return {
    dns: p.domainLookupEnd - p.domainLookupStart,
    connect: (p.sslConnectionStart || p.connectEnd) - p.connectStart,
    tls: p.sslConnectionEnd - p.sslConnectionStart,
    firstByte: p.responseStart - p.requestStart,
    transfer: p.responseEnd - p.responseStart,
  }
}

// An addon from another build may measure other fields: a profile read from its order must
// fill every field from exactly one number (numbered 2, 3, ... so that none reads as 0, 1 or
// a repeat), or nothing loads.
{
  const numbers = Float64Array.from(ENGINE_PROFILE_ORDER, (_, i) => i + 2)
  const probe = buildProfile({ invokeStart: 0, queueStart: 0, queueEnd: 0 }, { numbers, at: 0, peerIp: '', protocol: '' }, 0)
  const measured = Object.entries(probe).filter(([name]) => !NOT_MEASURED.has(name))
  const read = new Set(measured.map(([name, value]) => (name === 'socketReused' ? numbers[AT.socketReused] : value)))
  if (
    measured.length !== ENGINE_PROFILE_ORDER.length ||
    read.size !== measured.length ||
    [...read].some((v) => typeof v !== 'number' || !(v >= 2))
  ) {
    throw new Error(`the native addon's profile fields (${ENGINE_PROFILE_ORDER.join(', ')}) are not this build's: reinstall tt-download`)
  }
}
