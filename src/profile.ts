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
export const PROFILE_NUMBERS = [
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
  /** The batch's numbers; this profile's, in the order of PROFILE_NUMBERS, start at `at`. */
  numbers: Float64Array
  at: number
  peerIp: string
  protocol: string
}

export function buildProfile(times: QueueTimes, m: MeasuredProfile, dataLength: number): Profile {
  if (!(Number.isInteger(m.at) && m.at >= 0 && m.at + PROFILE_NUMBERS.length <= m.numbers.length)) {
    throw new Error(`engine profile at ${m.at} lies outside the ${m.numbers.length} numbers of its batch`)
  }
  const n = m.numbers.subarray(m.at, m.at + PROFILE_NUMBERS.length)
  const rtt = n[13] as number
  const throughputKbps = n[14] as number
  // One literal in SPEC 5's field order; indexes follow PROFILE_NUMBERS.
  return {
    invokeStart: times.invokeStart,
    queueStart: times.queueStart,
    queueEnd: times.queueEnd,
    fetchStart: n[0] as number,
    redirectStart: n[1] as number,
    redirectEnd: n[2] as number,
    domainLookupStart: n[3] as number,
    domainLookupEnd: n[4] as number,
    connectStart: n[5] as number,
    connectEnd: n[6] as number,
    sslConnectionStart: n[7] as number,
    sslConnectionEnd: n[8] as number,
    requestStart: n[9] as number,
    requestEnd: n[10] as number,
    responseStart: n[11] as number,
    responseEnd: n[12] as number,
    rtt,
    throughputKbps,
    estimateNetType: estimateNetType(rtt, throughputKbps, dataLength),
    port: n[15] as number,
    peerIP: m.peerIp,
    protocol: m.protocol,
    socketReused: n[16] === 1,
    sentBytesCount: n[17] as number,
    receivedBytesCount: n[18] as number,
    redirectCount: n[19] as number,
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
  const slowerThan = (minRtt: number, maxKbps: number): boolean =>
    (rttKnown && rtt >= minRtt) || (kbpsKnown && throughputKbps <= maxKbps)
  if (slowerThan(2000, 50)) return 'slow 2g'
  if (slowerThan(1400, 70)) return '2g'
  if (slowerThan(270, 700)) return '3g'
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
