//! The quota: checked against Content-Length, against the running count, across concurrent
//! downloads, and with a replaced file counted as free.
mod support;

use support::*;
use tt_download_engine::{CancellationToken, Engine, Kind, Quota};

#[tokio::test]
async fn a_content_length_over_the_quota_fails_before_the_body() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let quota = Quota::new(10_000, 5_000);
    let mut request = sandbox.request(&server.url("http", "/bytes/6000"), "q");
    request.host.quota = Some(quota.clone());
    let err = Engine::new()
        .download(&request, &Recorder::default(), &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Quota);
    assert!(!sandbox.out("q").exists());
    assert!(sandbox.staging_files().is_empty());
    assert_eq!((quota.used(), quota.reserved()), (5_000, 0));
}

#[tokio::test]
async fn a_chunked_body_stops_as_soon_as_it_passes_the_quota() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let quota = Quota::new(10_000, 0);
    let mut request = sandbox.request(&server.url("http", "/chunked/200000"), "q");
    request.host.quota = Some(quota.clone());
    let recorder = Recorder::default();
    let err = Engine::new()
        .download(&request, &recorder, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Quota);
    assert!(sandbox.staging_files().is_empty());
    // Stopped at the first chunk past the limit, not after storing the whole body.
    let written = recorder
        .progress
        .lock()
        .unwrap()
        .last()
        .map(|p| p.0)
        .unwrap_or(0);
    assert!(written <= 10_000, "{written}");
    assert_eq!(quota.reserved(), 0);
}

#[tokio::test]
async fn two_downloads_that_fit_alone_cannot_both_succeed() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let quota = Quota::new(150_000, 0);
    let engine = Engine::new();
    let mut first = sandbox.request(&server.url("http", "/chunked/100000"), "a");
    first.host.quota = Some(quota.clone());
    let mut second = sandbox.request(&server.url("http", "/chunked/100000"), "b");
    second.host.quota = Some(quota.clone());
    let cancel = CancellationToken::new();
    let (first_events, second_events) = (Recorder::default(), Recorder::default());
    let (a, b) = tokio::join!(
        engine.download(&first, &first_events, &cancel),
        engine.download(&second, &second_events, &cancel)
    );
    let failures: Vec<Kind> = [a.err(), b.err()]
        .into_iter()
        .flatten()
        .map(|e| e.kind())
        .collect();
    assert_eq!(failures, vec![Kind::Quota]);
    assert_eq!((quota.used(), quota.reserved()), (100_000, 0));
}

#[tokio::test]
async fn replacing_a_file_only_counts_the_new_size() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    std::fs::write(sandbox.out("same"), vec![0u8; 8_000]).unwrap();
    let quota = Quota::new(10_000, 8_000);
    let mut request = sandbox.request(&server.url("http", "/bytes/9000"), "same");
    request.host.quota = Some(quota.clone());
    Engine::new()
        .download(&request, &Recorder::default(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(std::fs::read(sandbox.out("same")).unwrap(), body(9_000));
    assert_eq!((quota.used(), quota.reserved()), (9_000, 0));
}
