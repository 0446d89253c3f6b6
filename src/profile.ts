// The success result's `profile` (SPEC section 5), the network-type estimate and the derived
// phases of SPEC 10 (used by the CLI and the docs), in one place.

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

/** The order of the engine's profile numbers (binding `profileNumbersOrder()`). */
export const ENGINE_PROFILE_ORDER = [
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
  'socketReused',
  'sentBytesCount',
  'receivedBytesCount',
  'redirectCount',
] as const

/** What the engine measured, as the binding delivers it. */
export interface MeasuredProfile {
  /** The batch's numbers; this profile's, in the order of ENGINE_PROFILE_ORDER, start at `at`. */
  numbers: Float64Array
  at: number
  peerIp: string
  protocol: string
}

export function buildProfile(times: QueueTimes, m: MeasuredProfile, dataLength: number): Profile {
  const o = m.at
  if (!(Number.isInteger(o) && o >= 0 && o + ENGINE_PROFILE_ORDER.length <= m.numbers.length)) {
    throw new Error(`engine profile at ${o} lies outside the ${m.numbers.length} numbers of its batch`)
  }
  // Indexed in place (a subarray view per download would be one more object to collect).
  const n = m.numbers
  const rtt = n[o + 13] as number
  const throughputKbps = n[o + 14] as number
  // One literal in SPEC 5's field order; offsets follow ENGINE_PROFILE_ORDER.
  return {
    invokeStart: times.invokeStart,
    queueStart: times.queueStart,
    queueEnd: times.queueEnd,
    fetchStart: n[o] as number,
    redirectStart: n[o + 1] as number,
    redirectEnd: n[o + 2] as number,
    domainLookupStart: n[o + 3] as number,
    domainLookupEnd: n[o + 4] as number,
    connectStart: n[o + 5] as number,
    connectEnd: n[o + 6] as number,
    sslConnectionStart: n[o + 7] as number,
    sslConnectionEnd: n[o + 8] as number,
    requestStart: n[o + 9] as number,
    requestEnd: n[o + 10] as number,
    responseStart: n[o + 11] as number,
    responseEnd: n[o + 12] as number,
    rtt,
    throughputKbps,
    estimateNetType: estimateNetType(rtt, throughputKbps, dataLength),
    port: n[o + 15] as number,
    peerIP: m.peerIp,
    protocol: m.protocol,
    socketReused: n[o + 16] === 1,
    sentBytesCount: n[o + 17] as number,
    receivedBytesCount: n[o + 18] as number,
    redirectCount: n[o + 19] as number,
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
