//! The cookie jar: fed by every hop, sent on matching requests, merged with the caller's
//! header, persisted without session cookies, and never shared between jars.
mod support;

use support::*;
use tt_download_engine::{CancellationToken, CookieJar, Engine};

fn cookie_sent(server: &TestServer, index: usize) -> Option<String> {
    let requests = server.stats.requests.lock().unwrap();
    requests[index]
        .1
        .get("cookie")
        .map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test]
async fn cookies_from_redirects_and_final_responses_are_sent_back() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let engine = Engine::new();
    let jar = CookieJar::open(None);
    let mut first = sandbox.request(&server.url("http", "/cookie/redirect"), "1");
    first.host.cookies = Some(jar.clone());
    engine
        .download(&first, &Recorder::default(), &CancellationToken::new())
        .await
        .unwrap();
    // The hop after the redirect already carries the redirect's cookies.
    let mut sent: Vec<String> = cookie_sent(&server, 1)
        .unwrap()
        .split("; ")
        .map(str::to_string)
        .collect();
    sent.sort();
    assert_eq!(sent, ["p=1", "s=redirect"]);

    let mut second = sandbox.request(&server.url("http", "/bytes/1"), "2");
    second.host.cookies = Some(jar.clone());
    second.request.headers = vec![("cookie".into(), "s=mine; extra=yes".into())];
    engine
        .download(&second, &Recorder::default(), &CancellationToken::new())
        .await
        .unwrap();
    // The caller's value wins the clash on `s`; the jar adds what the caller did not set.
    assert_eq!(
        cookie_sent(&server, 2).as_deref(),
        Some("s=mine; extra=yes; p=1")
    );
}

#[tokio::test]
async fn persistent_cookies_survive_a_reopen_and_session_cookies_do_not() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let file = sandbox.dir.path().join("cookies.json");
    let engine = Engine::new();
    let mut request = sandbox.request(&server.url("http", "/cookie/x"), "1");
    request.host.cookies = Some(CookieJar::open(Some(file.clone())));
    engine
        .download(&request, &Recorder::default(), &CancellationToken::new())
        .await
        .unwrap();
    assert!(file.exists());

    let mut later = sandbox.request(&server.url("http", "/bytes/1"), "2");
    later.host.cookies = Some(CookieJar::open(Some(file)));
    engine
        .download(&later, &Recorder::default(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(cookie_sent(&server, 1).as_deref(), Some("p=1"));
}

#[tokio::test]
async fn two_jars_on_one_engine_never_see_each_others_cookies() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let engine = Engine::new();
    let mut setter = sandbox.request(&server.url("http", "/cookie/a"), "1");
    setter.host.cookies = Some(CookieJar::open(None));
    engine
        .download(&setter, &Recorder::default(), &CancellationToken::new())
        .await
        .unwrap();

    let mut other = sandbox.request(&server.url("http", "/bytes/1"), "2");
    other.host.cookies = Some(CookieJar::open(None));
    engine
        .download(&other, &Recorder::default(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(cookie_sent(&server, 1), None);
}
