//! tt-download's engine: downloads over HTTP/1.1 and HTTP/2 (hyper + rustls on tokio) to a
//! file, with fine-grained timing, byte limits, redirect policy and atomic storage. It knows
//! nothing of mini-programs: callers hand it plain data and map its error kinds.
#![deny(clippy::all)]

pub mod clock;
mod connect;
mod cookies;
pub mod dns;
mod download;
pub mod egress;
pub mod error;
mod first_connect;
mod h2_ledger;
mod h2_registry;
mod happy_eyeballs;
mod head_capture;
mod meter;
mod naming;
mod opener;
mod pool;
pub mod profile;
pub mod proxy;
mod quota;
mod redirect;
mod sink;
mod temp_store;
mod tls;

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use connect::ConnectionStats;
pub use cookies::CookieJar;
pub use egress::EgressPolicy;
pub use error::{Error, Kind};
pub use profile::Profile;
pub use proxy::{NoProxy, ProxyEndpoint, ProxySettings};
pub use quota::Quota;
pub use temp_store::{measure as measure_dir, TempStore};
pub use tokio_util::sync::CancellationToken;
pub use url::Url;

/// Where the body goes once complete.
#[derive(Clone, Debug)]
pub enum Destination {
    /// This exact path; an existing file there is replaced on success only.
    Exact(PathBuf),
    /// `<dir>/<stem>[.ext]`, the extension taken from the response.
    Generated { dir: PathBuf, stem: String },
}

#[derive(Clone, Debug)]
pub struct DownloadRequest {
    pub url: String,
    /// Sent as given, after the engine's own `host`.
    pub headers: Vec<(String, String)>,
    /// Plain http allowed for the first request and every hop; https always is.
    pub allow_http: bool,
    /// Redirect hops must match one of these (`host` or `host:port`); `None` admits any.
    pub redirect_hosts: Option<HashSet<String>>,
    pub max_redirects: u32,
    pub max_bytes: u64,
    /// From the start of the request to the last body byte, redirects included.
    pub timeout: Option<Duration>,
    pub staging_dir: PathBuf,
    pub staging_prefix: String,
    pub destination: Destination,
    pub fsync: bool,
    pub ca_pems: Vec<String>,
    /// Host name -> addresses used in place of DNS answers (still subject to `egress`).
    pub resolve: Vec<(String, Vec<IpAddr>)>,
    /// Which addresses may be dialled, on every hop, whatever the URL checks said.
    pub egress: Arc<EgressPolicy>,
    /// The proxies hops go through, by scheme; `None`: every hop goes direct.
    pub proxy: Option<Arc<ProxySettings>>,
    pub profile: bool,
    /// A budget the stored file must fit in (with the other downloads holding it), counting
    /// a file it replaces at the destination as free.
    pub quota: Option<Quota>,
    /// The app's cookie jar: sent on matching requests, fed by every response.
    pub cookies: Option<CookieJar>,
    /// The budget of generated names (`Destination::Generated`), oldest files evicted.
    pub temp: Option<TempStore>,
}

/// Events of a running download, called on an engine thread; implementations must not block.
pub trait Observer: Send + Sync {
    /// The head of the final response (not of a followed redirect), before any size check.
    fn headers(&self, status: u16, headers: &[(String, String)]);
    /// Bytes stored so far and the announced length; at most one call per 50 ms.
    fn progress(&self, written: u64, expected: Option<u64>);
}

#[derive(Clone, Debug)]
pub struct Download {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub path: PathBuf,
    pub data_length: u64,
    pub profile: Option<Profile>,
}

/// Connection pools shared by every download on it. Must be used inside a tokio runtime.
pub struct Engine {
    pools: pool::Pools,
}

impl Default for Engine {
    fn default() -> Self {
        Self::with_resolver(Arc::new(dns::SystemResolver))
    }
}

impl Engine {
    pub fn new() -> Self {
        Self::default()
    }

    /// An engine whose lookups go through `resolver` (still timed as the DNS phase;
    /// `resolve` overrides and IP literals still bypass it).
    pub fn with_resolver(resolver: Arc<dyn dns::Resolve>) -> Self {
        Engine {
            pools: pool::Pools::new(resolver),
        }
    }

    /// The connections this engine holds now.
    pub fn connection_stats(&self) -> ConnectionStats {
        self.pools.live.stats()
    }

    /// Runs one download until it completes, fails, times out or `cancel` fires. Whatever
    /// the outcome, no staging file is left and the destination is only touched on success.
    pub async fn download(
        &self,
        request: &DownloadRequest,
        observer: &dyn Observer,
        cancel: &CancellationToken,
    ) -> Result<Download, Error> {
        #[cfg(feature = "test-panic")]
        if request.url.contains("__engine_panic__") {
            panic!("test-panic: panic requested by the URL");
        }
        let client = self.pools.client(pool::PoolSettings {
            ca_pems: &request.ca_pems,
            resolve: &request.resolve,
            egress: &request.egress,
            proxy: request.proxy.as_ref(),
        })?;
        let received = std::sync::atomic::AtomicU64::new(0);
        let run = download::run(&client, request, observer, &received);
        let deadline = async {
            match request.timeout {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        let stopped = |kind, message| {
            Err(Error::new(kind, message)
                .with_body_bytes(received.load(std::sync::atomic::Ordering::Relaxed)))
        };
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => stopped(Kind::Cancelled, "cancelled"),
            _ = deadline => stopped(Kind::Timeout, "timed out"),
            result = run => result,
        };
        if let Some(jar) = &request.cookies {
            // Cookies that arrived count even when the download then failed. A jar that
            // cannot be saved stays dirty and is saved with the next download.
            let _ = jar.persist();
        }
        result
    }
}
