// The success result's `profile` (SPEC section 5), the network-type estimate and the derived
// phases of SPEC 10 (used by the CLI and the docs), in one place.
import type { BindingProfile } from './native.js'

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

export function buildProfile(times: QueueTimes, p: BindingProfile, dataLength: number): Profile {
  return {
    invokeStart: times.invokeStart,
    queueStart: times.queueStart,
    queueEnd: times.queueEnd,
    fetchStart: p.fetchStart,
    redirectStart: p.redirectStart,
    redirectEnd: p.redirectEnd,
    domainLookupStart: p.domainLookupStart,
    domainLookupEnd: p.domainLookupEnd,
    connectStart: p.connectStart,
    connectEnd: p.connectEnd,
    sslConnectionStart: p.sslConnectionStart,
    sslConnectionEnd: p.sslConnectionEnd,
    requestStart: p.requestStart,
    requestEnd: p.requestEnd,
    responseStart: p.responseStart,
    responseEnd: p.responseEnd,
    rtt: p.rtt,
    throughputKbps: p.throughputKbps,
    estimateNetType: estimateNetType(p.rtt, p.throughputKbps, dataLength),
    port: p.port,
    peerIP: p.peerIp,
    protocol: p.protocol,
    socketReused: p.socketReused,
    sentBytesCount: p.sentBytesCount,
    receivedBytesCount: p.receivedBytesCount,
    redirectCount: p.redirectCount,
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
