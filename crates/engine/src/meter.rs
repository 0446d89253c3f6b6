//! A byte-counting wrapper around the TCP stream, below TLS, so counts are wire bytes.
//! It also notes when each burst of writes starts (a write after reading), which on an
//! HTTP/1.1 connection is where a request head begins.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Socket-level counters and write-burst marks of one connection.
pub struct Counters {
    sent: AtomicU64,
    received: AtomicU64,
    bursts: Mutex<Bursts>,
    #[cfg(unix)]
    fd: Mutex<Option<std::os::fd::RawFd>>,
    /// The RTT sampled just before the socket closed (f64 bits): a server may close the
    /// connection right after the last body byte, before the profile is assembled.
    rtt_at_close: AtomicU64,
}

/// Bursts remembered for the exchanges that look for theirs. HTTP/1.1 carries one exchange at
/// a time, but the pool may write the next request as soon as a small response is parsed,
/// before the download that got it has looked at the connection: the current burst is then
/// already the next request's.
const BURSTS_KEPT: u64 = 8;

#[derive(Clone, Copy, Debug, Default)]
pub struct Burst {
    /// First write after the last read: on HTTP/1.1, the start of a request head.
    pub start: Option<Instant>,
    pub last_write: Option<Instant>,
    pub sent_before: u64,
    pub received_before: u64,
    /// Counts the bursts, so an exchange can tell whether the next one has begun.
    pub seq: u64,
}

struct Bursts {
    /// Indexed by `seq % BURSTS_KEPT`.
    recent: [Burst; BURSTS_KEPT as usize],
    seq: u64,
    after_read: bool,
    /// The burst that carries the first request (the one after the handshake).
    first_request: u64,
}

impl Bursts {
    fn get(&self, seq: u64) -> Option<Burst> {
        (seq <= self.seq && self.seq - seq < BURSTS_KEPT && seq > 0)
            .then(|| self.recent[(seq % BURSTS_KEPT) as usize])
    }
}

impl Counters {
    pub fn new() -> Self {
        Counters {
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            bursts: Mutex::new(Bursts {
                recent: [Burst::default(); BURSTS_KEPT as usize],
                seq: 0,
                after_read: true,
                first_request: 1,
            }),
            #[cfg(unix)]
            fd: Mutex::new(None),
            rtt_at_close: AtomicU64::new(0f64.to_bits()),
        }
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    fn bursts(&self) -> std::sync::MutexGuard<'_, Bursts> {
        self.bursts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The latest burst.
    pub fn burst(&self) -> Burst {
        let bursts = self.bursts();
        bursts.get(bursts.seq).unwrap_or_default()
    }

    /// HTTP/1.1: the burst of the `exchange`-th request on this connection (0 for the first):
    /// one request head a burst, in order. None when it is no longer remembered.
    pub fn request_burst(&self, exchange: u64) -> Option<Burst> {
        let bursts = self.bursts();
        bursts.get(bursts.first_request + exchange)
    }

    /// The counters (sent, received) where burst `seq` ended: where the next burst began, or
    /// now while it is the last. On HTTP/1.1 the next burst is the next request's head, which
    /// the pool may send before the previous download has taken its last body byte.
    pub fn end_of_burst(&self, seq: u64) -> (u64, u64) {
        let bursts = self.bursts();
        if bursts.seq == seq {
            // Under the lock: no burst can begin between these reads.
            return (self.sent(), self.received());
        }
        let next = bursts
            .get(seq + 1)
            .or_else(|| bursts.get(bursts.seq))
            .unwrap_or_default();
        (next.sent_before, next.received_before)
    }

    /// The handshake is over: the next write starts the first request.
    pub fn start_new_burst(&self) {
        let mut bursts = self.bursts();
        bursts.after_read = true;
        bursts.first_request = bursts.seq + 1;
    }

    fn on_read(&self, bytes: usize) {
        if bytes > 0 {
            self.received.fetch_add(bytes as u64, Ordering::Relaxed);
            self.bursts().after_read = true;
        }
    }

    fn on_write(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let now = Instant::now();
        let mut bursts = self.bursts();
        if bursts.after_read {
            bursts.after_read = false;
            bursts.seq += 1;
            let seq = bursts.seq;
            bursts.recent[(seq % BURSTS_KEPT) as usize] = Burst {
                start: Some(now),
                last_write: None,
                sent_before: self.sent.load(Ordering::Relaxed),
                received_before: self.received.load(Ordering::Relaxed),
                seq,
            };
        }
        let seq = bursts.seq;
        bursts.recent[(seq % BURSTS_KEPT) as usize].last_write = Some(now);
        self.sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts bytes as if they crossed the socket, for tests of what reads the counters.
    #[cfg(test)]
    pub(crate) fn cross(&self, sent: usize, received: usize) {
        self.on_write(sent);
        self.on_read(received);
    }

    #[cfg(unix)]
    fn attach_fd(&self, fd: std::os::fd::RawFd) {
        *self.fd.lock().unwrap_or_else(|p| p.into_inner()) = Some(fd);
    }

    #[cfg(unix)]
    fn detach_fd(&self) {
        let last = self.live_rtt_ms();
        self.rtt_at_close
            .store(last.unwrap_or(0.0).to_bits(), Ordering::Relaxed);
        *self.fd.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The kernel's smoothed RTT of the connection in ms: live while the socket is open,
    /// else as sampled when it closed; 0 where TCP_INFO is unavailable.
    pub fn rtt_ms(&self) -> f64 {
        self.live_rtt_ms()
            .unwrap_or_else(|| f64::from_bits(self.rtt_at_close.load(Ordering::Relaxed)))
    }

    /// The fd lock is held across the call, and the stream detaches the fd before closing
    /// it, so a closed (or reused) descriptor is never queried.
    fn live_rtt_ms(&self) -> Option<f64> {
        #[cfg(target_os = "linux")]
        {
            let guard = self.fd.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(fd) = *guard {
                let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
                let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
                // SAFETY: fd is open (see above); info and len describe a valid buffer.
                let rc = unsafe {
                    libc::getsockopt(
                        fd,
                        libc::IPPROTO_TCP,
                        libc::TCP_INFO,
                        (&mut info as *mut libc::tcp_info).cast(),
                        &mut len,
                    )
                };
                if rc == 0 {
                    return Some(info.tcpi_rtt as f64 / 1000.0);
                }
            }
            None
        }
        #[cfg(not(target_os = "linux"))]
        {
            None
        }
    }
}

impl Default for Counters {
    fn default() -> Self {
        Self::new()
    }
}

pub struct Metered {
    inner: tokio::net::TcpStream,
    counters: std::sync::Arc<Counters>,
}

impl Metered {
    pub fn new(inner: tokio::net::TcpStream, counters: std::sync::Arc<Counters>) -> Self {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            counters.attach_fd(inner.as_raw_fd());
        }
        Metered { inner, counters }
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        // Runs before the TcpStream field is dropped (and its fd closed).
        #[cfg(unix)]
        self.counters.detach_fd();
    }
}

impl AsyncRead for Metered {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            self.counters.on_read(buf.filled().len() - before);
        }
        result
    }
}

impl AsyncWrite for Metered {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            self.counters.on_write(n);
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = result {
            self.counters.on_write(n);
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exchange_finds_its_own_request_burst_after_the_next_request_went_out() {
        let counters = Counters::new();
        counters.cross(300, 900); // the TLS handshake
        counters.start_new_burst();
        counters.cross(400, 1_500); // request 1 and its response
        counters.on_write(410); // request 2 went out before exchange 1 looked
        let first = counters
            .request_burst(0)
            .expect("request 1's burst is remembered");
        assert_eq!((first.sent_before, first.received_before), (300, 900));
        assert_eq!(counters.end_of_burst(first.seq), (700, 2_400));
        let second = counters.request_burst(1).expect("request 2's burst");
        assert_eq!(second.sent_before, 700);
        assert_eq!(counters.end_of_burst(second.seq), (1_110, 2_400));
    }

    #[test]
    fn a_burst_no_longer_remembered_is_none() {
        let counters = Counters::new();
        counters.start_new_burst();
        for _ in 0..BURSTS_KEPT + 1 {
            counters.cross(10, 10);
        }
        assert!(counters.request_burst(0).is_none());
        assert!(counters.request_burst(BURSTS_KEPT).is_some());
    }
}
