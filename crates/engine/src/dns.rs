//! Name resolution behind a trait, so the connector can time any resolver the same way:
//! the system's `getaddrinfo` by default, or one an embedder (or a test) supplies.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

pub type Resolving = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>;

pub trait Resolve: Send + Sync {
    fn resolve(&self, host: &str, port: u16) -> Resolving;
}

/// The operating system's resolver (`getaddrinfo` on tokio's blocking pool).
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> Resolving {
        let host = host.to_string();
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), port))
                .await?
                .collect())
        })
    }
}

type CacheKey = (String, u16);
type CacheEntry = (std::time::Instant, Vec<SocketAddr>);

/// The engine's DNS cache, shared by all its pools: a name looked up once is reused for
/// `ttl` (getaddrinfo gives no record TTL, so a fixed one, like browsers' host caches).
/// Names mapped by a `resolve` override and IP literals never reach it.
pub struct DnsCache {
    ttl: std::time::Duration,
    entries: std::sync::Mutex<std::collections::HashMap<CacheKey, CacheEntry>>,
}

impl DnsCache {
    pub fn new(ttl: std::time::Duration) -> Self {
        DnsCache {
            ttl,
            entries: Default::default(),
        }
    }

    pub fn get(&self, host: &str, port: u16) -> Option<Vec<SocketAddr>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&(host.to_ascii_lowercase(), port))
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, addrs)| addrs.clone())
    }

    pub fn put(&self, host: &str, port: u16, addrs: Vec<SocketAddr>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
        entries.insert(
            (host.to_ascii_lowercase(), port),
            (std::time::Instant::now(), addrs),
        );
    }
}
