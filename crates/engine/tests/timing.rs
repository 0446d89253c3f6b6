//! Injected delays land in the phase that caused them, and nowhere else.
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use support::*;
use tt_download_engine::dns::{Resolve, Resolving};
use tt_download_engine::{CancellationToken, Engine, Profile};

const DELAY_MS: f64 = 250.0;

/// A real lookup made slow: waits, then answers 127.0.0.1.
struct SlowResolver;

impl Resolve for SlowResolver {
    fn resolve(&self, _host: &str, port: u16) -> Resolving {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(DELAY_MS as u64)).await;
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
        })
    }
}

fn assert_delay_in(phase: f64, name: &str) {
    assert!(
        phase >= DELAY_MS * 0.9,
        "{name} took {phase} ms, less than the injected delay"
    );
    assert!(
        phase <= DELAY_MS + 1000.0,
        "{name} took {phase} ms, far more than the injected delay"
    );
}

fn assert_small(phase: f64, name: &str) {
    assert!(
        phase < DELAY_MS * 0.5,
        "{name} absorbed the delay: {phase} ms"
    );
}

async fn profile_of(engine: &Engine, sandbox: &Sandbox, url: &str, with_override: bool) -> Profile {
    let mut request = sandbox.request(url, "t");
    if !with_override {
        request.host.resolve.clear();
    }
    engine
        .download(&request, &Recorder::default(), &CancellationToken::new())
        .await
        .unwrap()
        .profile
        .unwrap()
}

#[tokio::test]
async fn a_slow_lookup_lands_in_the_dns_phase() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let engine = Engine::with_resolver(Arc::new(SlowResolver));
    let p = profile_of(&engine, &sandbox, &server.url("http", "/bytes/10"), false).await;
    assert_delay_in(p.domain_lookup_end - p.domain_lookup_start, "dns");
    assert_small(p.connect_end - p.connect_start, "connect");
    assert_small(p.response_start - p.request_end, "first byte");
    assert!(p.domain_lookup_start >= p.fetch_start);
}

#[tokio::test]
async fn a_resolve_override_makes_no_lookup() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let engine = Engine::with_resolver(Arc::new(SlowResolver));
    let p = profile_of(&engine, &sandbox, &server.url("http", "/bytes/10"), true).await;
    assert_eq!(p.domain_lookup_start, p.fetch_start);
    assert_eq!(p.domain_lookup_end, p.fetch_start);
    assert_small(p.response_end - p.fetch_start, "whole download");
}

#[tokio::test]
async fn a_slow_head_lands_in_the_first_byte_phase() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let engine = Engine::new();
    let p = profile_of(
        &engine,
        &sandbox,
        &server.url("http", "/slow-head?ms=250"),
        true,
    )
    .await;
    assert_delay_in(p.response_start - p.request_end, "first byte");
    assert_small(p.connect_end - p.connect_start, "connect");
    assert_small(p.request_end - p.request_start, "request");
}

/// Answers 127.0.0.1 and counts the lookups it was asked for.
#[derive(Default)]
struct CountingResolver(std::sync::atomic::AtomicUsize);

impl Resolve for CountingResolver {
    fn resolve(&self, _host: &str, port: u16) -> Resolving {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async move { Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]) })
    }
}

#[tokio::test]
async fn a_cached_name_is_not_looked_up_again_and_reports_no_lookup() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let resolver = Arc::new(CountingResolver::default());
    let engine = Engine::with_resolver(resolver.clone());
    let url = server.url("http", "/bytes/10");
    let first = profile_of(&engine, &sandbox, &url, false).await;
    // Different TLS roots: another pool, so a new connection that needs the address again.
    let mut request = sandbox.request(&url, "t2");
    request.host.resolve.clear();
    request.host.ca_pems = vec![Pki::new().ca_pem];
    let second = engine
        .download(&request, &Recorder::default(), &CancellationToken::new())
        .await
        .unwrap()
        .profile
        .unwrap();
    assert_eq!(resolver.0.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(first.domain_lookup_end >= first.domain_lookup_start);
    assert!(!second.socket_reused);
    assert_eq!(second.domain_lookup_start, second.fetch_start);
    assert_eq!(second.domain_lookup_end, second.fetch_start);
    assert_eq!(server.connections(), 2);
}
