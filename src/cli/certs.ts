// Certificate generation for the CLI demo and the tests: a throwaway CA, leaf certificates it
// issues, and untrusted self-signed leaves. ECDSA P-256 keys (fast to generate, accepted by
// node:tls and by rustls/webpki). Keys are PKCS#8 PEM, as node:tls expects.
import { isIP } from 'node:net'
import { randomBytes, webcrypto } from 'node:crypto'
import * as x509 from '@peculiar/x509'

export interface Pem {
  cert: string
  key: string
}

// The typings of @peculiar/x509 name the DOM's WebCrypto types; node's webcrypto implements them.
type X509Crypto = NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>
type X509KeyPair = x509.X509CertificateCreateSelfSignedParams['keys']
const crypto = webcrypto as unknown as X509Crypto

const KEY_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const
const SIGN_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const
const DAY = 24 * 60 * 60 * 1000

async function generateKeyPair(): Promise<X509KeyPair> {
  const keys = await crypto.subtle.generateKey(KEY_ALG, true, ['sign', 'verify'])
  return keys as X509KeyPair
}

async function exportKey(key: X509KeyPair['privateKey']): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key)
  return x509.PemConverter.encode(der, 'PRIVATE KEY')
}

// A positive serial with a non-zero first byte, so its DER INTEGER is minimal and never negative
// (webpki rejects negative serials; RFC 5280 asks for positive ones of at most 20 bytes).
function randomSerial(): string {
  const bytes = randomBytes(16)
  bytes[0] = (bytes[0]! & 0x3f) | 0x40
  return bytes.toString('hex')
}

function sanNames(hosts: string[]): x509.JsonGeneralName[] {
  return hosts.map((host) => (isIP(host) ? { type: 'ip', value: host } : { type: 'dns', value: host }))
}

function dnValue(value: string): string {
  // RFC 4514 escaping for the few characters a common name may carry.
  return value.replace(/([,+"\\<>;=])/g, '\\$1')
}

function leafExtensions(hosts: string[]): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension(sanNames(hosts)),
  ]
}

async function toPem(cert: x509.X509Certificate, keys: X509KeyPair): Promise<Pem> {
  return { cert: cert.toString('pem') + '\n', key: await exportKey(keys.privateKey) }
}

/** A self-signed certificate authority (CA:true, keyCertSign), valid from yesterday for 10y. */
export async function createCA(opts: { commonName?: string } = {}): Promise<Pem> {
  const keys = await generateKeyPair()
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: `CN=${dnValue(opts.commonName ?? 'tt-download test CA')}`,
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 3650 * DAY),
      signingAlgorithm: SIGN_ALG,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  )
  return toPem(cert, keys)
}

/**
 * A server certificate for `hosts` (DNS names or IP literals) signed by `ca`. Default validity:
 * from yesterday for 30 days; pass dates in the past for an expired one, in the future for one
 * not yet valid.
 */
export async function issueCert(ca: Pem, opts: { hosts: string[]; notBefore?: Date; notAfter?: Date }): Promise<Pem> {
  if (opts.hosts.length === 0) throw new TypeError('issueCert: hosts must not be empty')
  const caCert = new x509.X509Certificate(ca.cert)
  const caKey = await crypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(ca.key), KEY_ALG, false, ['sign'])
  const keys = await generateKeyPair()
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: `CN=${dnValue(opts.hosts[0]!)}`,
      issuer: caCert.subject,
      notBefore: opts.notBefore ?? new Date(now - DAY),
      notAfter: opts.notAfter ?? new Date(now + 30 * DAY),
      signingAlgorithm: SIGN_ALG,
      publicKey: keys.publicKey,
      signingKey: caKey,
      extensions: [
        ...leafExtensions(opts.hosts),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false, crypto),
      ],
    },
    crypto,
  )
  return toPem(cert, keys)
}

/** A self-signed server certificate for `hosts`: well formed, but trusted by nobody. */
export async function selfSigned(opts: { hosts: string[] }): Promise<Pem> {
  if (opts.hosts.length === 0) throw new TypeError('selfSigned: hosts must not be empty')
  const keys = await generateKeyPair()
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: `CN=${dnValue(opts.hosts[0]!)}`,
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 30 * DAY),
      signingAlgorithm: SIGN_ALG,
      keys,
      extensions: [...leafExtensions(opts.hosts), await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto)],
    },
    crypto,
  )
  return toPem(cert, keys)
}
