//! The connector hyper-util's pool calls for a new connection: DNS, TCP and TLS, each timed,
//! with the stream metered below TLS. Per-connection facts travel to every response of the
//! connection as `Connected::extra(ConnInfo)`.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Instant;

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::dns::{DnsCache, Resolve};
use crate::error::{classify_connect_io, ConnectError, Kind};
use crate::first_connect::FirstConnect;
use crate::meter::{Counters, Metered};

/// What one connection knows about itself.
pub struct ConnMeta {
    /// `None` when no lookup was made (IP literal or a `resolve` override).
    pub dns: Option<(Instant, Instant)>,
    pub connect_start: Instant,
    /// TCP connected and, for https, the TLS handshake done.
    pub connect_end: Instant,
    pub tls: Option<(Instant, Instant)>,
    pub peer: SocketAddr,
    pub h2: bool,
    pub counters: Arc<Counters>,
    /// Responses this connection has delivered; the first one opened it.
    uses: AtomicU64,
}

impl ConnMeta {
    /// Counts one response on this connection; returns how many came before it.
    pub fn claim_use(&self) -> u64 {
        self.uses.fetch_add(1, Ordering::Relaxed)
    }

    /// Where the connection process began (DNS if any, else TCP).
    pub fn opened_at(&self) -> Instant {
        self.dns
            .map(|(start, _)| start)
            .unwrap_or(self.connect_start)
    }
}

/// Identifies the pool slot of a connection: scheme, host (no brackets, lower-case), port.
pub fn origin_key(scheme: &str, host: &str, port: u16) -> String {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    format!("{scheme}://{host}:{port}")
}

/// The live HTTP/2 connections of a pool, by origin. An HTTP/2 stream shares its connection,
/// so a download notes the counters of the connections it might be multiplexed onto when
/// it hands its request over; its share starts there.
#[derive(Default)]
pub struct H2Registry {
    live: Mutex<HashMap<String, Vec<Weak<ConnMeta>>>>,
}

/// Counter values of one connection at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct CounterMark {
    pub sent: u64,
    pub received: u64,
    pub data: u64,
}

impl CounterMark {
    pub fn of(counters: &Counters) -> Self {
        CounterMark {
            sent: counters.sent(),
            received: counters.received(),
            data: counters.data_delivered(),
        }
    }
}

impl H2Registry {
    fn register(&self, origin: String, meta: &Arc<ConnMeta>) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let conns = live.entry(origin).or_default();
        conns.retain(|c| c.strong_count() > 0);
        conns.push(Arc::downgrade(meta));
    }

    /// Whether some HTTP/2 connection to `origin` is still open.
    pub fn has_live(&self, origin: &str) -> bool {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.get(origin)
            .is_some_and(|conns| conns.iter().any(|c| c.strong_count() > 0))
    }

    /// The counters of every live HTTP/2 connection to `origin`, now.
    pub fn marks(&self, origin: &str) -> Vec<(Weak<ConnMeta>, CounterMark)> {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.get(origin)
            .map(|conns| {
                conns
                    .iter()
                    .filter_map(|weak| {
                        weak.upgrade()
                            .map(|meta| (weak.clone(), CounterMark::of(&meta.counters)))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The per-connection metadata hyper-util copies onto every response.
#[derive(Clone)]
pub struct ConnInfo(pub Arc<ConnMeta>);

#[derive(Clone)]
pub struct Connector {
    inner: Arc<ConnectorInner>,
}

struct ConnectorInner {
    tls: tokio_rustls::TlsConnector,
    /// Host name (lower-case) -> address overrides; they bypass DNS entirely.
    overrides: HashMap<String, IpAddr>,
    resolver: Arc<dyn Resolve>,
    dns_cache: Arc<DnsCache>,
    h2: Arc<H2Registry>,
    first_connect: Arc<FirstConnect>,
}

impl Connector {
    pub fn new(
        tls: Arc<rustls::ClientConfig>,
        overrides: HashMap<String, IpAddr>,
        resolver: Arc<dyn Resolve>,
        dns_cache: Arc<DnsCache>,
    ) -> Self {
        Connector {
            inner: Arc::new(ConnectorInner {
                tls: tokio_rustls::TlsConnector::from(tls),
                overrides,
                resolver,
                dns_cache,
                h2: Arc::default(),
                first_connect: Arc::default(),
            }),
        }
    }

    pub fn h2_registry(&self) -> Arc<H2Registry> {
        self.inner.h2.clone()
    }

    pub fn first_connect(&self) -> Arc<FirstConnect> {
        self.inner.first_connect.clone()
    }
}

fn fail(kind: Kind, cause: impl Into<String>) -> ConnectError {
    ConnectError {
        kind,
        cause: cause.into(),
    }
}

impl ConnectorInner {
    async fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> Result<(Vec<SocketAddr>, Option<(Instant, Instant)>), ConnectError> {
        if let Some(ip) = self.overrides.get(&host.to_ascii_lowercase()) {
            return Ok((vec![SocketAddr::new(*ip, port)], None));
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok((vec![SocketAddr::new(ip, port)], None));
        }
        if let Some(addrs) = self.dns_cache.get(host, port) {
            // A cached answer is no lookup: the DNS phase collapses onto fetchStart.
            return Ok((addrs, None));
        }
        let start = Instant::now();
        let addrs = self
            .resolver
            .resolve(host, port)
            .await
            .map_err(|e| fail(Kind::Dns, format!("{host}: {e}")))?;
        let end = Instant::now();
        if addrs.is_empty() {
            return Err(fail(Kind::Dns, format!("{host}: no addresses")));
        }
        self.dns_cache.put(host, port, addrs.clone());
        Ok((addrs, Some((start, end))))
    }

    async fn connect(&self, uri: Uri) -> Result<Conn, ConnectError> {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => {
                return Err(fail(
                    Kind::Internal,
                    format!("unsupported scheme {other:?}"),
                ))
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| fail(Kind::Internal, "URL without host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });

        let (addrs, dns) = self.resolve(&host, port).await?;

        let connect_start = Instant::now();
        let mut last_error: Option<io::Error> = None;
        let mut connected = None;
        for addr in &addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    connected = Some((stream, *addr));
                    break;
                }
                Err(e) => last_error = Some(e),
            }
        }
        let (tcp, peer) = match connected {
            Some(found) => found,
            None => {
                let err =
                    last_error.unwrap_or_else(|| io::Error::other("no address to connect to"));
                return Err(fail(
                    classify_connect_io(&err, false),
                    format!("connect {host}:{port}: {err}"),
                ));
            }
        };
        // Request heads are small; Nagle would only delay them.
        let _ = tcp.set_nodelay(true);
        let counters = Arc::new(Counters::new());
        let metered = Metered::new(tcp, counters.clone());

        let (stream, tls, h2) = if https {
            let server_name = rustls_pki_types::ServerName::try_from(host.clone())
                .map_err(|e| fail(Kind::Internal, format!("invalid server name {host}: {e}")))?;
            let tls_start = Instant::now();
            let tls_stream = self.tls.connect(server_name, metered).await.map_err(|e| {
                fail(
                    classify_connect_io(&e, true),
                    format!("TLS handshake with {host}:{port}: {e}"),
                )
            })?;
            let tls_end = Instant::now();
            let h2 = tls_stream.get_ref().1.alpn_protocol() == Some(b"h2");
            (
                Stream::Tls(Box::new(tls_stream)),
                Some((tls_start, tls_end)),
                h2,
            )
        } else {
            (Stream::Plain(metered), None, false)
        };
        let connect_end = Instant::now();
        counters.start_new_burst();

        let meta = Arc::new(ConnMeta {
            dns,
            connect_start,
            connect_end,
            tls,
            peer,
            h2,
            counters,
            uses: AtomicU64::new(0),
        });
        if https {
            let origin = origin_key("https", &host, port);
            if h2 {
                self.h2.register(origin.clone(), &meta);
            }
            self.first_connect.learned(&origin, h2);
        }
        Ok(Conn {
            io: TokioIo::new(stream),
            meta,
        })
    }
}

impl tower_service::Service<Uri> for Connector {
    type Response = Conn;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move { inner.connect(uri).await })
    }
}

enum Stream {
    Plain(Metered),
    Tls(Box<TlsStream<Metered>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A pooled connection as hyper sees it.
pub struct Conn {
    io: TokioIo<Stream>,
    meta: Arc<ConnMeta>,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        let connected = Connected::new().extra(ConnInfo(self.meta.clone()));
        if self.meta.h2 {
            connected.negotiated_h2()
        } else {
            connected
        }
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
