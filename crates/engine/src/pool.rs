//! One hyper-util client (and so one connection pool) per distinct TLS roots, `resolve`
//! table, egress policy and proxy (SPEC 8): a pooled connection is only reused by downloads
//! that would have opened it alike, and one a host was allowed to open is never lent to a
//! host that would refuse it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::connect::{ConnectSettings, Connector, LiveConnections};
use crate::dns::{DnsCache, Resolve};
use crate::egress::EgressPolicy;
use crate::error::Error;
use crate::first_connect::FirstConnect;
use crate::h1_idle::IdleConns;
use crate::h2_registry::H2Registry;
use crate::proxy::ProxySettings;
use crate::tls;

pub type HttpClient = Client<Connector, Empty<Bytes>>;

/// A client, the registry of its live HTTP/2 connections, and the gate that lets a burst to
/// a new https origin open one connection first.
#[derive(Clone)]
pub struct Pooled {
    pub http: HttpClient,
    pub h2: Arc<H2Registry>,
    pub first_connect: Arc<FirstConnect>,
    pub proxy: Option<Arc<ProxySettings>>,
    /// Plain-http HTTP/1.1 on the engine's own exchanges (h1.rs): the connector that opens
    /// their connections and where they wait between exchanges. `None`: through `http`.
    pub own_http1: Option<OwnHttp1>,
}

#[derive(Clone)]
pub struct OwnHttp1 {
    pub connector: Connector,
    pub idle: Arc<IdleConns>,
}

/// Which client carries plain-http HTTP/1.1 exchanges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Http1Path {
    /// The engine's own exchange on the download's task (h1.rs).
    Own,
    /// hyper-util's pooled client, as HTTP/2 and https are.
    Hyper,
}

impl Http1Path {
    /// `Own`, unless a benchmark build (feature `bench-switches`) runs with
    /// `TT_BENCH_HTTP1=hyper`, to set the two paths side by side in one run.
    pub fn from_bench_env() -> Self {
        #[cfg(feature = "bench-switches")]
        if std::env::var("TT_BENCH_HTTP1").as_deref() == Ok("hyper") {
            return Http1Path::Hyper;
        }
        Http1Path::Own
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    ca_pems: Vec<String>,
    resolve: Vec<(String, Vec<IpAddr>)>,
    egress: Arc<EgressPolicy>,
    proxy: Option<Arc<ProxySettings>>,
}

/// What decides which pool a download's connections come from.
pub struct PoolSettings<'a> {
    pub ca_pems: &'a [String],
    pub resolve: &'a [(String, Vec<IpAddr>)],
    pub egress: &'a Arc<EgressPolicy>,
    pub proxy: Option<&'a Arc<ProxySettings>>,
}

pub struct Pools {
    clients: Mutex<HashMap<PoolKey, Pooled>>,
    resolver: Arc<dyn Resolve>,
    dns_cache: Arc<DnsCache>,
    pub live: Arc<LiveConnections>,
    pub http1: Http1Path,
}

/// How long a looked-up name is reused by every pool of an engine.
const DNS_TTL: Duration = Duration::from_secs(60);

impl Pools {
    pub fn new(resolver: Arc<dyn Resolve>, http1: Http1Path) -> Self {
        Pools {
            clients: Mutex::default(),
            resolver,
            dns_cache: Arc::new(DnsCache::new(DNS_TTL)),
            live: Arc::default(),
            http1,
        }
    }
}

impl Pools {
    /// The engine closes: connections waiting between exchanges are closed now (hyper's
    /// close with the runtime that runs their tasks; these belong to no task).
    pub fn close_idle(&self) {
        let clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        for own in clients
            .values()
            .filter_map(|pooled| pooled.own_http1.as_ref())
        {
            own.idle.close();
            own.connector.close_handoffs();
        }
    }

    pub fn client(&self, settings: PoolSettings<'_>) -> Result<Pooled, Error> {
        let mut ca_pems = settings.ca_pems.to_vec();
        ca_pems.sort();
        let mut resolve: Vec<(String, Vec<IpAddr>)> = settings
            .resolve
            .iter()
            .map(|(host, ips)| (host.to_ascii_lowercase(), ips.clone()))
            .collect();
        resolve.sort();
        let key = PoolKey {
            ca_pems,
            resolve,
            egress: settings.egress.clone(),
            proxy: settings.proxy.cloned(),
        };
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let connector = Connector::new(
            ConnectSettings {
                tls: tls::client_config(&key.ca_pems)?,
                overrides: key.resolve.iter().cloned().collect(),
                egress: key.egress.clone(),
                proxy: key.proxy.clone(),
            },
            self.resolver.clone(),
            self.dns_cache.clone(),
            self.live.clone(),
        );
        let h2 = connector.h2_registry();
        let first_connect = connector.first_connect();
        let own_http1 = (self.http1 == Http1Path::Own).then(|| OwnHttp1 {
            connector: connector.clone(),
            idle: Arc::default(),
        });
        let http = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        let pooled = Pooled {
            http,
            h2,
            first_connect,
            proxy: key.proxy.clone(),
            own_http1,
        };
        clients.insert(key, pooled.clone());
        Ok(pooled)
    }
}
