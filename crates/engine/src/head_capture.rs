//! The first bytes of each HTTP/1.1 response as they came off the connection. hyper refuses
//! a head whose Content-Length it cannot represent (2^64 - 1 and above) with the same parse
//! error as a non-numeric one, before any head exists; SPEC 10 tells them apart (121521 for
//! an all-digit length over the limit, 121591 otherwise), so the raw head is read again here.

use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Enough for any head hyper accepts (its default limit is ~400 KiB of buffer, but real
/// heads that fail on their length are small); bytes beyond it are not kept.
const CAPTURE_LIMIT: usize = 16 * 1024;

/// The bytes read since the last request was written, up to `CAPTURE_LIMIT`.
#[derive(Default)]
pub struct HeadCapture {
    state: Mutex<CaptureState>,
}

#[derive(Default)]
struct CaptureState {
    bytes: Vec<u8>,
    /// A write happened since the last read: the next read starts a new response.
    restart: bool,
}

impl HeadCapture {
    fn wrote(&self) {
        self.lock().restart = true;
    }

    fn read(&self, data: &[u8]) {
        let mut state = self.lock();
        if std::mem::take(&mut state.restart) {
            state.bytes.clear();
        }
        let room = CAPTURE_LIMIT.saturating_sub(state.bytes.len());
        state.bytes.extend_from_slice(&data[..data.len().min(room)]);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CaptureState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the captured head announces an all-digit Content-Length above `limit`.
    pub fn announces_more_than(&self, limit: u64) -> bool {
        announced_over(&self.lock().bytes, limit)
    }
}

/// Parses with httparse (which does not interpret Content-Length) and compares the digits
/// without converting them, so lengths beyond 2^64 compare too.
fn announced_over(head: &[u8], limit: u64) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut response = httparse::Response::new(&mut headers);
    if !matches!(response.parse(head), Ok(httparse::Status::Complete(_))) {
        return false;
    }
    response
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
        .any(|h| digits_over(trim_ascii(h.value), limit))
}

/// Whether `digits` (already trimmed) are all ASCII digits naming a number above `limit`,
/// compared as text so that numbers beyond 2^64 compare too.
pub fn digits_over(digits: &[u8], limit: u64) -> bool {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let significant = match digits.iter().position(|&d| d != b'0') {
        Some(start) => &digits[start..],
        None => return false,
    };
    let limit = limit.to_string();
    significant.len() > limit.len()
        || (significant.len() == limit.len() && significant > limit.as_bytes())
}

pub fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

/// A stream that feeds a `HeadCapture` (HTTP/1.1 connections only; HTTP/2 lengths are the
/// h2 crate's to judge).
pub struct Capturing<S> {
    inner: S,
    capture: std::sync::Arc<HeadCapture>,
}

impl<S> Capturing<S> {
    pub fn new(inner: S, capture: std::sync::Arc<HeadCapture>) -> Self {
        Capturing { inner, capture }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Capturing<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let fresh = &buf.filled()[before..];
            if !fresh.is_empty() {
                this.capture.read(fresh);
            }
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capturing<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.capture.wrote();
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.capture.wrote();
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(length: &str) -> Vec<u8> {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n").into_bytes()
    }

    #[test]
    fn all_digit_lengths_compare_beyond_u64() {
        assert!(announced_over(&head("18446744073709551615"), 1000));
        assert!(announced_over(&head("99999999999999999999999"), u64::MAX));
        assert!(announced_over(&head(" 1001 "), 1000));
        assert!(!announced_over(&head("1000"), 1000));
        assert!(!announced_over(&head("0001000"), 1000));
    }

    #[test]
    fn non_numeric_lengths_and_partial_heads_are_not_size_problems() {
        assert!(!announced_over(&head("12abc"), 10));
        assert!(!announced_over(&head("-1"), 10));
        assert!(!announced_over(
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999",
            10
        ));
    }
}
