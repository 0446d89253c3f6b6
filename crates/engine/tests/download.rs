//! Downloads that succeed: bytes on disk, protocols, reuse, profile invariants, redirects.
mod support;

use support::*;
use tt_download_engine::{CancellationToken, Destination, Engine, Profile, TempStore};

fn assert_ordered(p: &Profile) {
    let chain = [
        p.fetch_start,
        p.domain_lookup_start,
        p.domain_lookup_end,
        p.connect_start,
        p.connect_end,
        p.request_start,
        p.request_end,
        p.response_start,
        p.response_end,
    ];
    for pair in chain.windows(2) {
        assert!(pair[0] <= pair[1], "phases out of order: {chain:?}");
    }
    if p.ssl_connection_start > 0.0 {
        assert!(p.connect_start <= p.ssl_connection_start);
        assert!(p.ssl_connection_start <= p.ssl_connection_end);
        assert!(p.ssl_connection_end <= p.connect_end);
    }
}

#[tokio::test]
async fn plain_http_body_lands_on_disk_with_a_measured_profile() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let engine = Engine::new();
    let recorder = Recorder::default();
    let request = sandbox.request(&server.url("http", "/bytes/300000"), "a.bin");
    let done = engine
        .download(&request, &recorder, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.status, 200);
    assert_eq!(done.data_length, 300_000);
    assert_eq!(std::fs::read(sandbox.out("a.bin")).unwrap(), body(300_000));
    assert!(sandbox.staging_files().is_empty());
    let profile = done.profile.unwrap();
    assert_ordered(&profile);
    assert_eq!(profile.protocol, "http/1.1");
    assert_eq!(profile.peer_ip, "127.0.0.1");
    assert_eq!(profile.port, server.addr.port());
    assert!(!profile.socket_reused);
    assert_eq!(profile.ssl_connection_start, 0.0);
    // resolve override: no lookup, so the DNS phase collapses onto fetchStart
    assert_eq!(profile.domain_lookup_start, profile.fetch_start);
    assert_eq!(profile.domain_lookup_end, profile.fetch_start);
    assert!(profile.received_bytes_count > 300_000);
    assert!(profile.sent_bytes_count > 0);
    let events = recorder.events.lock().unwrap().clone();
    assert_eq!(events[0], "headers 200");
    let progress = recorder.progress.lock().unwrap().clone();
    assert!(progress.windows(2).all(|w| w[0].0 <= w[1].0));
    assert!(progress
        .iter()
        .all(|(_, expected)| *expected == Some(300_000)));
}

#[tokio::test]
async fn second_download_reuses_the_keep_alive_connection() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let engine = Engine::new();
    let cancel = CancellationToken::new();
    let first = engine
        .download(
            &sandbox.request(&server.url("http", "/bytes/10"), "1"),
            &Recorder::default(),
            &cancel,
        )
        .await
        .unwrap();
    let second = engine
        .download(
            &sandbox.request(&server.url("http", "/bytes/10"), "2"),
            &Recorder::default(),
            &cancel,
        )
        .await
        .unwrap();
    let (first, second) = (first.profile.unwrap(), second.profile.unwrap());
    assert!(!first.socket_reused);
    assert!(second.socket_reused);
    assert_eq!(second.connect_start, second.fetch_start);
    assert_eq!(second.connect_end, second.fetch_start);
    assert_eq!(server.connections(), 1);
    // Same request on the same connection: the same bytes each way.
    assert_eq!(first.sent_bytes_count, second.sent_bytes_count);
    assert_eq!(first.received_bytes_count, second.received_bytes_count);
}

#[tokio::test]
async fn https_http1_and_h2_with_an_extra_ca() {
    let pki = Pki::new();
    let sandbox = Sandbox::new();
    let engine = Engine::new();
    for (alpn, protocol) in [
        (&[b"http/1.1".as_slice()][..], "http/1.1"),
        (&[b"h2".as_slice()][..], "h2"),
    ] {
        let server = serve(Some(server_tls(pki.leaf(&["files.test"]), alpn))).await;
        let name = protocol.replace('/', "_");
        let mut request = sandbox.request(&server.url("https", "/chunked/100000"), &name);
        request.host.ca_pems = vec![pki.ca_pem.clone()];
        request.host.allow_http = false;
        let done = engine
            .download(&request, &Recorder::default(), &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(std::fs::read(sandbox.out(&name)).unwrap(), body(100_000));
        let profile = done.profile.unwrap();
        assert_eq!(profile.protocol, protocol);
        assert!(profile.ssl_connection_start > 0.0);
        assert_ordered(&profile);
        // TLS records are counted: more than the body arrives on the wire.
        assert!(profile.received_bytes_count > 100_000);
    }
}

#[tokio::test]
async fn generated_names_take_the_extension_from_the_response() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let engine = Engine::new();
    let mut request = sandbox.request(&server.url("http", "/bytes/5"), "unused");
    request.request.url = server.url("http", "/bytes/5?name=x.png");
    let temp = TempStore::open(sandbox.dir.path().join("out"), u64::MAX).unwrap();
    request.host.temp = Some(temp.clone());
    request.request.destination = Destination::Generated {
        stem: "0123abcd".into(),
    };
    let done = engine
        .download(&request, &Recorder::default(), &CancellationToken::new())
        .await
        .unwrap();
    // No disposition, a path without extension, no content type: no extension.
    assert_eq!(done.path, sandbox.out("0123abcd"));
    assert_eq!(
        temp.used(),
        5,
        "the host's temp budget counts the stored file"
    );
}

#[tokio::test]
async fn redirects_are_followed_and_timed() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let engine = Engine::new();
    let recorder = Recorder::default();
    let done = engine
        .download(
            &sandbox.request(&server.url("http", "/redirect/3"), "r"),
            &recorder,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(done.data_length, 1024);
    let profile = done.profile.unwrap();
    assert_eq!(profile.redirect_count, 4);
    assert_eq!(profile.redirect_start, profile.fetch_start);
    assert!(profile.redirect_end >= profile.redirect_start);
    assert!(profile.redirect_end <= profile.response_start);
    // Only the final response's head is reported.
    assert_eq!(
        recorder
            .events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.starts_with("headers"))
            .count(),
        1
    );
}

#[tokio::test]
async fn any_status_is_a_completed_download() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let engine = Engine::new();
    for status in [404u16, 500, 304, 300] {
        let done = engine
            .download(
                &sandbox.request(&server.url("http", &format!("/status/{status}")), "s"),
                &Recorder::default(),
                &CancellationToken::new(),
            )
            .await
            .unwrap();
        assert_eq!(done.status, status);
    }
}

#[tokio::test]
async fn profile_off_returns_no_profile() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let mut request = sandbox.request(&server.url("http", "/bytes/1"), "p");
    request.request.profile = false;
    let done = Engine::new()
        .download(&request, &Recorder::default(), &CancellationToken::new())
        .await
        .unwrap();
    assert!(done.profile.is_none());
}

/// Downloads started together to an https origin nobody is connected to yet.
async fn burst(
    engine: &Engine,
    sandbox: &Sandbox,
    url: &str,
    ca: &str,
    count: usize,
) -> Vec<Result<tt_download_engine::Download, tt_download_engine::Error>> {
    let requests: Vec<_> = (0..count)
        .map(|i| {
            let mut request = sandbox.request(url, &format!("burst-{i}"));
            request.host.ca_pems = vec![ca.to_string()];
            request
        })
        .collect();
    let runs = requests.iter().map(|request| async move {
        engine
            .download(request, &Recorder::default(), &CancellationToken::new())
            .await
    });
    futures_util::future::join_all(runs).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_to_a_new_h2_origin_shares_one_connection() {
    let pki = Pki::new();
    let sandbox = Sandbox::new();
    let engine = Engine::new();
    let server = serve(Some(server_tls(pki.leaf(&["files.test"]), &[b"h2"]))).await;
    let results = burst(
        &engine,
        &sandbox,
        &server.url("https", "/bytes/2000"),
        &pki.ca_pem,
        12,
    )
    .await;
    for (i, result) in results.into_iter().enumerate() {
        let done = result.unwrap();
        assert_eq!(done.profile.unwrap().protocol, "h2");
        assert_eq!(
            std::fs::read(sandbox.out(&format!("burst-{i}"))).unwrap(),
            body(2000)
        );
    }
    assert_eq!(server.connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_to_a_new_http1_tls_origin_waits_only_for_the_first_handshake() {
    let pki = Pki::new();
    let sandbox = Sandbox::new();
    let engine = Engine::new();
    let server = serve(Some(server_tls(pki.leaf(&["files.test"]), &[b"http/1.1"]))).await;
    // Each response head takes 300 ms: had the burst waited for the first response, it would
    // take twice that.
    let url = server.url("https", "/slow-head?ms=300");
    let started = std::time::Instant::now();
    let results = burst(&engine, &sandbox, &url, &pki.ca_pem, 6).await;
    let took = started.elapsed();
    for result in results {
        assert_eq!(result.unwrap().profile.unwrap().protocol, "http/1.1");
    }
    assert!(took < std::time::Duration::from_millis(600), "{took:?}");
    assert_eq!(server.connections(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_to_a_refusing_https_origin_fails_every_download() {
    let pki = Pki::new();
    let sandbox = Sandbox::new();
    let engine = Engine::new();
    let url = format!("https://files.test:{}/x", closed_port().await);
    let results = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        burst(&engine, &sandbox, &url, &pki.ca_pem, 8),
    )
    .await
    .expect("the burst ends");
    for result in results {
        assert_eq!(
            result.unwrap_err().kind(),
            tt_download_engine::Kind::Connect
        );
    }
    assert!(sandbox.staging_files().is_empty());
}

#[tokio::test]
async fn h2_reuse_counts_the_streams_own_bytes() {
    let pki = Pki::new();
    let sandbox = Sandbox::new();
    let engine = Engine::new();
    let server = serve(Some(server_tls(pki.leaf(&["files.test"]), &[b"h2"]))).await;
    let mut profiles = Vec::new();
    for name in ["1", "2"] {
        let mut request = sandbox.request(&server.url("https", "/bytes/1000"), name);
        request.host.ca_pems = vec![pki.ca_pem.clone()];
        let done = engine
            .download(&request, &Recorder::default(), &CancellationToken::new())
            .await
            .unwrap();
        profiles.push(done.profile.unwrap());
    }
    assert_eq!(server.connections(), 1);
    let reused = &profiles[1];
    assert!(reused.socket_reused);
    assert_eq!(reused.protocol, "h2");
    // Alone on the connection, the stream's share is all of its bytes: at least the body,
    // and a request was sent.
    assert!(reused.received_bytes_count > 1000, "{reused:?}");
    assert!(reused.sent_bytes_count > 0, "{reused:?}");
    assert!(reused.received_bytes_count < profiles[0].received_bytes_count);
}

#[tokio::test]
async fn one_host_serves_every_download_with_its_settings_and_its_pool() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let engine = Engine::new();
    let mut job = sandbox.request(&server.url("http", "/bytes/10"), "x");
    job.host.trailing_headers = vec![("user-agent".into(), "tt-host/1".into())];
    let host = engine.host(job.host.clone()).unwrap();
    let mut paths = Vec::new();
    for (n, name) in ["a", "b", "c"].iter().enumerate() {
        let mut request = job.request.clone();
        request.url = server.url("http", &format!("/bytes/{}", 10 + n));
        request.headers = vec![("x-n".into(), n.to_string())];
        request.destination = Destination::Exact(sandbox.out(name));
        let done = host
            .download(&request, &Recorder::default(), &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(std::fs::read(&done.path).unwrap(), body(10 + n));
        paths.push(done.path);
    }
    // A second host with the same settings is another handle on the same pool (SPEC 8).
    let twin = engine.host(job.host.clone()).unwrap();
    let mut last = job.request.clone();
    last.destination = Destination::Exact(sandbox.out("d"));
    let done = twin
        .download(&last, &Recorder::default(), &CancellationToken::new())
        .await
        .unwrap();
    assert!(done.profile.unwrap().socket_reused);
    assert_eq!(
        server.connections(),
        1,
        "every download on one pooled connection"
    );
    let requests = server.stats.requests.lock().unwrap();
    assert_eq!(requests.len(), 4);
    for (n, (_, headers)) in requests.iter().take(3).enumerate() {
        let names: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(headers["x-n"], n.to_string().as_str());
        assert_eq!(headers["user-agent"], "tt-host/1");
        let at = |name| names.iter().position(|k| *k == name).unwrap();
        assert!(
            at("x-n") < at("user-agent"),
            "trailing headers go last: {names:?}"
        );
    }
}
