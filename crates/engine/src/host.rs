//! A host: what every download of one caller shares (policy, storage, pool, budgets, cookie
//! jar), resolved once when the host is made, as reqwest's `Client` holds its config. A
//! download then carries only its own data.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::cookies::CookieJar;
use crate::egress::EgressPolicy;
use crate::error::{Error, Kind};
use crate::pool::Pooled;
use crate::proxy::ProxySettings;
use crate::quota::Quota;
use crate::temp_store::TempStore;
use crate::{download, CancellationToken, Download, Observer};

/// What every download of a host shares; `Engine::host` turns it into a [`Host`].
#[derive(Clone, Debug)]
pub struct HostSettings {
    /// Plain http allowed for the first request and every hop; https always is.
    pub allow_http: bool,
    /// Redirect hops must match one of these (`host` or `host:port`); `None` admits any.
    pub redirect_hosts: Option<HashSet<String>>,
    pub max_redirects: u32,
    pub max_bytes: u64,
    /// Where bodies are written while they arrive (the same file system as every target).
    pub staging_dir: PathBuf,
    pub staging_prefix: String,
    pub fsync: bool,
    pub ca_pems: Vec<String>,
    /// Host name -> addresses used in place of DNS answers (still subject to `egress`).
    pub resolve: Vec<(String, Vec<IpAddr>)>,
    /// Which addresses may be dialled, on every hop, whatever the URL checks said.
    pub egress: Arc<EgressPolicy>,
    /// The proxies hops go through, by scheme; `None`: every hop goes direct.
    pub proxy: Option<Arc<ProxySettings>>,
    /// Sent after each download's own headers, as given.
    pub trailing_headers: Vec<(String, String)>,
    /// The budget files stored at an exact path fit in (with the other downloads holding
    /// it), counting a file they replace as free.
    pub quota: Option<Quota>,
    /// The cookie jar: sent on matching requests, fed by every response.
    pub cookies: Option<CookieJar>,
    /// The directory and budget of generated names, oldest files evicted; downloads to a
    /// generated name need it.
    pub temp: Option<TempStore>,
}

/// Where the body goes once complete.
#[derive(Clone, Debug)]
pub enum Destination {
    /// This exact path, counted against the host's quota; an existing file there is replaced
    /// on success only.
    Exact(PathBuf),
    /// `<temp dir>/<stem>[.ext]`, the extension taken from the response, counted against the
    /// host's temp budget.
    Generated { stem: String },
}

/// One download: only what differs from the other downloads of its host.
#[derive(Clone, Debug)]
pub struct Request {
    pub url: String,
    /// Sent as given, after the engine's own `host` and before the host's trailing headers.
    pub headers: Vec<(String, String)>,
    /// From the start of the request to the last body byte, redirects included.
    pub timeout: Option<Duration>,
    pub destination: Destination,
    pub profile: bool,
}

/// A host of an engine: cheap to clone, every clone the same host.
#[derive(Clone)]
pub struct Host {
    inner: Arc<HostInner>,
}

pub(crate) struct HostInner {
    pub settings: HostSettings,
    /// The engine's pool for these settings (SPEC 8), found once.
    pub client: Pooled,
}

impl Host {
    pub(crate) fn new(settings: HostSettings, client: Pooled) -> Host {
        Host {
            inner: Arc::new(HostInner { settings, client }),
        }
    }

    pub fn settings(&self) -> &HostSettings {
        &self.inner.settings
    }

    /// Runs one download until it completes, fails, times out or `cancel` fires. Whatever
    /// the outcome, no staging file is left and the destination is only touched on success.
    pub async fn download(
        &self,
        request: &Request,
        observer: &dyn Observer,
        cancel: &CancellationToken,
    ) -> Result<Download, Error> {
        #[cfg(feature = "test-panic")]
        if request.url.contains("__engine_panic__") {
            panic!("test-panic: panic requested by the URL");
        }
        let host = &*self.inner;
        let received = AtomicU64::new(0);
        let run = download::run(host, request, observer, &received);
        let deadline = async {
            match request.timeout {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        let stopped = |kind, message| {
            Err(Error::new(kind, message).with_body_bytes(received.load(Ordering::Relaxed)))
        };
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => stopped(Kind::Cancelled, "cancelled"),
            _ = deadline => stopped(Kind::Timeout, "timed out"),
            result = run => result,
        };
        if let Some(jar) = &host.settings.cookies {
            // Cookies that arrived count even when the download then failed. A jar that
            // cannot be saved stays dirty and is saved with the next download.
            let _ = jar.persist();
        }
        result
    }
}
