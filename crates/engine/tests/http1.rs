//! HTTP/1.1 framing on both paths: the engine's own exchange (h1.rs) and hyper's pooled
//! client must take and refuse the same responses alike, with the same bytes counted.
mod support;

use std::time::Duration;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tt_download_engine::{CancellationToken, Engine, Http1Path, Kind};

/// What a download came to: the status and body stored, or the kind of its failure (by its
/// name, as the case file spells it).
#[derive(Debug, PartialEq)]
enum Outcome {
    Stored { status: u16, body: Vec<u8> },
    Failed(String),
}

/// How a raw server ends each connection after writing its response.
#[derive(Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Then {
    /// Holds it open a while: a response must be framed to end.
    Wait,
    /// Closes it at once: close-delimited bodies end there.
    Close,
}

/// A raw server writing `response` to each connection after the request head.
async fn answering(response: &[u8], then: Then) -> TestServer {
    let response = std::sync::Arc::new(response.to_vec());
    raw(move |mut socket| {
        let response = response.clone();
        async move {
            read_head(&mut socket).await;
            let _ = socket.write_all(&response).await;
            match then {
                Then::Wait => tokio::time::sleep(Duration::from_millis(300)).await,
                Then::Close => drop(socket.shutdown().await),
            }
        }
    })
    .await
}

async fn outcome(
    engine: &Engine,
    server: &TestServer,
    name: &str,
) -> (Outcome, Option<(u64, u64)>) {
    let sandbox = Sandbox::new();
    let file: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut job = sandbox.request(&server.url("http", "/case"), &file);
    job.request.timeout = Some(Duration::from_secs(5));
    match engine
        .download(&job, &Recorder::default(), &CancellationToken::new())
        .await
    {
        Ok(done) => {
            let profile = done.profile.expect("profiled");
            (
                Outcome::Stored {
                    status: done.status,
                    body: std::fs::read(&done.path).unwrap(),
                },
                Some((profile.sent_bytes_count, profile.received_bytes_count)),
            )
        }
        Err(e) => {
            assert!(sandbox.staging_files().is_empty(), "{name}: staging left");
            (Outcome::Failed(format!("{:?}", e.kind())), None)
        }
    }
}

/// Runs `response` through both paths: both come to `expected`, with equal byte counts.
async fn on_both_paths(name: &str, response: Vec<u8>, then: Then, expected: &Outcome) {
    let server = answering(&response, then).await;
    let own = outcome(&Engine::new(), &server, name).await;
    let hyper = outcome(
        &Engine::new().with_http1_path(Http1Path::Hyper),
        &server,
        name,
    )
    .await;
    assert_eq!(&own.0, expected, "{name}: own path");
    assert_eq!(&hyper.0, expected, "{name}: hyper's path");
    assert_eq!(
        own.1, hyper.1,
        "{name}: (sent, received) bytes on both paths"
    );
}

/// One entry of `__test__/cases/http1-responses.json`.
#[derive(serde::Deserialize)]
struct Case {
    name: String,
    response: String,
    then: Then,
    stored: Option<Stored>,
    fails: Option<String>,
}

#[derive(serde::Deserialize)]
struct Stored {
    status: u16,
    body: String,
}

#[tokio::test]
async fn the_response_cases_come_out_alike_on_both_paths() {
    #[derive(serde::Deserialize)]
    struct File {
        cases: Vec<Case>,
    }
    let file: File =
        serde_json::from_str(include_str!("../../../__test__/cases/http1-responses.json")).unwrap();
    for case in file.cases {
        let expected = match (case.stored, case.fails) {
            (Some(stored), None) => Outcome::Stored {
                status: stored.status,
                body: stored.body.into_bytes(),
            },
            (None, Some(kind)) => Outcome::Failed(kind),
            _ => panic!("{}: one of stored and fails", case.name),
        };
        on_both_paths(&case.name, case.response.into_bytes(), case.then, &expected).await;
    }
}

#[tokio::test]
async fn heads_past_the_limits_fail_alike_on_both_paths() {
    let malformed = Outcome::Failed("Network".into());
    let mut oversized = b"HTTP/1.1 200 OK\r\n".to_vec();
    // Over 1 MiB: past either reader's limit however the bytes arrive (hyper may take a head
    // up to its limit plus one read).
    for i in 0..130 {
        oversized.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "v".repeat(8000)).as_bytes());
    }
    oversized.extend_from_slice(b"Content-Length: 2\r\n\r\nok");
    on_both_paths("oversized head", oversized, Then::Wait, &malformed).await;
    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..101 {
        many.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"Content-Length: 2\r\n\r\nok");
    on_both_paths("101 headers", many, Then::Wait, &malformed).await;
}

/// Reads until `seen` holds a whole request head and takes it off; false once the client is gone
/// (or never ends its head).
/// The test requests have no body, so what follows a head is the next request.
async fn next_request_head(socket: &mut (impl AsyncReadExt + Unpin), seen: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 4096];
    // A test head fits in one read or a few; 64 reads bound a client that never ends its head.
    for _ in 0..64 {
        if let Some(at) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            seen.drain(..at + 4);
            return true;
        }
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    false
}

/// A keep-alive server on one connection per accept, answering each request with `body`
/// (Content-Length framed) until the client goes away; `connections()` counts accepts.
async fn keep_alive(body: &'static [u8]) -> TestServer {
    raw(move |mut socket| async move {
        let mut seen = Vec::new();
        // One request per head; at most 100 per connection keeps the loop bounded.
        for _ in 0..100 {
            if !next_request_head(&mut socket, &mut seen).await {
                return;
            }
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            if socket.write_all(head.as_bytes()).await.is_err()
                || socket.write_all(body).await.is_err()
            {
                return;
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_connection_is_reused_after_a_whole_response_and_never_after_a_failure() {
    let server = keep_alive(&[7u8; 50_000]).await;
    let sandbox = Sandbox::new();
    let engine = Engine::new();
    let recorder = Recorder::default();
    let cancel = CancellationToken::new();
    for name in ["a", "b", "c"] {
        let job = sandbox.request(&server.url("http", "/x"), name);
        engine.download(&job, &recorder, &cancel).await.unwrap();
    }
    assert_eq!(
        server.connections(),
        1,
        "one kept-alive connection for three downloads"
    );
    assert_eq!(engine.connection_stats().idle, 1);

    // Over the byte limit mid-body: the rest of that response is still on the connection.
    let mut over = sandbox.request(&server.url("http", "/x"), "over");
    over.host.max_bytes = 20_000;
    let err = engine
        .download(&over, &recorder, &cancel)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::TooLarge);
    let job = sandbox.request(&server.url("http", "/x"), "after");
    engine.download(&job, &recorder, &cancel).await.unwrap();
    assert_eq!(
        server.connections(),
        2,
        "the failed exchange's connection was not parked"
    );
}

#[tokio::test]
async fn a_cancelled_exchange_gives_up_its_connection() {
    let partial = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial";
    let server = answering(partial, Then::Wait).await;
    let sandbox = Sandbox::new();
    let engine = Engine::new();
    let job = sandbox.request(&server.url("http", "/slow"), "x");
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        canceller.cancel();
    });
    let err = engine
        .download(&job, &Recorder::default(), &cancel)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Cancelled);
    assert_eq!(
        engine.connection_stats().open,
        0,
        "nothing held after the cancel"
    );
    assert!(sandbox.staging_files().is_empty());
}

#[tokio::test]
async fn a_redirect_whose_body_has_arrived_keeps_its_connection_for_the_next_hop() {
    let server = raw(|mut socket| async move {
        let mut seen = Vec::new();
        // Two requests at most on a connection: the redirect, then its target.
        for answer in [
            &b"HTTP/1.1 302 Found\r\nLocation: /there\r\nContent-Length: 9\r\n\r\nmoved on."[..],
            &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"[..],
        ] {
            if !next_request_head(&mut socket, &mut seen).await {
                return;
            }
            if socket.write_all(answer).await.is_err() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    })
    .await;
    let sandbox = Sandbox::new();
    let job = sandbox.request(&server.url("http", "/here"), "x");
    let done = Engine::new()
        .download(&job, &Recorder::default(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(std::fs::read(&done.path).unwrap(), b"ok");
    assert_eq!(
        server.connections(),
        1,
        "the redirect's connection carried the next hop"
    );
    assert!(done.profile.unwrap().socket_reused);
}

/// https: the own path opens the first connection with ALPN h2 and http/1.1; HTTP/1.1 stays
/// on it, HTTP/2 is handed to hyper's pool. Either way one connection carries every download,
/// only the first reports the set-up, and nothing is left over.
#[tokio::test]
async fn https_origins_keep_one_connection_on_either_protocol() {
    let pki = Pki::new();
    let sandbox = Sandbox::new();
    for (alpn, protocol) in [
        (b"http/1.1".as_slice(), "http/1.1"),
        (b"h2".as_slice(), "h2"),
    ] {
        let engine = Engine::new();
        let server = serve(Some(server_tls(pki.leaf(&["files.test"]), &[alpn]))).await;
        let mut reused = Vec::new();
        for i in 0..3 {
            let name = format!("{}-{i}", protocol.replace('/', "_"));
            let mut job = sandbox.request(&server.url("https", "/bytes/3000"), &name);
            job.host.ca_pems = vec![pki.ca_pem.clone()];
            let done = engine
                .download(&job, &Recorder::default(), &CancellationToken::new())
                .await
                .unwrap();
            assert_eq!(std::fs::read(&done.path).unwrap(), body(3000));
            let profile = done.profile.unwrap();
            assert_eq!(profile.protocol, protocol);
            reused.push(profile.socket_reused);
        }
        assert_eq!(reused, [false, true, true], "{protocol}");
        assert_eq!(server.connections(), 1, "{protocol}");
        assert_eq!(
            engine.connection_stats().open,
            1,
            "{protocol}: nothing left over"
        );
    }
}

#[tokio::test]
async fn a_parked_connection_the_server_closes_is_let_go_without_a_next_download() {
    // Kept alive as far as the client knows, then closed by the server.
    let server = answering(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        Then::Wait,
    )
    .await;
    let sandbox = Sandbox::new();
    let engine = Engine::new();
    let job = sandbox.request(&server.url("http", "/x"), "x");
    engine
        .download(&job, &Recorder::default(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(engine.connection_stats().open, 1);
    let mut open = 1;
    // The sweep runs every second; 50 looks of 100 ms leave it several chances.
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        open = engine.connection_stats().open;
        if open == 0 {
            break;
        }
    }
    assert_eq!(
        open, 0,
        "the closed connection was dropped from the idle list"
    );

    let job = sandbox.request(&server.url("http", "/x"), "y");
    engine
        .download(&job, &Recorder::default(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(engine.connection_stats().open, 1);
    engine.close_idle_connections();
    assert_eq!(
        engine.connection_stats().open,
        0,
        "closing the engine closes parked connections"
    );
}
