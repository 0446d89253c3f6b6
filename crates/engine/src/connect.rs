//! The connector hyper-util's pool calls for a new connection: DNS, TCP and TLS, each timed,
//! with the stream metered below TLS. Per-connection facts travel to every response of the
//! connection as `Connected::extra(ConnInfo)`.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::client::TlsStream;

use crate::dns::{DnsCache, Resolve};
use crate::egress::EgressPolicy;
use crate::error::{classify_connect_io, ConnectError, Kind};
use crate::first_connect::FirstConnect;
use crate::h2_ledger::H2Ledger;
use crate::h2_registry::H2Registry;
use crate::happy_eyeballs;
use crate::head_capture::{Capturing, HeadCapture};
use crate::meter::{Counters, Metered};
use crate::opener::{self, Attempt};
use crate::proxy::{self, ProxySettings};

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
    /// HTTP/2: how its socket bytes are shared among its streams.
    pub h2_ledger: Option<H2Ledger>,
    /// HTTP/1.1: the raw start of the response being read (see head_capture.rs).
    pub head: Option<Arc<HeadCapture>>,
    /// Responses this connection has delivered; on HTTP/1.1 the first one reports the set-up.
    uses: AtomicU64,
    /// Exchanges reading a response on it now (`Engine::stats`: idle when 0).
    pub busy: AtomicUsize,
    /// HTTP/2: who reports the set-up (DNS, TCP, TLS) as `socketReused: false`.
    setup: AtomicU8,
}

/// The set-up is kept for the request whose connect opened the connection.
const SETUP_FOR_OPENER: u8 = 0;
/// Nobody is waiting for it (the opener went elsewhere, or the connect had no requester):
/// the first download the connection carries reports it.
const SETUP_FOR_FIRST_USER: u8 = 1;
const SETUP_REPORTED: u8 = 2;

impl ConnMeta {
    /// Counts one response on this connection; returns how many came before it.
    pub fn claim_use(&self) -> u64 {
        self.uses.fetch_add(1, Ordering::Relaxed)
    }

    /// Responses this connection delivered so far.
    pub fn responses(&self) -> u64 {
        self.uses.load(Ordering::Relaxed)
    }

    /// HTTP/2: whether the download carried now reports the set-up: the opener always (the
    /// first time), any other download only when the opener let it go and nobody reported it.
    pub fn claim_setup(&self, by_opener: bool) -> bool {
        if by_opener {
            self.setup.swap(SETUP_REPORTED, Ordering::AcqRel) != SETUP_REPORTED
        } else {
            self.setup
                .compare_exchange(
                    SETUP_FOR_FIRST_USER,
                    SETUP_REPORTED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
        }
    }

    /// HTTP/2: a connection opened before any request was bound to it (handed to the pool,
    /// see `Connector::open_own`) keeps its set-up for the request the pool now gives it to.
    fn keep_setup_for_opener(&self) {
        self.setup.store(SETUP_FOR_OPENER, Ordering::Release);
    }

    /// HTTP/2: the opener's request went out on another connection or failed.
    pub fn release_setup(&self) {
        let _ = self.setup.compare_exchange(
            SETUP_FOR_OPENER,
            SETUP_FOR_FIRST_USER,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
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

/// The per-connection metadata hyper-util copies onto every response.
#[derive(Clone)]
pub struct ConnInfo(pub Arc<ConnMeta>);

#[derive(Clone)]
pub struct Connector {
    inner: Arc<ConnectorInner>,
}

/// How a host's connections are opened: the parts of its settings that decide which
/// connections it may share (SPEC 8), fixed for the life of its pool.
pub struct ConnectSettings {
    pub tls: Arc<rustls::ClientConfig>,
    /// Host name (lower-case) -> addresses used in place of DNS answers.
    pub overrides: HashMap<String, Vec<IpAddr>>,
    pub egress: Arc<EgressPolicy>,
    pub proxy: Option<Arc<ProxySettings>>,
}

/// Every connection an engine holds, for `Engine::stats`.
#[derive(Default)]
pub struct LiveConnections {
    conns: std::sync::Mutex<Vec<std::sync::Weak<ConnMeta>>>,
}

/// Connections held (in use or pooled), of those the ones carrying no response, and of the
/// held ones those on HTTP/2.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    pub open: usize,
    pub idle: usize,
    pub h2: usize,
}

impl LiveConnections {
    fn add(&self, meta: &Arc<ConnMeta>) {
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        conns.retain(|c| c.strong_count() > 0);
        conns.push(Arc::downgrade(meta));
    }

    pub fn stats(&self) -> ConnectionStats {
        let conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        let mut stats = ConnectionStats::default();
        for meta in conns.iter().filter_map(std::sync::Weak::upgrade) {
            stats.open += 1;
            if meta.busy.load(Ordering::Relaxed) == 0 {
                stats.idle += 1;
            }
            if meta.h2 {
                stats.h2 += 1;
            }
        }
        stats
    }
}

struct ConnectorInner {
    tls: tokio_rustls::TlsConnector,
    overrides: HashMap<String, Vec<IpAddr>>,
    egress: Arc<EgressPolicy>,
    proxy: Option<Arc<ProxySettings>>,
    resolver: Arc<dyn Resolve>,
    dns_cache: Arc<DnsCache>,
    live: Arc<LiveConnections>,
    h2: Arc<H2Registry>,
    first_connect: Arc<FirstConnect>,
    /// HTTP/2 connections the engine's own path opened, waiting for the pool to ask for a
    /// connection to their origin (origin key, stream, metadata).
    handoff: std::sync::Mutex<Vec<(String, Stream, Arc<ConnMeta>)>>,
}

impl Connector {
    pub fn new(
        settings: ConnectSettings,
        resolver: Arc<dyn Resolve>,
        dns_cache: Arc<DnsCache>,
        live: Arc<LiveConnections>,
    ) -> Self {
        Connector {
            inner: Arc::new(ConnectorInner {
                tls: tokio_rustls::TlsConnector::from(settings.tls),
                overrides: settings.overrides,
                egress: settings.egress,
                proxy: settings.proxy,
                resolver,
                dns_cache,
                live,
                h2: Arc::default(),
                first_connect: Arc::default(),
                handoff: std::sync::Mutex::default(),
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
    ConnectError::new(kind, cause)
}

/// Addresses and, when a lookup was made, its start and end.
type Lookup = (Vec<SocketAddr>, Option<(Instant, Instant)>);

impl ConnectorInner {
    async fn lookup(&self, host: &str, port: u16) -> Result<Lookup, ConnectError> {
        if let Some(ips) = self.overrides.get(&host.to_ascii_lowercase()) {
            return Ok((
                ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect(),
                None,
            ));
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

    /// The addresses the egress policy lets us dial, in the order to try them; none at all
    /// is a refusal that names them for the operator.
    fn permitted(&self, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, ConnectError> {
        let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = addrs
            .into_iter()
            .partition(|addr| self.egress.permits(addr.ip()));
        if allowed.is_empty() {
            return Err(refusal(refused.iter().map(SocketAddr::ip).collect()));
        }
        Ok(happy_eyeballs::interleave(allowed))
    }

    /// Through a proxy the destination is not resolved here; what can be judged without a
    /// lookup (an IP literal, `localhost`) is still checked before anything reaches the proxy.
    fn check_unresolved(&self, host: &str) -> Result<(), ConnectError> {
        let literal: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) if host.eq_ignore_ascii_case("localhost") => {
                vec![
                    IpAddr::from([127, 0, 0, 1]),
                    IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
                ]
            }
            Err(_) => return Ok(()),
        };
        if literal.iter().any(|ip| self.egress.permits(*ip)) {
            Ok(())
        } else {
            Err(refusal(literal))
        }
    }

    /// The TCP connection to the target, or to the proxy that reaches it, and the target's
    /// lookup when one was made here.
    async fn dial(
        &self,
        target: &Target,
        via: Option<&proxy::ProxyEndpoint>,
    ) -> Result<(Option<(Instant, Instant)>, happy_eyeballs::Connected), ConnectError> {
        let Target { host, port, .. } = target;
        match via {
            None => {
                let (addrs, dns) = self.lookup(host, *port).await?;
                let addrs = self.permitted(addrs)?;
                let attempt = happy_eyeballs::connect(&addrs).await.map_err(|e| {
                    fail(
                        classify_connect_io(&e, false),
                        format!("connect {host}:{port}: {e}"),
                    )
                })?;
                Ok((dns, attempt))
            }
            Some(endpoint) => {
                self.check_unresolved(host)?;
                let unreachable = |cause: String| fail(Kind::ProxyUnreachable, cause);
                let (addrs, dns) = self
                    .lookup(&endpoint.host, endpoint.port)
                    .await
                    .map_err(|e| unreachable(format!("proxy {}: {}", endpoint.host, e.cause)))?;
                let attempt = happy_eyeballs::connect(&happy_eyeballs::interleave(addrs))
                    .await
                    .map_err(|e| unreachable(format!("proxy {}: {e}", endpoint.host)))?;
                Ok((dns, attempt))
            }
        }
    }

    /// TLS over the metered stream for an https target (with the handshake's start and end,
    /// and whether ALPN chose h2); plain http stays as it is.
    async fn secure(&self, metered: Metered, target: &Target) -> Result<Secured, ConnectError> {
        let Target { https, host, port } = target;
        if !https {
            return Ok((Stream::Plain(metered), None, false));
        }
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
        Ok((
            Stream::Tls(Box::new(tls_stream)),
            Some((tls_start, tls_end)),
            h2,
        ))
    }

    /// Makes a new connection known: to the download that opened it, to the live count, and
    /// for https to the HTTP/2 registry and the first-connect wait of its origin.
    fn announce(&self, meta: &Arc<ConnMeta>, owner: Option<&Arc<Attempt>>, target: &Target) {
        if let Some(owner) = owner {
            let stream = meta.h2_ledger.as_ref().map(H2Ledger::open_at_start);
            owner.record(meta, stream);
        }
        self.live.add(meta);
        if target.https {
            let origin = origin_key("https", &target.host, target.port);
            if meta.h2 {
                self.h2.register(origin.clone(), meta);
            }
            self.first_connect.learned(&origin, meta.h2);
        }
    }

    /// A new connection to `uri`'s origin, announced; `capture` keeps a copy of each response
    /// head's start (hyper's path needs it, see head_capture.rs). Also returns whether plain
    /// http goes through a proxy, which then gets absolute-form requests.
    async fn establish(
        &self,
        uri: &Uri,
        owner: Option<Arc<Attempt>>,
        capture: bool,
    ) -> Result<(Stream, Arc<ConnMeta>, bool), ConnectError> {
        let target = Target::of(uri)?;
        let scheme = if target.https { "https" } else { "http" };
        let via = self
            .proxy
            .as_deref()
            .and_then(|proxy| proxy.for_target(scheme, &target.host));
        let (dns, attempt) = self.dial(&target, via).await?;
        let happy_eyeballs::Connected {
            stream: tcp,
            peer,
            started: connect_start,
        } = attempt;
        // Request heads are small; Nagle would only delay them.
        let _ = tcp.set_nodelay(true);
        let counters = Arc::new(Counters::new());
        let mut metered = Metered::new(tcp, counters.clone());
        if let (Some(endpoint), true) = (via, target.https) {
            proxy::open_tunnel(&mut metered, endpoint, &target.host, target.port).await?;
        }
        let (stream, tls, h2) = self.secure(metered, &target).await?;
        let connect_end = Instant::now();
        counters.start_new_burst();
        let head = (capture && !h2).then(Arc::<HeadCapture>::default);

        let meta = Arc::new(ConnMeta {
            dns,
            connect_start,
            connect_end,
            tls,
            peer,
            h2,
            h2_ledger: h2.then(|| H2Ledger::new(counters.clone())),
            counters,
            head,
            uses: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
            setup: AtomicU8::new(if owner.is_some() {
                SETUP_FOR_OPENER
            } else {
                SETUP_FOR_FIRST_USER
            }),
        });
        self.announce(&meta, owner.as_ref(), &target);
        Ok((stream, meta, via.is_some() && !target.https))
    }

    fn handoffs(&self) -> std::sync::MutexGuard<'_, Vec<(String, Stream, Arc<ConnMeta>)>> {
        self.handoff.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An HTTP/2 connection the own path opened for `target`'s origin, now the pool's; the
    /// request it is opened for (if any) reports its set-up, as if its own connect had run.
    fn take_handoff(&self, target: &Target, owner: Option<&Arc<Attempt>>) -> Option<Conn> {
        if !target.https {
            return None;
        }
        let origin = origin_key("https", &target.host, target.port);
        let (_, stream, meta) = {
            let mut handoffs = self.handoffs();
            let at = handoffs.iter().position(|(o, _, _)| *o == origin)?;
            handoffs.swap_remove(at)
        };
        if let Some(owner) = owner {
            meta.keep_setup_for_opener();
            owner.record(&meta, meta.h2_ledger.as_ref().map(H2Ledger::open_at_start));
        }
        Some(Conn {
            io: TokioIo::new(Io::Direct(stream)),
            meta,
            proxied: false,
        })
    }

    async fn connect(&self, uri: Uri, owner: Option<Arc<Attempt>>) -> Result<Conn, ConnectError> {
        if let Some(conn) = self.take_handoff(&Target::of(&uri)?, owner.as_ref()) {
            return Ok(conn);
        }
        let (stream, meta, proxied) = self.establish(&uri, owner, true).await?;
        Ok(Conn {
            io: TokioIo::new(match meta.head.clone() {
                Some(capture) => Io::Captured(Capturing::new(stream, capture)),
                None => Io::Direct(stream),
            }),
            meta,
            // hyper sends absolute-form requests on a connection marked proxied.
            proxied,
        })
    }
}

/// A connection the engine's own path opened.
pub enum Opened {
    /// HTTP/1.1, for the own exchange: the stream, its metadata, and whether plain http goes
    /// through a proxy (absolute-form requests).
    Http1(H1Stream, Arc<ConnMeta>, bool),
    /// ALPN chose HTTP/2: the connection waits for hyper's pool, which takes it on its next
    /// connect to the origin (`discard_handoff` drops it if the pool never asks).
    Http2(Arc<ConnMeta>),
}

impl Connector {
    /// A new connection for the engine's own HTTP/1.1 exchanges (h1.rs), opened exactly as
    /// the pool's (egress check, Happy Eyeballs, proxy, TLS with ALPN h2 and http/1.1).
    pub async fn open_own(&self, uri: &Uri) -> Result<Opened, ConnectError> {
        let (stream, meta, proxied) = self.inner.establish(uri, None, false).await?;
        if !meta.h2 {
            return Ok(Opened::Http1(stream, meta, proxied));
        }
        let target = Target::of(uri)?;
        let origin = origin_key("https", &target.host, target.port);
        self.inner.handoffs().push((origin, stream, meta.clone()));
        Ok(Opened::Http2(meta))
    }

    /// The engine closes: handed-off connections the pool never took are closed.
    pub fn close_handoffs(&self) {
        let dropped = std::mem::take(&mut *self.inner.handoffs());
        drop(dropped);
    }

    /// Closes a handed-off HTTP/2 connection the pool did not take (another connection
    /// served the request).
    pub fn discard_handoff(&self, meta: &Arc<ConnMeta>) {
        let dropped = {
            let mut handoffs = self.inner.handoffs();
            handoffs
                .iter()
                .position(|(_, _, m)| Arc::ptr_eq(m, meta))
                .map(|at| handoffs.swap_remove(at))
        };
        drop(dropped);
    }
}

/// The stream a connection speaks over, the TLS handshake's start and end, and whether it
/// speaks HTTP/2.
type Secured = (Stream, Option<(Instant, Instant)>, bool);

/// Where the pool asked to connect.
struct Target {
    https: bool,
    /// Without the brackets of an IPv6 literal.
    host: String,
    port: u16,
}

impl Target {
    fn of(uri: &Uri) -> Result<Target, ConnectError> {
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
        Ok(Target { https, host, port })
    }
}

fn refusal(refused: Vec<IpAddr>) -> ConnectError {
    fail(Kind::AddressNotAllowed, "address not allowed").with_refused(refused)
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
        let owner = opener::current();
        Box::pin(async move { inner.connect(uri, owner).await })
    }
}

/// The stream of an HTTP/1.1 connection the engine speaks on itself.
pub type H1Stream = Stream;

pub enum Stream {
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

/// What hyper reads and writes: HTTP/1.1 streams feed their head capture on the way.
enum Io {
    Direct(Stream),
    Captured(Capturing<Stream>),
}

macro_rules! each_io {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            Io::Direct($s) => $body,
            Io::Captured($s) => $body,
        }
    };
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each_io!(self.get_mut(), s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each_io!(self.get_mut(), s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each_io!(self.get_mut(), s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        each_io!(self, s => s.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_io!(self.get_mut(), s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_io!(self.get_mut(), s => Pin::new(s).poll_shutdown(cx))
    }
}

/// A pooled connection as hyper sees it.
pub struct Conn {
    io: TokioIo<Io>,
    meta: Arc<ConnMeta>,
    proxied: bool,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        let connected = Connected::new()
            .proxy(self.proxied)
            .extra(ConnInfo(self.meta.clone()));
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
