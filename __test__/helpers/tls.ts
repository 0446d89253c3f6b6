// Certificates for a test run (generated fresh, never checked in) and HTTPS servers whose
// certificate is wrong in one specific way.
import { certificate, createCA, issueCert, type Pem } from '../../src/cli/certs.js'
import { startContentServer, type ContentMode, type ContentServer } from './content-server.js'

/** The name tests give loopback servers; hosts map it: `resolve: { [TEST_HOST]: '127.0.0.1' }`. */
export const TEST_HOST = 'files.test'
export const OTHER_HOST = 'other.test'

export interface CertKit {
  /** The test CA: pass `ca.cert` as `HostConfig.tls.ca`. */
  ca: Pem
  /** Valid for files.test, other.test, localhost, 127.0.0.1 and ::1, issued by `ca`. */
  leaf: Pem
  /** Issued by `ca` for files.test, but its validity ended yesterday. */
  expired: Pem
  /** Issued by `ca` for files.test, valid only from tomorrow. */
  notYetValid: Pem
  /** Issued by `ca`, valid, but only for wrong.test. */
  wrongHost: Pem
  /** Self-signed for files.test: trusted by nobody. */
  selfSigned: Pem
  /** Issued for files.test by a second CA the host does not trust. */
  untrustedIssuer: Pem
}

const DAY = 24 * 60 * 60 * 1000
let kit: Promise<CertKit> | undefined

/** One kit per test process (ava runs each file in its own process): it costs ~100 ms. */
export function certKit(): Promise<CertKit> {
  kit ??= (async () => {
    const now = Date.now()
    const ca = await createCA({ commonName: 'tt-download test CA' })
    const otherCa = await createCA({ commonName: 'untrusted test CA' })
    return {
      ca,
      leaf: await issueCert(ca, {
        hosts: [TEST_HOST, OTHER_HOST, 'localhost', '127.0.0.1', '::1'],
      }),
      expired: await issueCert(ca, {
        hosts: [TEST_HOST],
        notBefore: new Date(now - 30 * DAY),
        notAfter: new Date(now - DAY),
      }),
      notYetValid: await issueCert(ca, {
        hosts: [TEST_HOST],
        notBefore: new Date(now + DAY),
        notAfter: new Date(now + 30 * DAY),
      }),
      wrongHost: await issueCert(ca, { hosts: ['wrong.test'] }),
      // A server certificate that signs itself: well formed, but trusted by nobody.
      selfSigned: certificate({
        commonName: TEST_HOST,
        hosts: [TEST_HOST],
        notBefore: new Date(now - DAY),
        notAfter: new Date(now + 30 * DAY),
      }),
      untrustedIssuer: await issueCert(otherCa, { hosts: [TEST_HOST] }),
    }
  })()
  return kit
}

export type BadCert = 'expired' | 'notYetValid' | 'wrongHost' | 'selfSigned' | 'untrustedIssuer'

/** A content server at https://files.test:<port> presenting the given bad certificate. */
export async function startBadCertServer(kind: BadCert, mode: ContentMode = 'https'): Promise<ContentServer> {
  const certs = await certKit()
  return startContentServer({ mode, cert: certs[kind], hostname: TEST_HOST })
}

/** A content server at https://files.test:<port> with the kit's valid leaf. */
export async function startTlsServer(mode: Exclude<ContentMode, 'http'> = 'https'): Promise<ContentServer> {
  const certs = await certKit()
  return startContentServer({ mode, cert: certs.leaf, hostname: TEST_HOST })
}

/**
 * A content server at files.test over `mode`: plain HTTP, or TLS with the kit's valid leaf, so
 * one test body runs over every transport.
 */
export function startServerFor(mode: ContentMode): Promise<ContentServer> {
  return mode === 'http' ? startContentServer({ mode, hostname: TEST_HOST }) : startTlsServer(mode)
}
