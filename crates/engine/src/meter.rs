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
    burst: Mutex<Burst>,
    #[cfg(unix)]
    fd: Mutex<Option<std::os::fd::RawFd>>,
    /// The RTT sampled just before the socket closed (f64 bits): a server may close the
    /// connection right after the last body byte, before the profile is assembled.
    rtt_at_close: AtomicU64,
}

#[derive(Clone, Copy, Debug)]
pub struct Burst {
    /// First write after the last read: on HTTP/1.1, the start of a request head.
    pub start: Option<Instant>,
    pub last_write: Option<Instant>,
    pub sent_before: u64,
    pub received_before: u64,
    /// Counts the bursts, so an exchange can tell whether the next one has begun.
    pub seq: u64,
    after_read: bool,
}

impl Counters {
    pub fn new() -> Self {
        Counters {
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            burst: Mutex::new(Burst {
                start: None,
                last_write: None,
                sent_before: 0,
                received_before: 0,
                seq: 0,
                after_read: true,
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

    pub fn burst(&self) -> Burst {
        *self.burst.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The counters (sent, received) where burst `seq` ended: where the next burst began, or
    /// now while it is the last. On HTTP/1.1 the next burst is the next request's head, which
    /// the pool may send before the previous download has taken its last body byte.
    pub fn end_of_burst(&self, seq: u64) -> (u64, u64) {
        let burst = self.burst.lock().unwrap_or_else(|p| p.into_inner());
        if burst.seq != seq {
            return (burst.sent_before, burst.received_before);
        }
        // Under the lock: no burst can begin between these reads.
        (self.sent(), self.received())
    }

    /// The handshake is over: the next write starts the first request.
    pub fn start_new_burst(&self) {
        self.burst
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .after_read = true;
    }

    fn on_read(&self, bytes: usize) {
        if bytes > 0 {
            self.received.fetch_add(bytes as u64, Ordering::Relaxed);
            let mut burst = self.burst.lock().unwrap_or_else(|p| p.into_inner());
            burst.after_read = true;
        }
    }

    fn on_write(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let now = Instant::now();
        let mut burst = self.burst.lock().unwrap_or_else(|p| p.into_inner());
        if burst.after_read {
            burst.after_read = false;
            burst.start = Some(now);
            burst.seq += 1;
            burst.sent_before = self.sent.load(Ordering::Relaxed);
            burst.received_before = self.received.load(Ordering::Relaxed);
        }
        burst.last_write = Some(now);
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
