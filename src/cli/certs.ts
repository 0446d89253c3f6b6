// Certificates for `tt-download demo` (which the tests and the bench's nginx reuse): a throwaway
// CA and the server certificates it issues, ECDSA P-256 (fast to generate, accepted by
// node:tls, OpenSSL and rustls/webpki), keys as PKCS#8 PEM as node:tls expects.
//
// Written against node:crypto alone, with the few DER encoders an X.509 v3 certificate needs:
// the demo ships in the package, and an X.509 library would be a runtime dependency (18
// packages, 5 MB) of every user for a command most never run.
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { isIP } from 'node:net'

export interface Pem {
  cert: string
  key: string
}

export interface CertificateSpec {
  commonName: string
  /** DNS names or IP literals (subjectAltName): a server certificate. Without: a CA. */
  hosts?: string[]
  notBefore: Date
  notAfter: Date
  /** The CA that signs it; without, the certificate signs itself. */
  issuer?: Pem
}

const DAY = 24 * 60 * 60 * 1000

/** A self-signed certificate authority (CA:true, keyCertSign), valid from yesterday for 10y. */
export async function createCA(opts: { commonName?: string } = {}): Promise<Pem> {
  const now = Date.now()
  return certificate({
    commonName: opts.commonName ?? 'tt-download test CA',
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 3650 * DAY),
  })
}

/**
 * A server certificate for `hosts` (DNS names or IP literals) signed by `ca`. Default validity:
 * from yesterday for 30 days; pass dates in the past for an expired one, in the future for one
 * not yet valid.
 */
export async function issueCert(ca: Pem, opts: { hosts: string[]; notBefore?: Date; notAfter?: Date }): Promise<Pem> {
  if (opts.hosts.length === 0) throw new TypeError('issueCert: hosts must not be empty')
  const now = Date.now()
  return certificate({
    commonName: opts.hosts[0]!,
    hosts: opts.hosts,
    notBefore: opts.notBefore ?? new Date(now - DAY),
    notAfter: opts.notAfter ?? new Date(now + 30 * DAY),
    issuer: ca,
  })
}

/** One X.509 v3 certificate (RFC 5280) and its new key pair. */
export function certificate(spec: CertificateSpec): Pem {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const publicKey = keys.publicKey.export({ type: 'spki', format: 'der' })
  const subject = name(spec.commonName)
  let issuerName = subject
  let issuerKeyId: Buffer | undefined
  let signingKey: KeyObject = keys.privateKey
  if (spec.issuer !== undefined) {
    const issuerCert = new X509Certificate(spec.issuer.cert)
    // The issuer's subject as its certificate encodes it: chains are matched byte for byte.
    issuerName = subjectOf(issuerCert.raw)
    issuerKeyId = keyId(issuerCert.publicKey.export({ type: 'spki', format: 'der' }))
    signingKey = createPrivateKey(spec.issuer.key)
  }
  const isCa = spec.hosts === undefined
  const extensions = [
    extension(OID.basicConstraints, true, seq(...(isCa ? [der(0x01, Buffer.from([0xff]))] : []))),
    // keyCertSign + cRLSign for a CA (bits 5, 6), digitalSignature for a server (bit 0).
    extension(OID.keyUsage, true, isCa ? der(0x03, Buffer.from([0x01, 0x06])) : der(0x03, Buffer.from([0x07, 0x80]))),
    ...(isCa
      ? []
      : [extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth))), extension(OID.subjectAltName, false, altNames(spec.hosts!))]),
    extension(OID.subjectKeyIdentifier, false, der(0x04, keyId(publicKey))),
    ...(issuerKeyId === undefined ? [] : [extension(OID.authorityKeyIdentifier, false, seq(der(0x80, issuerKeyId)))]),
  ]
  const signatureAlgorithm = seq(oid(OID.ecdsaWithSha256))
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))), // v3
    der(0x02, serialNumber()),
    signatureAlgorithm,
    issuerName,
    seq(time(spec.notBefore), time(spec.notAfter)),
    subject,
    publicKey,
    der(0xa3, seq(...extensions)),
  )
  const signature = sign('sha256', tbs, { key: signingKey, dsaEncoding: 'der' })
  const cert = seq(tbs, signatureAlgorithm, bitString(signature))
  return { cert: pem(cert, 'CERTIFICATE'), key: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string }
}

const OID = {
  commonName: '2.5.4.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const

/** One DER TLV: tag, definite length, content. */
function der(tag: number, content: Buffer): Buffer {
  const n = content.length
  const length = n < 0x80 ? Buffer.from([n]) : lengthBytes(n)
  return Buffer.concat([Buffer.from([tag]), length, content])
}

function lengthBytes(n: number): Buffer {
  const bytes: number[] = []
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}

function seq(...parts: Buffer[]): Buffer {
  return der(0x30, Buffer.concat(parts))
}

function oid(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number)
  const bytes = [first! * 40 + second!]
  for (const arc of rest) {
    const base128 = [arc & 0x7f]
    for (let v = arc >>> 7; v > 0; v >>>= 7) base128.unshift((v & 0x7f) | 0x80)
    bytes.push(...base128)
  }
  return der(0x06, Buffer.from(bytes))
}

function bitString(content: Buffer): Buffer {
  return der(0x03, Buffer.concat([Buffer.from([0]), content]))
}

/** `CN=<commonName>` as a one-attribute Name, the value a UTF8String (no escaping needed in DER). */
function name(commonName: string): Buffer {
  return seq(der(0x31, seq(oid(OID.commonName), der(0x0c, Buffer.from(commonName, 'utf8')))))
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5), to the second. */
function time(date: Date): Buffer {
  const digits = date.toISOString().replace(/[-:T]|\.\d+/g, '') // YYYYMMDDHHMMSSZ
  return date.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(digits.slice(2))) : der(0x18, Buffer.from(digits))
}

/**
 * A positive serial with a non-zero first byte, so its DER INTEGER is minimal and never negative
 * (webpki rejects negative serials; RFC 5280 asks for positive ones of at most 20 bytes).
 */
function serialNumber(): Buffer {
  const bytes = randomBytes(16)
  bytes[0] = (bytes[0]! & 0x3f) | 0x40
  return bytes
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [der(0x01, Buffer.from([0xff]))] : []), der(0x04, value))
}

/** dNSName [2] or iPAddress [7] per host. */
function altNames(hosts: string[]): Buffer {
  return seq(...hosts.map((host) => (isIP(host) === 0 ? der(0x82, Buffer.from(host, 'ascii')) : der(0x87, ipBytes(host)))))
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number))
  const [head = '', tail] = ip.split('::')
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)))
  const left = groups(head)
  const right = tail === undefined ? [] : groups(tail)
  const words = [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right]
  return Buffer.from(words.flatMap((word) => [word >> 8, word & 0xff]))
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits of a SubjectPublicKeyInfo. */
function keyId(spki: Buffer): Buffer {
  const [, key] = children(spki)
  return createHash('sha1').update(key!.content.subarray(1)).digest()
}

/** The subject Name (a whole TLV) of a DER certificate. */
function subjectOf(cert: Buffer): Buffer {
  const [tbs] = children(cert)
  // version [0], serialNumber, signature, issuer, validity, subject
  const fields = children(tbs!.whole)
  return fields[fields[0]!.tag === 0xa0 ? 5 : 4]!.whole
}

interface Tlv {
  tag: number
  content: Buffer
  whole: Buffer
}

/** The TLVs inside the constructed TLV `outer`. */
function children(outer: Buffer): Tlv[] {
  const inner = read(outer, 0).content
  const found: Tlv[] = []
  for (let at = 0; at < inner.length;) {
    const tlv = read(inner, at)
    found.push(tlv)
    at += tlv.whole.length
  }
  return found
}

function read(buffer: Buffer, at: number): Tlv {
  const first = buffer[at + 1]!
  let length = first
  let start = at + 2
  if (first & 0x80) {
    length = 0
    for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + buffer[start + i]!
    start += first & 0x7f
  }
  return { tag: buffer[at]!, content: buffer.subarray(start, start + length), whole: buffer.subarray(at, start + length) }
}

function pem(body: Buffer, label: string): string {
  const lines = body.toString('base64').match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`
}
