//! One download: the redirect chain, the final response's head, the body to disk.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION};
use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::{capture_connection, CaptureConnection};

use crate::connect::{origin_key, ConnInfo, Opened};
use crate::error::{classify_body_error, classify_request_error, Error, Kind};
use crate::first_connect::Probe;
use crate::h1::{self, H1Conn, SendError};
use crate::h2_registry::Marks;
use crate::host::{HostInner, HostSettings};
use crate::opener::{self, Attempt};
use crate::pool::{OwnHttp1, Pooled};
use crate::profile::{Assembly, Exchange};
use crate::proxy::ProxyEndpoint;
use crate::quota::Reservation;
use crate::redirect::{is_followed, Hop, Policy};
use crate::sink::{self, Commit, Staging};
use crate::temp_store::TempReservation;
use crate::{naming, CookieJar, Destination, Download, Observer, Request as DownloadRequest};

const PROGRESS_INTERVAL: Duration = Duration::from_millis(50);

/// Headers that must not follow a redirect to another origin.
const ORIGIN_BOUND_HEADERS: [&str; 2] = ["authorization", "cookie"];

/// Header bytes are Latin-1 both ways, as in Node and browsers: every byte of a received
/// value is one character (obs-text 0x80-0xFF included, never replaced), and every character
/// of a value to send is one byte.
fn latin1_decode(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn latin1_encode(text: &str) -> Result<Vec<u8>, Error> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| Error::new(Kind::Internal, "header value beyond Latin-1"))
}

fn header_list(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), latin1_decode(value.as_bytes())))
        .collect()
}

fn header_str(headers: &HeaderMap, name: http::header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn build_request(
    hop: &Hop,
    headers: &[(String, String)],
    jar: Option<&CookieJar>,
    proxy: Option<&ProxyEndpoint>,
) -> Result<Request<Empty<Bytes>>, Error> {
    let mut builder = Request::get(hop.url.as_str());
    // Plain http goes to the proxy in absolute form and authenticates on each request; an
    // https hop's tunnel authenticated when the connector opened it.
    if let Some(authorization) = proxy.and_then(|p| p.authorization.as_deref()) {
        builder = builder.header(http::header::PROXY_AUTHORIZATION, authorization);
    }
    let mut caller_cookie = None;
    for (name, value) in headers {
        if name == "cookie" && jar.is_some() {
            caller_cookie = Some(value.as_str());
            continue;
        }
        let value = http::HeaderValue::from_bytes(&latin1_encode(value)?)
            .map_err(|e| Error::new(Kind::Internal, format!("invalid header value: {e}")))?;
        builder = builder.header(name.as_str(), value);
    }
    if let Some(cookie) = jar.and_then(|jar| jar.header_for(&hop.url, caller_cookie)) {
        builder = builder.header(http::header::COOKIE, cookie);
    }
    builder
        .body(Empty::new())
        .map_err(|e| Error::new(Kind::Internal, format!("invalid request: {e}")))
}

/// Whether the connection a failed request went out on had delivered a response before.
fn was_reused(connection: &CaptureConnection) -> bool {
    let mut extensions = http::Extensions::new();
    if let Some(connected) = connection.connection_metadata().as_ref() {
        connected.get_extras(&mut extensions);
    }
    extensions
        .get::<ConnInfo>()
        .is_some_and(|info| info.0.responses() > 0)
}

/// A head hyper could not parse, whose raw Content-Length is all digits and over the
/// limit, is a size problem (SPEC 10: 121521), not a malformed response.
fn refine_head_error(error: Error, connection: &CaptureConnection, max_bytes: u64) -> Error {
    if error.kind() != Kind::Network {
        return error;
    }
    let mut extensions = http::Extensions::new();
    if let Some(connected) = connection.connection_metadata().as_ref() {
        connected.get_extras(&mut extensions);
    }
    let over = extensions
        .get::<ConnInfo>()
        .and_then(|info| info.0.head.as_ref())
        .is_some_and(|head| head.announces_more_than(max_bytes));
    if over {
        Error::new(
            Kind::TooLarge,
            format!("Content-Length exceeds {max_bytes}: {}", error.message()),
        )
    } else {
        error
    }
}

/// Sends the request of the download that opens an origin's first connection, and lets the
/// burst waiting on it go once the request is on a connection: an HTTP/2 connection is then
/// in the pool for them to share (hyper-util pools it before it sends on it).
async fn release_when_pooled<F, T>(
    sent: F,
    probe: Probe<'_>,
    connection: &mut CaptureConnection,
) -> T
where
    F: Future<Output = T>,
{
    tokio::pin!(sent);
    tokio::select! {
        biased;
        result = &mut sent => result,
        // The metadata guard is not Send: only the moment counts.
        () = async { drop(connection.wait_for_connection_metadata().await) } => {
            drop(probe);
            sent.await
        }
    }
}

/// The redirect chain so far: the hop it is at, the headers it still carries, and what its
/// earlier hops cost, for the profile of the final response.
struct Chain<'a> {
    policy: Policy<'a>,
    max_redirects: u32,
    hop: Hop,
    headers: Vec<(String, String)>,
    fetch_start: Instant,
    redirect_count: u32,
    redirect_end: Option<Instant>,
    sent: u64,
    received: u64,
}

impl<'a> Chain<'a> {
    fn start(
        settings: &'a HostSettings,
        request: &DownloadRequest,
        fetch_start: Instant,
    ) -> Result<Self, Error> {
        let policy = Policy {
            allow_http: settings.allow_http,
            allowed_hosts: settings.redirect_hosts.as_ref(),
        };
        let hop = Hop::first(&request.url)?;
        if !policy.allows_scheme(&hop.url) {
            return Err(Error::new(
                Kind::Redirect,
                format!("scheme not allowed: {}", hop.url),
            ));
        }
        let mut headers =
            Vec::with_capacity(request.headers.len() + settings.trailing_headers.len());
        headers.extend(request.headers.iter().cloned());
        headers.extend(settings.trailing_headers.iter().cloned());
        Ok(Chain {
            policy,
            max_redirects: settings.max_redirects,
            hop,
            headers,
            fetch_start,
            redirect_count: 0,
            redirect_end: None,
            sent: 0,
            received: 0,
        })
    }

    /// Moves to the hop `location` names, once the exchange that sent it has ended.
    fn follow(&mut self, location: &str, exchange: &Exchange) -> Result<(), Error> {
        if self.redirect_count >= self.max_redirects {
            return Err(Error::new(
                Kind::Redirect,
                format!("more than {} redirects", self.max_redirects),
            ));
        }
        let next = self.policy.next_hop(&self.hop, location)?;
        // Removed for the rest of the chain, even if it comes back to this origin. The scheme
        // is part of the origin, so an https -> http downgrade is such a hop.
        if !next.same_origin(&self.hop) {
            self.headers
                .retain(|(name, _)| !ORIGIN_BOUND_HEADERS.contains(&name.as_str()));
        }
        let (sent, received) = exchange.bytes();
        self.sent += sent;
        self.received += received;
        self.redirect_count += 1;
        self.redirect_end = Some(Instant::now());
        self.hop = next;
        Ok(())
    }

    /// The profile of the whole chain, ending with the final response's exchange.
    fn profile(&self, last: &Exchange, body: &Body) -> crate::Profile {
        let (sent, received) = last.bytes();
        Assembly {
            fetch_start: self.fetch_start,
            redirects: self.redirect_end.map(|end| (self.fetch_start, end)),
            redirect_count: self.redirect_count,
            last,
            response_end: body.last_byte_at,
            body_bytes: body.written,
            sent_bytes: self.sent + sent,
            received_bytes: self.received + received,
            protocol: body.protocol,
        }
        .build()
    }
}

/// What the connection pool handed back for one hop's request.
struct Answer {
    response: Response<Incoming>,
    requested_at: Instant,
    attempt: Arc<Attempt>,
}

/// Sends the hop's request, once more on a fresh connection when a kept-alive one was found
/// closed as it went out.
async fn send(
    host: &HostInner,
    chain: &Chain<'_>,
    http_proxy: Option<&ProxyEndpoint>,
    mut probe: Option<Probe<'_>>,
) -> Result<Answer, Error> {
    let settings = &host.settings;
    let mut retried = false;
    loop {
        let mut outgoing = build_request(
            &chain.hop,
            &chain.headers,
            settings.cookies.as_ref(),
            http_proxy,
        )?;
        let mut connection = capture_connection(&mut outgoing);
        let attempt = Arc::new(Attempt::default());
        let requested_at = Instant::now();
        let sent = opener::on_behalf(attempt.clone(), host.client.http.request(outgoing));
        let result = match probe.take() {
            Some(probe) => release_when_pooled(sent, probe, &mut connection).await,
            None => sent.await,
        };
        match result {
            Ok(response) => {
                return Ok(Answer {
                    response,
                    requested_at,
                    attempt,
                })
            }
            Err(e) => {
                let error =
                    refine_head_error(classify_request_error(&e), &connection, settings.max_bytes);
                // A kept-alive connection that the server (or the tunnel of a proxy) closed
                // just as this request went out: a GET may be sent again, once, on a fresh
                // connection, as curl and browsers do.
                if !retried && error.kind() == Kind::Connect && was_reused(&connection) {
                    retried = true;
                    continue;
                }
                return Err(error);
            }
        }
    }
}

/// The request head of `request` as the engine writes it on its own HTTP/1.1 path: what
/// hyper writes for the same request (lower-case names in the map's order, no added
/// headers), with Host first as RFC 9110 asks.
fn request_head(request: &Request<Empty<Bytes>>, url: &url::Url, proxied: bool) -> Vec<u8> {
    use url::Position;
    let target = match proxied {
        true => &url[..Position::AfterQuery],
        false => &url[Position::BeforePath..Position::AfterQuery],
    };
    let mut head = Vec::with_capacity(128 + request.headers().len() * 32);
    head.extend_from_slice(b"GET ");
    head.extend_from_slice(target.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\n");
    if !request.headers().contains_key(HOST) {
        head.extend_from_slice(b"host: ");
        head.extend_from_slice(url.host_str().unwrap_or("").as_bytes());
        if let Some(port) = url.port() {
            head.extend_from_slice(format!(":{port}").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
    }
    for (name, value) in request.headers() {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// Whether the hop's exchange runs on the engine's own HTTP/1.1 path: plain http, and https
/// unless the origin has a live HTTP/2 connection (hyper's pool carries HTTP/2).
fn own_path<'a>(client: &'a Pooled, origin: Option<&str>) -> Option<&'a OwnHttp1> {
    let own = client.own_http1.as_ref()?;
    match origin {
        Some(https) if client.h2.has_live(https) => None,
        _ => Some(own),
    }
}

/// Where a hop's exchange on the own path ended up. One a hop, returned at once: boxing
/// the large variant would cost an allocation per download.
#[allow(clippy::large_enum_variant)]
enum Routed<'p> {
    Done(Received, Exchange),
    /// The new connection spoke HTTP/2: it waits for hyper's pool, and the exchange goes
    /// there, with the first-connect probe if this download holds it.
    Http2(Arc<crate::connect::ConnMeta>, Option<Probe<'p>>),
}

/// A hop's exchange on the engine's own HTTP/1.1 path (h1.rs): a parked connection to the
/// origin when one is still open, else a new one; a request that finds a parked connection
/// closed goes once more on a fresh one, as on hyper's path.
async fn send_own<'p>(
    own: &OwnHttp1,
    settings: &HostSettings,
    chain: &Chain<'_>,
    http_proxy: Option<&ProxyEndpoint>,
    probe: Option<Probe<'p>>,
) -> Result<Routed<'p>, Error> {
    let outgoing = build_request(
        &chain.hop,
        &chain.headers,
        settings.cookies.as_ref(),
        http_proxy,
    )?;
    let url = &chain.hop.url;
    let origin = origin_key(
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(80),
    );
    let requested_at = Instant::now();
    let mut parked = own.idle.checkout(&origin);
    loop {
        let reused = parked.is_some();
        let mut conn = match parked.take() {
            Some(conn) => conn,
            None => match own
                .connector
                .open_own(outgoing.uri())
                .await
                .map_err(|e| e.to_error())?
            {
                Opened::Http1(stream, meta, proxied) => H1Conn::new(stream, meta, proxied),
                Opened::Http2(meta) => return Ok(Routed::Http2(meta, probe)),
            },
        };
        let head = request_head(&outgoing, url, conn.proxied);
        match h1::exchange(&mut conn, &head, settings.max_bytes).await {
            Ok((head, framing)) => {
                let exchange =
                    Exchange::begin(conn.meta.clone(), requested_at, Instant::now(), &[], None);
                let body = h1::Body::new(conn, framing, Some((own.idle.clone(), origin)));
                // The handshake chose HTTP/1.1 (the waiters went then): the probe is done.
                drop(probe);
                return Ok(Routed::Done(
                    Received {
                        status: head.status,
                        version: head.version,
                        headers: head.headers,
                        body: ResponseBody::Own(body),
                    },
                    exchange,
                ));
            }
            Err(SendError::Closed(_)) if reused => continue,
            Err(e) => return Err(e.into_error()),
        }
    }
}

/// A hop's exchange through hyper-util's pooled client: HTTP/2, and every exchange when the
/// engine is set to hyper's path.
async fn send_pooled(
    host: &HostInner,
    chain: &Chain<'_>,
    http_proxy: Option<&ProxyEndpoint>,
    probe: Option<Probe<'_>>,
) -> Result<(Received, Exchange), Error> {
    let client = &host.client;
    let origin = https_origin(&chain.hop);
    let h2_marks = match &origin {
        Some(origin) => client.h2.marks(origin),
        None => Marks(Vec::new()),
    };
    let Answer {
        response,
        requested_at,
        attempt,
    } = send(host, chain, http_proxy, probe).await?;
    let head_at = Instant::now();
    let exchange = response
        .extensions()
        .get::<ConnInfo>()
        .map(|info| {
            let opened = attempt.take_if_opened(&info.0);
            Exchange::begin(info.0.clone(), requested_at, head_at, &h2_marks.0, opened)
        })
        .ok_or_else(|| Error::new(Kind::Internal, "response without connection metadata"))?;
    let (parts, body) = response.into_parts();
    Ok((
        Received {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body: ResponseBody::Hyper(body),
        },
        exchange,
    ))
}

/// A response head, and the body still to read, from either path.
struct Received {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    body: ResponseBody,
}

enum ResponseBody {
    Hyper(Incoming),
    Own(h1::Body),
}

/// At most this much of a redirect's body is read to keep its connection.
const REDIRECT_BODY_SKIPPED: usize = 64 * 1024;

impl ResponseBody {
    /// Reads and discards up to `limit` bytes that have already arrived, without waiting.
    fn skip_arrived(&mut self, limit: usize) {
        let mut skipped = 0;
        while skipped <= limit {
            match self.chunk().now_or_never() {
                Some(Some(Ok(data))) => skipped += data.len(),
                _ => return,
            }
        }
    }

    /// The next non-empty piece of the body, `None` at its end.
    async fn chunk(&mut self) -> Option<Result<Bytes, Error>> {
        match self {
            ResponseBody::Hyper(body) => loop {
                match body.frame().await? {
                    Err(e) => return Some(Err(classify_body_error(&e))),
                    Ok(frame) => match frame.into_data() {
                        Ok(data) if !data.is_empty() => return Some(Ok(data)),
                        _ => continue,
                    },
                }
            },
            ResponseBody::Own(body) => loop {
                match body.chunk().await? {
                    Ok(data) if data.is_empty() => continue,
                    other => return Some(other),
                }
            },
        }
    }
}

/// The origin key of an https hop: HTTP/2 connections, and the first-connect wait, are per
/// origin. Plain http never speaks HTTP/2 here.
fn https_origin(hop: &Hop) -> Option<String> {
    match (
        hop.url.scheme(),
        hop.url.host_str(),
        hop.url.port_or_known_default(),
    ) {
        ("https", Some(host), Some(port)) => Some(origin_key("https", host, port)),
        _ => None,
    }
}

/// `received` counts the final response's body bytes as they arrive, so whoever stops this
/// download early (a cancel, the deadline) still knows them.
pub(crate) async fn run(
    host: &HostInner,
    request: &DownloadRequest,
    observer: &dyn Observer,
    received: &AtomicU64,
) -> Result<Download, Error> {
    let settings = &host.settings;
    let client = &host.client;
    let mut chain = Chain::start(settings, request, Instant::now())?;
    loop {
        let http_proxy = match chain.hop.url.scheme() {
            "http" => client
                .proxy
                .as_deref()
                .and_then(|proxy| proxy.for_target("http", chain.hop.url.host_str().unwrap_or(""))),
            _ => None,
        };
        let origin = https_origin(&chain.hop);
        let probe = match &origin {
            Some(origin) => client.first_connect.admit(origin, &client.h2).await,
            None => None,
        };
        let (response, exchange) = match own_path(client, origin.as_deref()) {
            Some(own) => match send_own(own, settings, &chain, http_proxy, probe).await? {
                Routed::Done(response, exchange) => (response, exchange),
                Routed::Http2(meta, probe) => {
                    let sent = send_pooled(host, &chain, http_proxy, probe).await;
                    own.connector.discard_handoff(&meta);
                    sent?
                }
            },
            None => send_pooled(host, &chain, http_proxy, probe).await?,
        };
        if http_proxy.is_some()
            && response.status == http::StatusCode::PROXY_AUTHENTICATION_REQUIRED
        {
            return Err(
                Error::new(Kind::ProxyRefused, "the proxy asked for authentication")
                    .with_proxy_status(407),
            );
        }

        if let Some(jar) = &settings.cookies {
            jar.store_from(&chain.hop.url, &response.headers);
        }
        let location = header_str(&response.headers, LOCATION).map(str::to_string);
        match location.filter(|_| is_followed(response.status)) {
            Some(location) => {
                // The redirect body is not wanted: what of it has already arrived is read
                // (on the own path its connection then goes back for the next hop); dropping
                // the rest gives up the connection.
                let mut body = response.body;
                body.skip_arrived(REDIRECT_BODY_SKIPPED);
                drop(body);
                chain.follow(&location, &exchange)?;
            }
            None => {
                let store = Store {
                    settings,
                    destination: &request.destination,
                };
                let profile = request.profile.then_some(&chain);
                return receive(
                    response, exchange, &chain.hop, store, observer, received, profile,
                )
                .await
                .map_err(|e| e.with_body_bytes(received.load(Ordering::Relaxed)));
            }
        }
    }
}

/// The budget a download's bytes count against while they arrive.
enum Held {
    User(Reservation),
    Temp(TempReservation),
}

impl Held {
    fn grow_to(&mut self, total: u64) -> Result<(), Error> {
        match self {
            Held::User(r) => r.grow_to(total),
            Held::Temp(r) => r.grow_to(total),
        }
    }
}

/// Where the final body goes, under the host's limits.
struct Store<'a> {
    settings: &'a HostSettings,
    destination: &'a Destination,
}

impl Store<'_> {
    /// The file the body becomes: the caller's path, or a generated name in temp/ whose
    /// extension the response and the URL suggest (SPEC 4).
    fn target(&self, headers: &HeaderMap, hop: &Hop) -> Result<PathBuf, Error> {
        match self.destination {
            Destination::Exact(path) => Ok(path.clone()),
            Destination::Generated { stem } => {
                let dir = self
                    .settings
                    .temp
                    .as_ref()
                    .ok_or_else(|| {
                        Error::new(Kind::Internal, "a generated name needs a temp store")
                    })?
                    .dir();
                let ext = naming::extension(
                    header_str(headers, CONTENT_DISPOSITION),
                    hop.url.path(),
                    header_str(headers, CONTENT_TYPE),
                );
                Ok(dir.join(match ext {
                    Some(ext) => format!("{stem}.{ext}"),
                    None => stem.clone(),
                }))
            }
        }
    }

    /// The budget the body's bytes count against. The user quota counts a file this download
    /// would replace as free (measured now, and again at the rename) and fails early on an
    /// announced length; temp/ reserves only bytes that arrived, since its reservations evict
    /// delivered files and a length that never comes must not cost them.
    fn reserve(&self, target: &Path, announced: Option<u64>) -> Result<Option<Held>, Error> {
        let settings = self.settings;
        match (self.destination, &settings.temp, &settings.quota) {
            (Destination::Generated { .. }, Some(temp), _) => {
                Ok(Some(Held::Temp(temp.reservation())))
            }
            (_, _, Some(quota)) => {
                let mut reservation = quota.reservation(sink::replaced_size(target));
                if let Some(length) = announced {
                    reservation.grow_to(length)?;
                }
                Ok(Some(Held::User(reservation)))
            }
            _ => Ok(None),
        }
    }
}

/// The final response's body as it was stored.
struct Body {
    written: u64,
    last_byte_at: Instant,
    protocol: &'static str,
}

/// Streams the final response's body to a staging file and renames it into place; with a
/// chain to profile, its profile is taken when the last byte is in, before the rename.
async fn receive(
    response: Received,
    exchange: Exchange,
    hop: &Hop,
    store: Store<'_>,
    observer: &dyn Observer,
    received: &AtomicU64,
    profiled: Option<&Chain<'_>>,
) -> Result<Download, Error> {
    let settings = store.settings;
    let status = response.status.as_u16();
    let protocol = if response.version == Version::HTTP_2 {
        "h2"
    } else {
        "http/1.1"
    };
    let headers = header_list(&response.headers);
    observer.headers(status, &headers);

    // The raw header, not a decoded size hint: bodies are stored exactly as sent.
    let announced: Option<u64> =
        header_str(&response.headers, CONTENT_LENGTH).and_then(|v| v.trim().parse().ok());
    if let Some(length) = announced {
        if length > settings.max_bytes {
            return Err(Error::new(
                Kind::TooLarge,
                format!("Content-Length {length} exceeds {}", settings.max_bytes),
            ));
        }
    }
    let target = store.target(&response.headers, hop)?;
    let mut reservation = store.reserve(&target, announced)?;
    let mut staging = Staging::new(&settings.staging_dir, &settings.staging_prefix);
    let mut body = response.body;
    let mut last_byte_at = exchange.head_at;
    let mut written = 0u64;
    let mut last_progress: Option<Instant> = None;
    loop {
        let data = {
            let mut next = std::pin::pin!(body.chunk());
            match (&mut next).now_or_never() {
                Some(data) => data,
                None => {
                    // From the first wait on, the download is running on disk: its named
                    // staging file exists (a body that never waits may skip it, see sink.rs).
                    staging.materialize()?;
                    next.await
                }
            }
        };
        let Some(data) = data else {
            break;
        };
        let data = data?;
        last_byte_at = Instant::now();
        exchange.delivered(data.len() as u64);
        written += data.len() as u64;
        received.store(written, Ordering::Relaxed);
        if written > settings.max_bytes {
            return Err(Error::new(
                Kind::TooLarge,
                format!("body exceeds {} bytes", settings.max_bytes),
            ));
        }
        if let Some(reservation) = reservation.as_mut() {
            reservation.grow_to(written)?;
        }
        staging.write(&data)?;
        if last_progress.is_none_or(|at| last_byte_at.duration_since(at) >= PROGRESS_INTERVAL) {
            last_progress = Some(last_byte_at);
            observer.progress(written, announced);
        }
    }
    let stored = Body {
        written,
        last_byte_at,
        protocol,
    };
    let profile = profiled.map(|chain| chain.profile(&exchange, &stored));
    let replaced = staging
        .commit(
            &target,
            Commit {
                fsync: settings.fsync,
                measure_replaced: matches!(reservation, Some(Held::User(_))),
                fresh_target: matches!(store.destination, Destination::Generated { .. }),
            },
        )
        .await?;
    match reservation {
        Some(Held::User(reservation)) => reservation.commit(written, replaced),
        Some(Held::Temp(reservation)) => reservation.commit(&target, written),
        None => {}
    }
    Ok(Download {
        status,
        headers,
        path: target,
        data_length: written,
        profile,
    })
}
