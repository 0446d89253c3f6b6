//! SPEC 11 in the engine: the policy on the dialled address, Happy Eyeballs, proxies. What
//! reached a server is the evidence: a refused destination sees no connection at all.
mod support;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tt_download_engine::{
    CancellationToken, EgressPolicy, Engine, Kind, NoProxy, ProxyEndpoint, ProxySettings,
};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

async fn run(request: &Job) -> Result<tt_download_engine::Download, tt_download_engine::Error> {
    Engine::new()
        .download(request, &Recorder::default(), &CancellationToken::new())
        .await
}

#[tokio::test]
async fn the_default_policy_refuses_loopback_before_any_packet() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let mut request = sandbox.request(&server.url("http", "/bytes/10"), "x");
    request.host.egress = Arc::new(EgressPolicy::new(&[], &[], false).unwrap());
    let err = run(&request).await.unwrap_err();
    assert_eq!(err.kind(), Kind::AddressNotAllowed);
    assert_eq!(err.refused(), &[ip("127.0.0.1")]);
    assert_eq!(server.connections(), 0, "nothing reached the server");
    assert!(sandbox.staging_files().is_empty());
}

#[tokio::test]
async fn a_refused_open_port_and_a_refused_closed_port_fail_alike() {
    let server = serve(None).await;
    let closed = closed_port().await;
    let sandbox = Sandbox::new();
    let mut outcomes = Vec::new();
    for port in [server.addr.port(), closed] {
        let mut request = sandbox.request(&format!("http://127.0.0.1:{port}/bytes/10"), "x");
        request.host.egress = Arc::new(EgressPolicy::new(&[], &[], false).unwrap());
        let err = run(&request).await.unwrap_err();
        outcomes.push((err.kind(), err.message().to_string()));
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert_eq!(server.connections(), 0);
}

/// A listener on `addr` that answers every request with `head` (and counts connections).
async fn answering_on(
    addr: &str,
    head: String,
) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind(addr).await.unwrap();
    let local = listener.local_addr().unwrap();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let head = head.clone();
            tokio::spawn(async move {
                read_head(&mut socket).await;
                let _ = socket.write_all(head.as_bytes()).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            });
        }
    });
    (local, count)
}

#[tokio::test]
async fn a_redirect_hop_to_a_refused_address_is_refused_on_that_hop() {
    let target = serve(None).await;
    let location = format!("http://0x7f000001:{}/bytes/10", target.addr.port());
    let (redirector, _) = answering_on(
        "127.0.0.2:0",
        format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"),
    )
    .await;
    let sandbox = Sandbox::new();
    let mut request = sandbox.request(&format!("http://{redirector}/"), "x");
    // Only the first hop's address is allowed; 0x7f000001 is 127.0.0.1.
    request.host.egress = Arc::new(EgressPolicy::new(&["127.0.0.2".into()], &[], false).unwrap());
    let err = run(&request).await.unwrap_err();
    assert_eq!(err.kind(), Kind::AddressNotAllowed);
    assert_eq!(err.refused(), &[ip("127.0.0.1")]);
    assert_eq!(target.connections(), 0);
}

#[tokio::test]
async fn only_the_allowed_addresses_of_a_name_are_tried() {
    let server = serve(None).await;
    let sandbox = Sandbox::new();
    let mut request = sandbox.request(&server.url("http", "/bytes/10"), "x");
    request.host.resolve = vec![("files.test".into(), vec![ip("127.0.0.3"), ip("127.0.0.1")])];
    request.host.egress = Arc::new(EgressPolicy::new(&["127.0.0.1".into()], &[], false).unwrap());
    let done = run(&request).await.unwrap();
    assert_eq!(done.profile.unwrap().peer_ip, "127.0.0.1");
}

/// A listener whose accept queue is full: the kernel drops further SYNs, so a connect to it
/// neither succeeds nor fails (a broken route, as far as the client can tell).
async fn blackhole(addr: SocketAddr) -> (std::net::TcpListener, Vec<TcpStream>) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket.bind(&addr.into()).unwrap();
    socket.listen(0).unwrap();
    let listener: std::net::TcpListener = socket.into();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => fillers.push(stream),
            _ => return (listener, fillers),
        }
    }
    panic!("the accept queue of {addr} never filled up");
}

/// Sockets of this process's network namespace still trying to connect to `addr`.
fn syn_sent_to(addr: SocketAddr) -> usize {
    let IpAddr::V4(v4) = addr.ip() else { return 0 };
    let wanted = format!(
        "{:08X}:{:04X}",
        u32::from_le_bytes(v4.octets()),
        addr.port()
    );
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(2) == Some(&wanted.as_str()) && fields.get(3) == Some(&"02")
        })
        .count()
}

#[tokio::test]
async fn happy_eyeballs_falls_back_from_a_blackholed_address_and_closes_the_loser() {
    let server = serve(None).await;
    let dead: SocketAddr = format!("127.0.0.2:{}", server.addr.port()).parse().unwrap();
    let (_listener, _fillers) = blackhole(dead).await;
    let sandbox = Sandbox::new();
    let mut request = sandbox.request(&server.url("http", "/bytes/100"), "x");
    request.host.resolve = vec![("files.test".into(), vec![dead.ip(), ip("127.0.0.1")])];
    request.request.timeout = Some(Duration::from_secs(10));
    let done = run(&request)
        .await
        .expect("the second address carries the download");
    let profile = done.profile.unwrap();
    assert_eq!(profile.peer_ip, "127.0.0.1");
    assert_eq!(done.data_length, 100);
    // The losing attempt was dropped with the race; its SYN_SENT socket is gone.
    let mut left = syn_sent_to(dead);
    for _ in 0..50 {
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        left = syn_sent_to(dead);
    }
    assert_eq!(left, 0, "the attempt to the blackholed address was closed");
}

/// A scripted HTTP proxy: records request heads, tunnels `CONNECT` to `upstream` (or
/// refuses with `connect_status`), answers absolute-form requests itself.
struct ScriptedProxy {
    addr: SocketAddr,
    heads: Arc<std::sync::Mutex<Vec<String>>>,
}

async fn scripted_proxy(upstream: SocketAddr, connect_status: u16) -> ScriptedProxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match client.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                seen.lock().unwrap().push(text.clone());
                if !text.starts_with("CONNECT ") {
                    let body = "via proxy";
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = client.write_all(answer.as_bytes()).await;
                    return;
                }
                if connect_status != 200 {
                    let answer =
                        format!("HTTP/1.1 {connect_status} Refused\r\nContent-Length: 0\r\n\r\n");
                    let _ = client.write_all(answer.as_bytes()).await;
                    return;
                }
                let Ok(mut origin) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut origin).await;
            });
        }
    });
    ScriptedProxy { addr, heads }
}

fn through(proxy: &ScriptedProxy, authorization: Option<&str>) -> Arc<ProxySettings> {
    let endpoint = ProxyEndpoint {
        host: "127.0.0.1".into(),
        port: proxy.addr.port(),
        authorization: authorization.map(str::to_string),
    };
    Arc::new(ProxySettings {
        http: Some(endpoint.clone()),
        https: Some(endpoint),
        no_proxy: NoProxy::default(),
    })
}

#[tokio::test]
async fn https_goes_through_a_connect_tunnel_naming_the_host_unresolved() {
    let pki = Pki::new();
    let server = serve(Some(server_tls(pki.leaf(&["files.test"]), &[b"http/1.1"]))).await;
    let proxy = scripted_proxy(server.addr, 200).await;
    let sandbox = Sandbox::new();
    let mut request = sandbox.request(&server.url("https", "/bytes/1000"), "x");
    request.host.ca_pems = vec![pki.ca_pem.clone()];
    request.host.resolve.clear();
    // The destination is the proxy's to resolve and check: a refusing policy does not apply.
    request.host.egress = Arc::new(EgressPolicy::new(&[], &[], false).unwrap());
    request.host.proxy = Some(through(&proxy, Some("Basic dXNlcjpwYXNz")));
    let done = run(&request).await.unwrap();
    assert_eq!(done.data_length, 1000);
    let profile = done.profile.unwrap();
    assert_eq!(profile.peer_ip, "127.0.0.1");
    assert_eq!(profile.port, proxy.addr.port());
    let heads = proxy.heads.lock().unwrap().clone();
    let connect = format!("CONNECT files.test:{} HTTP/1.1\r\n", server.addr.port());
    assert!(heads[0].starts_with(&connect), "{heads:?}");
    assert!(heads[0].contains("Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"));
}

#[tokio::test]
async fn http_goes_to_the_proxy_in_absolute_form_with_its_credentials() {
    let proxy = scripted_proxy("127.0.0.1:9".parse().unwrap(), 200).await;
    let sandbox = Sandbox::new();
    let mut request = sandbox.request("http://files.test:8080/a.bin", "x");
    request.host.proxy = Some(through(&proxy, Some("Basic dXNlcjpwYXNz")));
    let done = run(&request).await.unwrap();
    assert_eq!(std::fs::read(&done.path).unwrap(), b"via proxy");
    let heads = proxy.heads.lock().unwrap().clone();
    assert!(
        heads[0].starts_with("GET http://files.test:8080/a.bin HTTP/1.1\r\n"),
        "{heads:?}"
    );
    assert!(heads[0]
        .to_ascii_lowercase()
        .contains("proxy-authorization: basic dxnlcjpwyxnz\r\n"));
}

#[tokio::test]
async fn a_refused_connect_carries_the_proxy_status() {
    let proxy = scripted_proxy("127.0.0.1:9".parse().unwrap(), 403).await;
    let sandbox = Sandbox::new();
    let mut request = sandbox.request("https://files.test:8443/a.bin", "x");
    request.host.proxy = Some(through(&proxy, None));
    let err = run(&request).await.unwrap_err();
    assert_eq!(err.kind(), Kind::ProxyRefused);
    assert_eq!(err.proxy_status(), Some(403));
}

#[tokio::test]
async fn a_proxy_nobody_listens_on_is_unreachable() {
    let port = closed_port().await;
    let sandbox = Sandbox::new();
    let mut request = sandbox.request("https://files.test:8443/a.bin", "x");
    request.host.proxy = Some(Arc::new(ProxySettings {
        http: None,
        https: Some(ProxyEndpoint {
            host: "127.0.0.1".into(),
            port,
            authorization: None,
        }),
        no_proxy: NoProxy::default(),
    }));
    let err = run(&request).await.unwrap_err();
    assert_eq!(err.kind(), Kind::ProxyUnreachable);
}

#[tokio::test]
async fn through_a_proxy_a_refused_ip_literal_never_reaches_it() {
    let proxy = scripted_proxy("127.0.0.1:9".parse().unwrap(), 200).await;
    let sandbox = Sandbox::new();
    let mut request = sandbox.request("http://169.254.169.254/latest/meta-data/", "x");
    request.host.proxy = Some(through(&proxy, None));
    let err = run(&request).await.unwrap_err();
    assert_eq!(err.kind(), Kind::AddressNotAllowed);
    assert!(proxy.heads.lock().unwrap().is_empty());
}
