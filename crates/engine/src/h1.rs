//! HTTP/1.1 exchanges run on the download's own task (issue 18): the request head written and
//! the response read by the task that stores the body, on a connection it owns alone while it
//! uses it. hyper-util's pooled client spends a connection task, a dispatch channel, a `want`
//! pair, a oneshot and a body channel on each exchange, and every one of them is a wake-up of
//! another task. Heads and chunk sizes are parsed by httparse, the parser hyper uses, with
//! hyper's defaults (100 headers, a ~400 KiB head, no obs-fold), so both paths accept and
//! refuse the same responses. HTTP/2 stays on hyper.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Version};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

use crate::connect::{ConnMeta, H1Stream};
use crate::error::{Error, Kind};
use crate::h1_idle::{IdleConns, Parked};
use crate::head_capture;

/// hyper's limits, so a head one path takes the other takes too.
const MAX_HEADERS: usize = 100;
const MAX_HEAD_BYTES: usize = 8192 + 4096 * 100;
const HEAD_TOO_LARGE: &str = "message head is too large";
/// A chunk-size line with its extensions; hyper allows 16 KiB of extensions per body.
const MAX_CHUNK_LINE: usize = 16 * 1024;
/// First read of a response; doubled while reads fill it, up to `MAX_READ`, so large files
/// move in few big writes. As large as hyper's pieces of a small body, so a body over both the
/// size limit and a quota meets the size limit first, as on hyper's path (storage.spec.ts).
const FIRST_READ: usize = 64 * 1024;
const MAX_READ: usize = 512 * 1024;

/// A connection while one exchange holds it.
pub struct H1Conn {
    stream: H1Stream,
    pub meta: std::sync::Arc<ConnMeta>,
    /// Plain http through a proxy: requests go in absolute form.
    pub proxied: bool,
    /// Bytes read past what the exchange consumed so far.
    buf: BytesMut,
}

impl H1Conn {
    pub fn new(stream: H1Stream, meta: std::sync::Arc<ConnMeta>, proxied: bool) -> Self {
        H1Conn {
            stream,
            meta,
            proxied,
            buf: BytesMut::new(),
        }
    }

    /// Whether a parked connection is still usable: the server has neither closed it nor
    /// sent anything unasked (curl's check on reuse). Polls the socket once without waiting.
    pub fn looks_alive(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut probe = [0u8; 1];
        let mut read = ReadBuf::new(&mut probe);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        matches!(
            Pin::new(&mut self.stream).poll_read(&mut cx, &mut read),
            Poll::Pending
        )
    }

    async fn fill(&mut self, at_least: usize) -> io::Result<usize> {
        self.buf.reserve(at_least);
        self.stream.read_buf(&mut self.buf).await
    }
}

/// Why an exchange failed before its response head was in.
pub enum SendError {
    /// Written to or read from a connection that turned out closed before any response
    /// byte: on a reused connection the request may go once more on a fresh one.
    Closed(Error),
    Other(Error),
}

impl SendError {
    pub fn into_error(self) -> Error {
        match self {
            SendError::Closed(e) | SendError::Other(e) => e,
        }
    }
}

fn closed(message: String) -> SendError {
    SendError::Closed(Error::new(Kind::Connect, message))
}

fn malformed(message: impl Into<String>) -> SendError {
    SendError::Other(Error::new(Kind::Network, message))
}

/// A response head as received.
pub struct Head {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
}

/// Writes `head` (a complete request head) and reads the response head, skipping interim
/// (1xx) responses. `max_bytes` tells an all-digit Content-Length over the limit (SPEC 10:
/// too large) from a malformed one.
pub async fn exchange(
    conn: &mut H1Conn,
    head: &[u8],
    max_bytes: u64,
) -> Result<(Head, Framing), SendError> {
    conn.stream
        .write_all(head)
        .await
        .map_err(|e| closed(format!("connection closed while sending the request: {e}")))?;
    conn.stream
        .flush()
        .await
        .map_err(|e| closed(format!("connection closed while sending the request: {e}")))?;
    loop {
        let head = read_head(conn).await?;
        if head.status.is_informational() {
            if head.status == StatusCode::SWITCHING_PROTOCOLS {
                return Err(malformed("unexpected 101 Switching Protocols"));
            }
            continue;
        }
        let framing = framing_of(&head, max_bytes)?;
        return Ok((head, framing));
    }
}

async fn read_head(conn: &mut H1Conn) -> Result<Head, SendError> {
    let mut first_read = true;
    loop {
        if !conn.buf.is_empty() {
            if let Some((head, consumed)) = parse_head(&conn.buf)? {
                // However the bytes arrived: one read may bring a whole head past the limit.
                if consumed > MAX_HEAD_BYTES {
                    return Err(malformed(HEAD_TOO_LARGE));
                }
                conn.buf.advance(consumed);
                return Ok(head);
            }
            if conn.buf.len() >= MAX_HEAD_BYTES {
                return Err(malformed(HEAD_TOO_LARGE));
            }
        }
        let nothing_yet = first_read && conn.buf.is_empty();
        first_read = false;
        match conn.fill(FIRST_READ).await {
            Ok(0) if conn.buf.is_empty() => {
                return Err(closed("connection closed before a response".into()))
            }
            Ok(0) => return Err(closed("connection closed within the response head".into())),
            Ok(_) => {}
            Err(e) if nothing_yet || is_connection_loss(&e) => {
                return Err(closed(format!("connection lost before a response: {e}")))
            }
            Err(e) => return Err(malformed(format!("reading the response head: {e}"))),
        }
    }
}

fn is_connection_loss(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected
    )
}

fn parse_head(bytes: &[u8]) -> Result<Option<(Head, usize)>, SendError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    let consumed = match response.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        // hyper's words for both, so both paths read the same (bounds.spec.ts).
        Err(httparse::Error::TooManyHeaders) => return Err(malformed(HEAD_TOO_LARGE)),
        Err(e) => return Err(malformed(format!("invalid response head: {e}"))),
    };
    let status = StatusCode::from_u16(response.code.unwrap_or(0))
        .map_err(|e| malformed(format!("invalid status: {e}")))?;
    let version = match response.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let mut headers = HeaderMap::with_capacity(response.headers.len());
    for header in response.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes())
            .map_err(|e| malformed(format!("invalid header name: {e}")))?;
        let value = HeaderValue::from_bytes(header.value)
            .map_err(|e| malformed(format!("invalid header value: {e}")))?;
        headers.append(name, value);
    }
    Ok(Some((
        Head {
            status,
            version,
            headers,
        },
        consumed,
    )))
}

/// How the body of a response ends (RFC 9112 section 6.3), and whether the connection may
/// carry another exchange after it.
pub struct Framing {
    kind: Length,
    reusable: bool,
}

enum Length {
    Known(u64),
    Chunked,
    UntilClose,
}

fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .to_str()
            .unwrap_or("")
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    })
}

fn framing_of(head: &Head, max_bytes: u64) -> Result<Framing, SendError> {
    let headers = &head.headers;
    let keep_alive = match head.version {
        Version::HTTP_10 => has_token(headers, CONNECTION, "keep-alive"),
        _ => !has_token(headers, CONNECTION, "close"),
    };
    if head.status == StatusCode::NO_CONTENT || head.status == StatusCode::NOT_MODIFIED {
        return Ok(Framing {
            kind: Length::Known(0),
            reusable: keep_alive,
        });
    }
    if headers.contains_key(TRANSFER_ENCODING) {
        // Transfer-Encoding wins over any Content-Length, and such a response (a request
        // smuggling shape) never leaves the connection for another exchange.
        let chunked_last = headers
            .get_all(TRANSFER_ENCODING)
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        let with_length = headers.contains_key(CONTENT_LENGTH);
        return Ok(match chunked_last {
            true => Framing {
                kind: Length::Chunked,
                reusable: keep_alive && !with_length,
            },
            false => Framing {
                kind: Length::UntilClose,
                reusable: false,
            },
        });
    }
    if headers.contains_key(CONTENT_LENGTH) {
        let length = content_length(headers, max_bytes)?;
        return Ok(Framing {
            kind: Length::Known(length),
            reusable: keep_alive,
        });
    }
    Ok(Framing {
        kind: Length::UntilClose,
        reusable: false,
    })
}

/// Every Content-Length value (repeated headers and lists alike) must be the same number.
fn content_length(headers: &HeaderMap, max_bytes: u64) -> Result<u64, SendError> {
    let mut agreed: Option<u64> = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        for item in value.as_bytes().split(|&b| b == b',') {
            let digits = head_capture::trim_ascii(item);
            let parsed = std::str::from_utf8(digits)
                .ok()
                .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                .map(str::parse::<u64>);
            // 2^64 - 1 and above are beyond the HTTP stack (SPEC 10: too large, before any
            // headers event), as hyper has them.
            let length = match parsed {
                Some(Ok(length)) if length < u64::MAX => length,
                Some(_) if head_capture::digits_over(digits, max_bytes) => {
                    return Err(SendError::Other(Error::new(
                        Kind::TooLarge,
                        format!("Content-Length exceeds {max_bytes}"),
                    )))
                }
                _ => return Err(malformed("invalid Content-Length")),
            };
            match agreed {
                Some(earlier) if earlier != length => {
                    return Err(malformed("conflicting Content-Length values"))
                }
                _ => agreed = Some(length),
            }
        }
    }
    agreed.ok_or_else(|| malformed("invalid Content-Length"))
}

/// The body of one response, read on the caller's task; at its end a reusable connection is
/// parked for the next exchange to the same origin.
pub struct Body {
    conn: Option<H1Conn>,
    state: State,
    reusable: bool,
    next_read: usize,
    park: Option<(std::sync::Arc<IdleConns>, String)>,
}

enum State {
    Remaining(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers,
    UntilClose,
    Done,
}

fn interrupted(message: impl Into<String>) -> Error {
    Error::new(Kind::Interrupted, message)
}

impl Body {
    pub fn new(
        conn: H1Conn,
        framing: Framing,
        park: Option<(std::sync::Arc<IdleConns>, String)>,
    ) -> Body {
        let state = match framing.kind {
            Length::Known(0) => State::Done,
            Length::Known(n) => State::Remaining(n),
            Length::Chunked => State::ChunkSize,
            Length::UntilClose => State::UntilClose,
        };
        let mut body = Body {
            conn: Some(conn),
            state,
            reusable: framing.reusable,
            next_read: FIRST_READ,
            park,
        };
        if matches!(body.state, State::Done) {
            body.finish();
        }
        body
    }

    /// Parks the connection when nothing but this response came over it.
    fn finish(&mut self) {
        self.state = State::Done;
        let Some(conn) = self.conn.take() else {
            return;
        };
        if let (true, true, Some((idle, origin))) =
            (self.reusable, conn.buf.is_empty(), self.park.take())
        {
            let mut conn = conn;
            // An idle connection holds no read buffer: thousands may wait.
            conn.buf = BytesMut::new();
            idle.park(&origin, Parked::new(conn));
        }
    }

    /// Reads more into the connection's buffer; 0 means the peer closed.
    async fn fill(&mut self) -> Result<usize, Error> {
        let conn = self
            .conn
            .as_mut()
            .expect("a body being read holds its connection");
        let want = self.next_read;
        let n = conn
            .fill(want)
            .await
            .map_err(|e| interrupted(format!("reading the body: {e}")))?;
        if n >= want && self.next_read < MAX_READ {
            self.next_read *= 2;
        }
        Ok(n)
    }

    fn buffered(&mut self) -> &mut BytesMut {
        &mut self
            .conn
            .as_mut()
            .expect("a body being read holds its connection")
            .buf
    }

    /// The next piece of the body, `None` at its end.
    pub async fn chunk(&mut self) -> Option<Result<Bytes, Error>> {
        match self.next_chunk().await {
            Ok(Some(data)) => Some(Ok(data)),
            Ok(None) => None,
            Err(e) => {
                // A connection that failed never carries another exchange.
                self.conn = None;
                self.state = State::Done;
                Some(Err(e))
            }
        }
    }

    async fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Remaining(left) => {
                    if self.buffered().is_empty() && self.fill().await? == 0 {
                        return Err(interrupted(format!(
                            "connection closed with {left} bytes of the body still to come"
                        )));
                    }
                    let take = left.min(self.buffered().len() as u64);
                    let data = self.buffered().split_to(take as usize).freeze();
                    self.state = State::Remaining(left - take);
                    if left == take {
                        self.finish();
                    }
                    return Ok(Some(data));
                }
                State::UntilClose => {
                    if self.buffered().is_empty() && self.fill().await? == 0 {
                        self.finish();
                        return Ok(None);
                    }
                    let data = self.buffered().split().freeze();
                    return Ok(Some(data));
                }
                State::ChunkSize => match httparse::parse_chunk_size(self.buffered()) {
                    Ok(httparse::Status::Complete((consumed, size))) => {
                        self.buffered().advance(consumed);
                        self.state = match size {
                            0 => State::Trailers,
                            n => State::ChunkData(n),
                        };
                    }
                    Ok(httparse::Status::Partial) => {
                        if self.buffered().len() >= MAX_CHUNK_LINE {
                            return Err(interrupted("chunk size line too long"));
                        }
                        self.fill_within_chunking().await?
                    }
                    Err(_) => return Err(interrupted("invalid chunk size line")),
                },
                State::ChunkData(left) => {
                    if self.buffered().is_empty() {
                        self.fill_within_chunking().await?;
                    }
                    let take = left.min(self.buffered().len() as u64);
                    let data = self.buffered().split_to(take as usize).freeze();
                    self.state = match left - take {
                        0 => State::ChunkEnd,
                        rest => State::ChunkData(rest),
                    };
                    return Ok(Some(data));
                }
                State::ChunkEnd => {
                    if self.buffered().len() < 2 {
                        self.fill_within_chunking().await?;
                        continue;
                    }
                    if &self.buffered()[..2] != b"\r\n" {
                        return Err(interrupted("chunk data not followed by CRLF"));
                    }
                    self.buffered().advance(2);
                    self.state = State::ChunkSize;
                }
                State::Trailers => {
                    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    match httparse::parse_headers(self.buffered(), &mut slots) {
                        Ok(httparse::Status::Complete((consumed, _))) => {
                            self.buffered().advance(consumed);
                            self.finish();
                            return Ok(None);
                        }
                        Ok(httparse::Status::Partial) => {
                            if self.buffered().len() >= MAX_HEAD_BYTES {
                                return Err(interrupted("trailers too large"));
                            }
                            self.fill_within_chunking().await?;
                        }
                        Err(e) => return Err(interrupted(format!("invalid trailers: {e}"))),
                    }
                }
            }
        }
    }

    /// A chunked body needs more bytes: the peer closing now cuts the body short.
    async fn fill_within_chunking(&mut self) -> Result<(), Error> {
        match self.fill().await? {
            0 => Err(interrupted(
                "connection closed before the end of the chunked body",
            )),
            _ => Ok(()),
        }
    }
}
