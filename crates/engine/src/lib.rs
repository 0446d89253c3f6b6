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
mod h1;
mod h1_idle;
mod h2_ledger;
mod h2_registry;
mod happy_eyeballs;
mod head_capture;
mod host;
mod meter;
mod naming;
mod opener;
mod pool;
pub mod profile;
pub mod proxy;
mod quota;
mod redirect;
pub mod shards;
mod sink;
mod temp_store;
mod tls;

use std::path::PathBuf;
use std::sync::Arc;

pub use connect::ConnectionStats;
pub use cookies::CookieJar;
pub use egress::EgressPolicy;
pub use error::{Error, Kind, PathRole};
pub use host::{Destination, Host, HostSettings, Request};
pub use pool::Http1Path;
pub use profile::Profile;
pub use proxy::{NoProxy, ProxyEndpoint, ProxySettings};
pub use quota::Quota;
pub use shards::Shards;
pub use temp_store::{measure as measure_dir, TempStore};
pub use tokio_util::sync::CancellationToken;
pub use url::Url;

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
            pools: pool::Pools::new(resolver, Http1Path::from_bench_env()),
        }
    }

    /// The same engine with its plain-http HTTP/1.1 exchanges on `path`: tests run both
    /// paths against the same servers; hosts never choose.
    pub fn with_http1_path(mut self, path: Http1Path) -> Self {
        self.pools.http1 = path;
        self
    }

    /// The connections this engine holds now.
    /// Closes the connections that wait between exchanges outside any runtime task; called
    /// when the runtime that ran the downloads stops.
    pub fn close_idle_connections(&self) {
        self.pools.close_idle();
    }

    pub fn connection_stats(&self) -> ConnectionStats {
        self.pools.live.stats()
    }

    /// A host with `settings`: its pool is found (or made) now, once. Hosts with the same TLS
    /// roots, `resolve` table, egress policy and proxy share one (SPEC 8).
    pub fn host(&self, settings: HostSettings) -> Result<Host, Error> {
        let client = self.pools.client(pool::PoolSettings {
            ca_pems: &settings.ca_pems,
            resolve: &settings.resolve,
            egress: &settings.egress,
            proxy: settings.proxy.as_ref(),
        })?;
        Ok(Host::new(settings, client))
    }
}
