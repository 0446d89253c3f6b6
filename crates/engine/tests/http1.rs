//! HTTP/1.1 framing on both paths: the engine's own exchange (h1.rs) and hyper's pooled
//! client must take and refuse the same responses alike, with the same bytes counted.
mod support;

use std::time::Duration;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tt_download_engine::{CancellationToken, Engine, Http1Path, Kind};

/// What a download came to: the status and body stored, or the kind of its failure.
#[derive(Debug, PartialEq)]
enum Outcome {
    Stored { status: u16, body: Vec<u8> },
    Failed(Kind),
}

/// A raw server writing `response` to each connection after the request head, then closing
/// (after a pause, so a response that must not be read to the close is not).
async fn answering(response: Vec<u8>) -> TestServer {
    let response = std::sync::Arc::new(response);
    raw(move |mut socket| {
        let response = response.clone();
        async move {
            read_head(&mut socket).await;
            let _ = socket.write_all(&response).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
    .await
}

/// A raw server that writes `response` and closes at once (close-delimited bodies).
async fn answering_then_closing(response: &'static [u8]) -> TestServer {
    raw(move |mut socket| async move {
        read_head(&mut socket).await;
        let _ = socket.write_all(response).await;
        let _ = socket.shutdown().await;
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
            (Outcome::Failed(e.kind()), None)
        }
    }
}

/// Runs `response` through both paths and checks both come to `expected`, with equal byte
/// counts.
async fn both_paths(name: &str, server: TestServer, expected: Outcome) {
    let own = outcome(&Engine::new(), &server, name).await;
    let hyper = outcome(
        &Engine::new().with_http1_path(Http1Path::Hyper),
        &server,
        name,
    )
    .await;
    assert_eq!(own.0, expected, "{name}: own path");
    assert_eq!(hyper.0, expected, "{name}: hyper's path");
    assert_eq!(
        own.1, hyper.1,
        "{name}: (sent, received) bytes on both paths"
    );
}

fn stored(body: &[u8]) -> Outcome {
    Outcome::Stored {
        status: 200,
        body: body.to_vec(),
    }
}

#[tokio::test]
async fn interim_responses_are_skipped() {
    let response = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    both_paths("1xx", answering(response.to_vec()).await, stored(b"ok")).await;
}

#[tokio::test]
async fn no_content_and_not_modified_have_no_body() {
    let no_content = b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n";
    let expected = Outcome::Stored {
        status: 204,
        body: Vec::new(),
    };
    both_paths("204", answering(no_content.to_vec()).await, expected).await;
    let not_modified = b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n";
    let expected = Outcome::Stored {
        status: 304,
        body: Vec::new(),
    };
    both_paths("304", answering(not_modified.to_vec()).await, expected).await;
}

#[tokio::test]
async fn chunked_bodies_with_extensions_and_trailers() {
    let response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;name=value\r\nabc\r\n2 ; x\r\nde\r\n0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n";
    both_paths(
        "chunked",
        answering(response.to_vec()).await,
        stored(b"abcde"),
    )
    .await;
}

#[tokio::test]
async fn close_delimited_bodies_end_at_the_close() {
    let response = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
    both_paths(
        "close-delimited",
        answering_then_closing(response).await,
        stored(b"until the end"),
    )
    .await;
    let http10 = b"HTTP/1.0 200 OK\r\n\r\nold style";
    both_paths(
        "HTTP/1.0",
        answering_then_closing(http10).await,
        stored(b"old style"),
    )
    .await;
    let unknown_coding = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw bytes";
    both_paths(
        "non-chunked transfer coding",
        answering_then_closing(unknown_coding).await,
        stored(b"raw bytes"),
    )
    .await;
}

#[tokio::test]
async fn content_lengths_that_agree_pass_and_conflicting_ones_fail() {
    let twice = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok";
    both_paths(
        "same length twice",
        answering(twice.to_vec()).await,
        stored(b"ok"),
    )
    .await;
    let conflicting = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!";
    both_paths(
        "conflicting lengths",
        answering(conflicting.to_vec()).await,
        Outcome::Failed(Kind::Network),
    )
    .await;
    let non_numeric = b"HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok";
    both_paths(
        "non-numeric length",
        answering(non_numeric.to_vec()).await,
        Outcome::Failed(Kind::Network),
    )
    .await;
    let beyond = b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n";
    both_paths(
        "length beyond 2^64",
        answering(beyond.to_vec()).await,
        Outcome::Failed(Kind::TooLarge),
    )
    .await;
}

#[tokio::test]
async fn transfer_encoding_wins_over_content_length() {
    let response =
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
    both_paths("TE + CL", answering(response.to_vec()).await, stored(b"ok")).await;
}

#[tokio::test]
async fn bare_line_feeds_obs_fold_and_oversized_heads() {
    let bare_lf = b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok";
    both_paths("bare LF", answering(bare_lf.to_vec()).await, stored(b"ok")).await;
    let folded = b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok";
    both_paths(
        "obs-fold",
        answering(folded.to_vec()).await,
        Outcome::Failed(Kind::Network),
    )
    .await;
    let mut oversized = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..60 {
        oversized.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "v".repeat(8000)).as_bytes());
    }
    oversized.extend_from_slice(b"Content-Length: 2\r\n\r\nok");
    both_paths(
        "oversized head",
        answering(oversized).await,
        Outcome::Failed(Kind::Network),
    )
    .await;
    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..101 {
        many.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"Content-Length: 2\r\n\r\nok");
    both_paths(
        "101 headers",
        answering(many).await,
        Outcome::Failed(Kind::Network),
    )
    .await;
}

#[tokio::test]
async fn bodies_cut_short_are_interrupted() {
    let short = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    both_paths(
        "short body",
        answering_then_closing(short).await,
        Outcome::Failed(Kind::Interrupted),
    )
    .await;
    let unfinished = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab";
    both_paths(
        "unfinished chunk",
        answering_then_closing(unfinished).await,
        Outcome::Failed(Kind::Interrupted),
    )
    .await;
    let bad_size = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n";
    both_paths(
        "invalid chunk size",
        answering(bad_size.to_vec()).await,
        Outcome::Failed(Kind::Interrupted),
    )
    .await;
    let nothing = b"";
    both_paths(
        "closed before a response",
        answering_then_closing(nothing).await,
        Outcome::Failed(Kind::Connect),
    )
    .await;
}

/// A keep-alive server on one connection per accept, answering each request with `body`
/// (Content-Length framed) until the client goes away; `connections()` counts accepts.
async fn keep_alive(body: &'static [u8]) -> TestServer {
    raw(move |mut socket| async move {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // One request per head; at most 100 per connection keeps the loop bounded.
        for _ in 0..100 {
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let end = seen.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            seen.drain(..end);
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
    let server = raw(|mut socket| async move {
        read_head(&mut socket).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
            .await;
        tokio::time::sleep(Duration::from_secs(3)).await;
    })
    .await;
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
        let mut buf = [0u8; 4096];
        // Two requests at most on a connection: the redirect, then its target.
        for answer in [
            &b"HTTP/1.1 302 Found\r\nLocation: /there\r\nContent-Length: 9\r\n\r\nmoved on."[..],
            &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"[..],
        ] {
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let end = seen.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            seen.drain(..end);
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
