//! TLS client configuration: the system's roots plus the caller's extra CA certificates.

use std::sync::{Arc, OnceLock};

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::error::{Error, Kind};

/// Loading the platform store reads many files; do it once per process.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the client config for one set of extra roots. ALPN offers h2 then http/1.1.
pub fn client_config(extra_ca_pems: &[String]) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = RootCertStore::empty();
    // Unparseable system certificates are skipped, as every TLS client does.
    let _ = roots.add_parsable_certificates(system_roots().iter().cloned());
    for pem in extra_ca_pems {
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert =
                cert.map_err(|e| Error::new(Kind::Internal, format!("invalid CA PEM: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| Error::new(Kind::Internal, format!("invalid CA certificate: {e}")))?;
            found += 1;
        }
        if found == 0 {
            return Err(Error::new(
                Kind::Internal,
                "invalid CA PEM: no certificate found",
            ));
        }
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(Kind::Internal, format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
