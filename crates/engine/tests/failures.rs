//! Downloads that fail: each failure has its kind, and none leaves a file behind or touches
//! an existing file at the destination.
mod support;

use std::collections::HashSet;
use std::time::Duration;

use support::*;
use tokio::io::AsyncWriteExt;
use tt_download_engine::{CancellationToken, Engine, Error, Kind};

const EXISTING: &[u8] = b"an existing file that must survive";

/// Runs `request` into a destination that already holds a file, and checks that the
/// failure has `kind`, the old file is intact and no staging file is left.
async fn fails_with(sandbox: &Sandbox, request: Job, kind: Kind) -> Error {
    fails_observed(sandbox, request, kind, &Recorder::default()).await
}

/// [`fails_with`], reporting events to `recorder`.
async fn fails_observed(
    sandbox: &Sandbox,
    mut request: Job,
    kind: Kind,
    recorder: &Recorder,
) -> Error {
    let target = sandbox.out("existing");
    std::fs::write(&target, EXISTING).unwrap();
    request.request.destination = tt_download_engine::Destination::Exact(target.clone());
    let err = Engine::new()
        .download(&request, recorder, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), kind, "{err}");
    assert_eq!(std::fs::read(&target).unwrap(), EXISTING);
    assert!(
        sandbox.staging_files().is_empty(),
        "staging left: {:?}",
        sandbox.staging_files()
    );
    err
}

/// [`fails_with`] for a download of `scheme://server/path` in a sandbox of its own.
async fn download_fails(server: &TestServer, scheme: &str, path: &str, kind: Kind) -> Error {
    let sandbox = Sandbox::new();
    let request = sandbox.request(&server.url(scheme, path), "x");
    fails_with(&sandbox, request, kind).await
}

/// An announced length over the limit fails before the body, a running count over it fails
/// mid-body, and exactly the limit passes.
#[tokio::test]
async fn the_byte_limit_holds_with_and_without_content_length() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    for (path, limit, over) in [
        ("/bytes/5000", 4999, true),
        ("/chunked/50000", 10_000, true),
        ("/chunked/10000", 10_000, false),
    ] {
        let mut request = sandbox.request(&server.url("http", path), "x");
        request.host.max_bytes = limit;
        if over {
            fails_with(&sandbox, request, Kind::TooLarge).await;
        } else {
            Engine::new()
                .download(&request, &Recorder::default(), &CancellationToken::new())
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn a_stalled_body_times_out() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let mut request = sandbox.request(&server.url("http", "/stall"), "x");
    request.request.timeout = Some(Duration::from_millis(300));
    fails_with(&sandbox, request, Kind::Timeout).await;
}

#[tokio::test]
async fn cancellation_mid_body_leaves_nothing() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let target = sandbox.out("cancelled");
    let mut request = sandbox.request(&server.url("http", "/stall"), "cancelled");
    request.request.timeout = None;
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        trigger.cancel();
    });
    let err = Engine::new()
        .download(&request, &Recorder::default(), &cancel)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Cancelled);
    assert!(!target.exists());
    assert!(sandbox.staging_files().is_empty());
}

#[tokio::test]
async fn a_reset_mid_body_is_an_interruption() {
    let server = raw(|mut socket| async move {
        read_head(&mut socket).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n")
            .await;
        let _ = socket.write_all(&body(30_000)).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = socket.set_zero_linger();
        drop(socket);
    })
    .await;
    download_fails(&server, "http", "/", Kind::Interrupted).await;
}

#[tokio::test]
async fn a_body_shorter_than_content_length_is_an_interruption() {
    let server = raw(|mut socket| async move {
        read_head(&mut socket).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nonly this")
            .await;
        let _ = socket.shutdown().await;
    })
    .await;
    download_fails(&server, "http", "/", Kind::Interrupted).await;
}

#[tokio::test]
async fn garbage_instead_of_http_is_a_network_error() {
    let server = raw(|mut socket| async move {
        read_head(&mut socket).await;
        let _ = socket
            .write_all(b"\x00\x01 this is not HTTP at all\r\n\r\n")
            .await;
    })
    .await;
    download_fails(&server, "http", "/", Kind::Network).await;
}

#[tokio::test]
async fn closed_before_any_response_is_a_connection_error() {
    let server = raw(|mut socket| async move {
        read_head(&mut socket).await;
        drop(socket);
    })
    .await;
    download_fails(&server, "http", "/", Kind::Connect).await;
}

#[tokio::test]
async fn connection_refused_is_a_connection_error() {
    let port = closed_port().await;
    let sandbox = Sandbox::new();
    let request = sandbox.request(&format!("http://files.test:{port}/"), "x");
    fails_with(&sandbox, request, Kind::Connect).await;
}

#[tokio::test]
async fn an_unresolvable_name_is_a_dns_error() {
    let sandbox = Sandbox::new();
    let request = sandbox.request("http://no-such-host.invalid/", "x");
    fails_with(&sandbox, request, Kind::Dns).await;
}

#[tokio::test]
async fn untrusted_expired_and_wrong_host_certificates_are_certificate_errors() {
    let pki = Pki::new();
    let sandbox = Sandbox::new();
    let h1: &[&[u8]] = &[b"http/1.1"];
    let leaves = [
        self_signed(&["files.test"]),
        pki.leaf_valid(&["files.test"], (-30, -1)),
        pki.leaf_valid(&["files.test"], (2, 30)),
        pki.leaf(&["other.test"]),
    ];
    for leaf in leaves {
        let server = serve(Some(server_tls(leaf, h1))).await;
        let mut request = sandbox.request(&server.url("https", "/bytes/10"), "x");
        request.host.ca_pems = vec![pki.ca_pem.clone()];
        fails_with(&sandbox, request, Kind::TlsCertificate).await;
    }
}

#[tokio::test]
async fn plain_text_on_a_tls_port_is_a_tls_error() {
    let server = raw(|mut socket| async move {
        let _ = socket
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    })
    .await;
    download_fails(&server, "https", "/", Kind::Tls).await;
}

#[tokio::test]
async fn a_reset_during_the_handshake_is_a_tls_error() {
    let server = raw(|socket| async move {
        let _ = socket.set_zero_linger();
        drop(socket);
    })
    .await;
    download_fails(&server, "https", "/", Kind::Tls).await;
}

#[tokio::test]
async fn the_eleventh_redirect_fails_and_is_not_requested() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    // /redirect/10 answers 11 redirects (10, 9, ..., 0 -> /bytes/1024).
    fails_with(
        &sandbox,
        sandbox.request(&server.url("http", "/redirect/10"), "x"),
        Kind::Redirect,
    )
    .await;
    let paths: Vec<String> = server
        .stats
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(paths.len(), 11);
    assert!(!paths.contains(&"/bytes/1024".to_string()));
}

#[tokio::test]
async fn ten_redirects_are_allowed() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let done = Engine::new()
        .download(
            &sandbox.request(&server.url("http", "/redirect/9"), "x"),
            &Recorder::default(),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(done.profile.unwrap().redirect_count, 10);
}

#[tokio::test]
async fn redirect_hops_obey_scheme_and_host_rules() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let to = |target: &str| server.url("http", &format!("/redirect-to?url={target}"));
    fails_with(
        &sandbox,
        sandbox.request(&to("file:///etc/passwd"), "x"),
        Kind::Redirect,
    )
    .await;

    let mut https_only = sandbox.request(&to("/bytes/1"), "x");
    https_only.host.allow_http = false;
    https_only.request.url = https_only.request.url.replace("http://", "https://");
    // An https-only request to a plain server fails in the handshake, before any redirect.
    fails_with(&sandbox, https_only, Kind::Tls).await;

    let mut checked = sandbox.request(&to("http://elsewhere.test/x"), "x");
    checked.host.redirect_hosts = Some(HashSet::from([format!(
        "files.test:{}",
        server.addr.port()
    )]));
    let refused = fails_with(&sandbox, checked, Kind::RedirectHost).await;
    assert_eq!(refused.url(), Some("http://elsewhere.test/x"));
    assert!(!refused.message().contains("elsewhere"), "{refused}");

    let mut same_host = sandbox.request(&to("/bytes/7"), "ok");
    same_host.host.redirect_hosts = Some(HashSet::from([format!(
        "files.test:{}",
        server.addr.port()
    )]));
    Engine::new()
        .download(&same_host, &Recorder::default(), &CancellationToken::new())
        .await
        .unwrap();
}

#[tokio::test]
async fn authorization_and_cookie_do_not_follow_a_cross_origin_redirect() {
    let server = serve(None).await;
    let other = serve(None).await;
    let sandbox = Sandbox::new();
    let target = other.url("http", "/bytes/3");
    let mut request = sandbox.request(
        &server.url("http", &format!("/redirect-to?url={target}")),
        "x",
    );
    request.request.headers = vec![
        ("authorization".into(), "Bearer secret".into()),
        ("cookie".into(), "a=b".into()),
        ("x-kept".into(), "yes".into()),
    ];
    Engine::new()
        .download(&request, &Recorder::default(), &CancellationToken::new())
        .await
        .unwrap();
    let first = &server.stats.requests.lock().unwrap()[0].1;
    assert_eq!(first.get("authorization").unwrap(), "Bearer secret");
    let hop = &other.stats.requests.lock().unwrap()[0].1;
    assert!(hop.get("authorization").is_none());
    assert!(hop.get("cookie").is_none());
    assert_eq!(hop.get("x-kept").unwrap(), "yes");
}

/// An https request to an h2-only server speaking through `behave`, trusting its CA and
/// given 5 s, so that a hang shows as a timeout instead of a stuck test.
async fn h2_server<F, Fut>(sandbox: &Sandbox, behave: F) -> (TestServer, Job)
where
    F: Fn(tokio_rustls::server::TlsStream<tokio::net::TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let pki = Pki::new();
    let server = tls_raw(server_tls(pki.leaf(&["files.test"]), &[b"h2"]), behave).await;
    let mut request = sandbox.request(&server.url("https", "/bytes/10"), "x");
    request.host.ca_pems = vec![pki.ca_pem.clone()];
    request.request.timeout = Some(Duration::from_secs(5));
    (server, request)
}

#[tokio::test]
async fn an_h2_stream_refused_before_the_head_is_a_connection_error() {
    let sandbox = Sandbox::new();
    let (server, request) = h2_server(&sandbox, |tls| async move {
        let Ok(mut conn) = h2::server::handshake(tls).await else {
            return;
        };
        while let Some(Ok((_request, mut respond))) = conn.accept().await {
            respond.send_reset(h2::Reason::REFUSED_STREAM);
        }
    })
    .await;
    let message = fails_with(&sandbox, request, Kind::Connect)
        .await
        .message()
        .to_string();
    assert!(message.contains("stream error received"), "{message}");
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn an_h2_goaway_before_the_head_is_a_connection_error() {
    let sandbox = Sandbox::new();
    for reason in [h2::Reason::NO_ERROR, h2::Reason::INTERNAL_ERROR] {
        let (server, request) = h2_server(&sandbox, move |tls| async move {
            // The GOAWAY goes out before the server reads the request, so its last stream id
            // (0) is below the request's stream.
            let Some(io) = until_h2_request(tls).await else {
                return;
            };
            let Ok(mut conn) = h2::server::handshake(io).await else {
                return;
            };
            conn.abrupt_shutdown(reason);
            while let Some(Ok(_)) = conn.accept().await {}
        })
        .await;
        let message = fails_with(&sandbox, request, Kind::Connect)
            .await
            .message()
            .to_string();
        assert!(message.contains("connection error received"), "{message}");
        assert_eq!(server.connections(), 1);
    }
}

#[tokio::test]
async fn an_h2_stream_reset_mid_body_is_an_interruption() {
    let sandbox = Sandbox::new();
    let (_server, request) = h2_server(&sandbox, |tls| async move {
        let Ok(mut conn) = h2::server::handshake(tls).await else {
            return;
        };
        let Some(Ok((_request, mut respond))) = conn.accept().await else {
            return;
        };
        let driver = tokio::spawn(async move { while let Some(Ok(_)) = conn.accept().await {} });
        let head = http::Response::builder()
            .header("content-length", "100000")
            .body(())
            .unwrap();
        let Ok(mut send) = respond.send_response(head, false) else {
            return;
        };
        let _ = send.send_data(bytes::Bytes::from(body(30_000)), false);
        tokio::time::sleep(Duration::from_millis(100)).await;
        send.send_reset(h2::Reason::INTERNAL_ERROR);
        let _ = driver.await;
    })
    .await;
    let recorder = Recorder::default();
    let message = fails_observed(&sandbox, request, Kind::Interrupted, &recorder)
        .await
        .message()
        .to_string();
    assert!(message.contains("stream error received"), "{message}");
    assert_eq!(recorder.events.lock().unwrap()[0], "headers 200");
}

#[tokio::test]
async fn an_h2_protocol_error_our_client_detects_before_the_head_stays_a_network_error() {
    use tokio::io::AsyncReadExt;
    let sandbox = Sandbox::new();
    let (_server, request) = h2_server(&sandbox, |tls| async move {
        let Some(mut io) = until_h2_request(tls).await else {
            return;
        };
        // SETTINGS, then HEADERS for stream 1 whose HPACK block uses index 0, which does not
        // exist: the client sends its own GOAWAY (PROTOCOL_ERROR).
        let frames: &[u8] = &[
            0, 0, 0, 0x4, 0, 0, 0, 0, 0, //
            0, 0, 1, 0x1, 0x4, 0, 0, 0, 1, 0x80,
        ];
        if io.write_all(frames).await.is_err() || io.flush().await.is_err() {
            return;
        }
        let mut sink = [0u8; 4096];
        while matches!(io.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
    let message = fails_with(&sandbox, request, Kind::Network)
        .await
        .message()
        .to_string();
    assert!(message.contains("connection error detected"), "{message}");
}

/// A raw server answering every request with `head` and no body.
async fn answering(head: &'static str) -> TestServer {
    raw(move |mut socket| async move {
        read_head(&mut socket).await;
        let _ = socket.write_all(head.as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .await
}

#[tokio::test]
async fn a_content_length_too_large_for_the_http_stack_is_too_large_not_malformed() {
    let server = answering("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n").await;
    let sandbox = Sandbox::new();
    let recorder = Recorder::default();
    let request = sandbox.request(&server.url("http", "/huge"), "x");
    fails_observed(&sandbox, request, Kind::TooLarge, &recorder).await;
    assert!(
        recorder.events.lock().unwrap().is_empty(),
        "no headers event before the failure"
    );
}

#[tokio::test]
async fn a_non_numeric_content_length_stays_a_network_error() {
    let server = answering("HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n").await;
    download_fails(&server, "http", "/odd", Kind::Network).await;
}

#[tokio::test]
async fn a_kept_alive_connection_closed_as_the_request_went_out_is_retried_once_on_a_fresh_one() {
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = seen.clone();
    let server = raw(move |mut socket| {
        let first = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
        async move {
            read_head(&mut socket).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await;
            if first {
                // The next request on this kept-alive connection is read, then dropped unanswered.
                read_head(&mut socket).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    let sandbox = Sandbox::new();
    let engine = Engine::new();
    for name in ["a", "b"] {
        let request = sandbox.request(&server.url("http", "/ok"), name);
        let done = engine
            .download(&request, &Recorder::default(), &CancellationToken::new())
            .await
            .expect("the second download goes again on a fresh connection");
        assert_eq!(std::fs::read(&done.path).unwrap(), b"ok");
    }
    assert_eq!(server.connections(), 2);
}
