//! A small in-process test server (HTTP/1.1, HTTPS with h1 or h2, raw misbehaving TCP) and
//! a throwaway PKI. Everything listens on 127.0.0.1:0 and stops when dropped.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http::{Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tt_download_engine::{
    CancellationToken, Destination, Download, EgressPolicy, Engine, Error, HostSettings, Observer,
    Request as DownloadRequest,
};

/// Deterministic body bytes for `/bytes/<n>`.
pub fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 31 + 7) % 251) as u8).collect()
}

pub struct Pki {
    pub ca_pem: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

pub struct Leaf {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Pki {
    pub fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "tt-download test CA");
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Pki {
            ca_pem: issuer.pem(),
            issuer,
        }
    }

    /// A leaf for `hosts`, valid from `days_from_now.0` to `days_from_now.1` days from now.
    pub fn leaf_valid(&self, hosts: &[&str], days_from_now: (i64, i64)) -> Leaf {
        let mut params =
            CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())
                .unwrap();
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now + time::Duration::days(days_from_now.0);
        params.not_after = now + time::Duration::days(days_from_now.1);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }

    pub fn leaf(&self, hosts: &[&str]) -> Leaf {
        self.leaf_valid(hosts, (-1, 30))
    }
}

pub fn self_signed(hosts: &[&str]) -> Leaf {
    let certified =
        rcgen::generate_simple_self_signed(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())
            .unwrap();
    Leaf {
        chain: vec![certified.cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        )),
    }
}

pub fn server_tls(leaf: Leaf, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(leaf.chain, leaf.key)
    .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

#[derive(Default)]
pub struct Stats {
    pub connections: AtomicUsize,
    pub requests: Mutex<Vec<(String, http::HeaderMap)>>,
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://files.test:{}{path}", self.addr.port())
    }

    pub fn connections(&self) -> usize {
        self.stats.connections.load(Ordering::SeqCst)
    }
}

type Body = BoxBody<Bytes, Infallible>;

fn full(bytes: Vec<u8>) -> Body {
    Full::new(Bytes::from(bytes)).boxed()
}

fn query(req: &Request<Incoming>, key: &str) -> Option<String> {
    req.uri().query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| v.to_string())
    })
}

/// Routes: `/bytes/<n>`, `/chunked/<n>`, `/redirect/<k>` (k hops, then /bytes/1024),
/// `/redirect-to?url=<u>`, `/stall` (head, then a body that never comes),
/// `/slow-head?ms=<t>`, `/status/<code>`, `/cookie/<value>`.
async fn route(req: Request<Incoming>, stats: Arc<Stats>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    stats
        .requests
        .lock()
        .unwrap()
        .push((path.clone(), req.headers().clone()));
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let (route, arg) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let n: usize = arg.parse().unwrap_or(0);
    let response = match route {
        "bytes" => Response::new(full(body(n))),
        "chunked" => {
            let chunks: Vec<Result<Frame<Bytes>, Infallible>> = body(n)
                .chunks(4096)
                .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
                .collect();
            Response::new(StreamBody::new(stream::iter(chunks)).boxed())
        }
        "redirect" if n > 0 => Response::builder()
            .status(StatusCode::FOUND)
            .header("location", format!("/redirect/{}", n - 1))
            .body(full(Vec::new()))
            .unwrap(),
        "redirect" => Response::builder()
            .status(StatusCode::FOUND)
            .header("location", "/bytes/1024")
            .body(full(Vec::new()))
            .unwrap(),
        "redirect-to" => Response::builder()
            .status(StatusCode::FOUND)
            .header("location", query(&req, "url").unwrap_or_default())
            .body(full(Vec::new()))
            .unwrap(),
        "stall" => Response::builder()
            .header("content-length", "1000")
            .body(StreamBody::new(stream::pending::<Result<Frame<Bytes>, Infallible>>()).boxed())
            .unwrap(),
        "slow-head" => {
            let ms: u64 = query(&req, "ms").and_then(|v| v.parse().ok()).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Response::new(full(body(10)))
        }
        // `/cookie/<next>`: sets a session cookie `s=<next>` and a persistent `p=1`, then
        // redirects to `/bytes/1` when next is "redirect".
        "cookie" => {
            let builder = Response::builder()
                .header("set-cookie", format!("s={arg}; Path=/"))
                .header("set-cookie", "p=1; Max-Age=3600; Path=/");
            let builder = if arg == "redirect" {
                builder
                    .status(StatusCode::FOUND)
                    .header("location", "/cookie/final")
            } else {
                builder
            };
            builder.body(full(Vec::new())).unwrap()
        }
        "status" => Response::builder()
            .status(StatusCode::from_u16(n as u16).unwrap_or(StatusCode::OK))
            .body(full(b"status body".to_vec()))
            .unwrap(),
        _ => Response::builder()
            .status(404)
            .body(full(b"not found".to_vec()))
            .unwrap(),
    };
    Ok(response)
}

/// Serves the routes over plain HTTP/1.1, or over TLS with whatever ALPN `tls` offers.
pub async fn serve(tls: Option<Arc<rustls::ServerConfig>>) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = Arc::new(Stats::default());
    let task_stats = stats.clone();
    let task = tokio::spawn(async move {
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                break;
            };
            task_stats.connections.fetch_add(1, Ordering::SeqCst);
            let stats = task_stats.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| route(req, stats.clone()));
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                match acceptor {
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(socket).await {
                            let _ = builder.serve_connection(TokioIo::new(tls), service).await;
                        }
                    }
                    None => {
                        let _ = builder
                            .http1_only()
                            .serve_connection(TokioIo::new(socket), service)
                            .await;
                    }
                }
            });
        }
    });
    TestServer { addr, stats, task }
}

/// A raw TCP server: `behave` gets each accepted socket and may misbehave with it.
pub async fn raw<F, Fut>(behave: F) -> TestServer
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = Arc::new(Stats::default());
    let task_stats = stats.clone();
    let behave = Arc::new(behave);
    let task = tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                break;
            };
            task_stats.connections.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(behave(socket));
        }
    });
    TestServer { addr, stats, task }
}

/// Reads until the end of a request head (bounded), so a raw server answers after it.
pub async fn read_head(socket: &mut TcpStream) {
    use tokio::io::AsyncReadExt;
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 64 * 1024 {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// A port on which nothing listens.
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[derive(Default)]
pub struct Recorder {
    pub events: Mutex<Vec<String>>,
    pub progress: Mutex<Vec<(u64, Option<u64>)>>,
}

impl Observer for Recorder {
    fn headers(&self, status: u16, _headers: &[(String, String)]) {
        self.events
            .lock()
            .unwrap()
            .push(format!("headers {status}"));
    }

    fn progress(&self, written: u64, expected: Option<u64>) {
        self.events.lock().unwrap().push("progress".into());
        self.progress.lock().unwrap().push((written, expected));
    }
}

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("staging")).unwrap();
        std::fs::create_dir_all(dir.path().join("out")).unwrap();
        Sandbox { dir }
    }

    pub fn staging(&self) -> PathBuf {
        self.dir.path().join("staging")
    }

    pub fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join("out").join(name)
    }

    pub fn files_in(&self, dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    pub fn staging_files(&self) -> Vec<String> {
        self.files_in(&self.staging())
    }

    /// A download to `out/<target>` on a host of its own, both halves set to what the tests
    /// assume unless they change a field.
    pub fn request(&self, url: &str, target: &str) -> Job {
        Job {
            host: HostSettings {
                allow_http: true,
                redirect_hosts: None,
                max_redirects: 10,
                max_bytes: 1 << 30,
                staging_dir: self.staging(),
                staging_prefix: format!("{}-", std::process::id()),
                fsync: false,
                ca_pems: Vec::new(),
                resolve: vec![("files.test".to_string(), vec!["127.0.0.1".parse().unwrap()])],
                egress: Arc::new(loopback_allowed()),
                proxy: None,
                trailing_headers: Vec::new(),
                quota: None,
                cookies: None,
                temp: None,
            },
            request: DownloadRequest {
                url: url.to_string(),
                headers: Vec::new(),
                timeout: Some(Duration::from_secs(10)),
                destination: Destination::Exact(self.out(target)),
                profile: true,
            },
        }
    }
}

/// One download with the settings of the host it runs on. Each run makes that host anew
/// from `host`: hosts with the same settings share the engine's pool (SPEC 8), so reuse
/// across jobs behaves as across the downloads of one host.
#[derive(Clone)]
pub struct Job {
    pub host: HostSettings,
    pub request: DownloadRequest,
}

/// `engine.download(&job, ...)`: a host for the job, then its download.
pub trait RunJob {
    fn download<'a>(
        &'a self,
        job: &'a Job,
        observer: &'a dyn Observer,
        cancel: &'a CancellationToken,
    ) -> impl std::future::Future<Output = Result<Download, Error>> + Send + 'a;
}

impl RunJob for Engine {
    async fn download(
        &self,
        job: &Job,
        observer: &dyn Observer,
        cancel: &CancellationToken,
    ) -> Result<Download, Error> {
        self.host(job.host.clone())?
            .download(&job.request, observer, cancel)
            .await
    }
}

/// The policy a host that talks to this machine's test servers needs: loopback allowed
/// explicitly, everything else as by default.
pub fn loopback_allowed() -> EgressPolicy {
    EgressPolicy::new(&["127.0.0.0/8".into(), "::1/128".into()], &[], false).unwrap()
}

/// A TLS server that hands each handshaken stream to `behave`, which speaks HTTP/2 (or
/// misbehaves) itself, e.g. through the `h2` crate. Each connection is cut off after 10 s.
pub async fn tls_raw<F, Fut>(tls: Arc<rustls::ServerConfig>, behave: F) -> TestServer
where
    F: Fn(tokio_rustls::server::TlsStream<TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let behave = Arc::new(behave);
    raw(move |socket| {
        let acceptor = acceptor.clone();
        let behave = behave.clone();
        async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), async move {
                if let Ok(tls) = acceptor.accept(socket).await {
                    behave(tls).await;
                }
            })
            .await;
        }
    })
    .await
}

/// An I/O stream that first yields bytes already read from it.
pub struct Replay<T> {
    read: Bytes,
    inner: T,
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Replay<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.read.is_empty() {
            return std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        let n = self.read.len().min(buf.remaining());
        let chunk = self.read.split_to(n);
        buf.put_slice(&chunk);
        std::task::Poll::Ready(Ok(()))
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Replay<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Reads the client's HTTP/2 preface and frames until its first HEADERS frame is complete
/// (bounded), and gives the stream back with those bytes to replay. An `h2` server handed
/// it has not seen the request yet, so a GOAWAY it sends first leaves the request's stream
/// unprocessed, whatever the timing. `None` if the client never sent a request.
pub async fn until_h2_request<T>(mut io: T) -> Option<Replay<T>>
where
    T: tokio::io::AsyncRead + Unpin,
{
    use tokio::io::AsyncReadExt;
    const PREFACE: usize = 24;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let mut at = PREFACE;
        while seen.len() >= at + 9 {
            let len = u32::from_be_bytes([0, seen[at], seen[at + 1], seen[at + 2]]) as usize;
            let end = at + 9 + len;
            if seen[at + 3] == 0x1 && seen.len() >= end {
                return Some(Replay {
                    read: Bytes::from(seen),
                    inner: io,
                });
            }
            at = end;
        }
        if seen.len() > 64 * 1024 {
            return None;
        }
        match io.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}
