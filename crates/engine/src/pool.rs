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
}

/// How long a looked-up name is reused by every pool of an engine.
const DNS_TTL: Duration = Duration::from_secs(60);

impl Pools {
    pub fn new(resolver: Arc<dyn Resolve>) -> Self {
        Pools {
            clients: Mutex::default(),
            resolver,
            dns_cache: Arc::new(DnsCache::new(DNS_TTL)),
            live: Arc::default(),
        }
    }
}

impl Pools {
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
        };
        clients.insert(key, pooled.clone());
        Ok(pooled)
    }
}
