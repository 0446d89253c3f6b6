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
