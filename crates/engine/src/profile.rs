//! The timing and counters of one download, measured on the connections that carried it.

use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use crate::clock::epoch_ms;
use crate::connect::ConnMeta;
use crate::h2_ledger::{CounterMark, StreamId};
use crate::meter::Burst;

/// Every time is epoch milliseconds on the engine clock.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    pub fetch_start: f64,
    pub redirect_start: f64,
    pub redirect_end: f64,
    pub domain_lookup_start: f64,
    pub domain_lookup_end: f64,
    pub connect_start: f64,
    pub connect_end: f64,
    pub ssl_connection_start: f64,
    pub ssl_connection_end: f64,
    pub request_start: f64,
    pub request_end: f64,
    pub response_start: f64,
    pub response_end: f64,
    pub rtt: f64,
    pub throughput_kbps: f64,
    pub port: u16,
    pub peer_ip: String,
    pub protocol: &'static str,
    pub socket_reused: bool,
    pub sent_bytes_count: u64,
    pub received_bytes_count: u64,
    pub redirect_count: u32,
}

/// One request/response exchange on one connection.
pub struct Exchange {
    pub conn: Arc<ConnMeta>,
    /// When the engine handed the request to the pool.
    pub requested_at: Instant,
    pub head_at: Instant,
    pub reused: bool,
    share: Share,
    burst: Burst,
}

/// Where this exchange's socket bytes come from.
enum Share {
    /// HTTP/1.1 holds the connection alone: the counters since `base`.
    Exclusive { base: CounterMark },
    /// HTTP/2: its entry in the connection's ledger, and its bytes once closed.
    Stream {
        id: StreamId,
        closed: Mutex<Option<CounterMark>>,
    },
}

impl Drop for Exchange {
    fn drop(&mut self) {
        self.conn
            .busy
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        // A stream given up early counts for nobody; its stretches stay settled.
        self.close_stream();
    }
}

impl Exchange {
    /// Called when the response head arrives. `opened` tells whether this request's own
    /// connect opened the connection (see opener.rs); that request reports the set-up. HTTP/1.1
    /// holds the connection exclusively, so the exchange began with the write burst that
    /// carried its request head (or with the connection itself, handshake included, when it
    /// reports the set-up). HTTP/2 shares the connection: the stream joins the connection's
    /// ledger from `h2_marks`, the counters noted when the request was handed over (the
    /// opener's entry has counted since the connection's first byte).
    pub fn begin(
        conn: Arc<ConnMeta>,
        requested_at: Instant,
        head_at: Instant,
        h2_marks: &[(Weak<ConnMeta>, CounterMark)],
        opened: Option<Option<StreamId>>,
    ) -> Exchange {
        let earlier_uses = conn.claim_use();
        let first_use = earlier_uses == 0;
        conn.busy.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // HTTP/1.1 carries one exchange at a time, so its first one is the opener's or, when
        // the opener was served by another connection, the first that used it. HTTP/2 carries a
        // burst at once, whose heads arrive in any order: the opener's request is known.
        let reused = if conn.h2 {
            !conn.claim_setup(opened.is_some())
        } else {
            !first_use
        };
        // HTTP/1.1: this exchange's own request burst, not the latest one (which may already
        // be the next request's, see meter.rs).
        let burst = match conn.h2 {
            false => conn.counters.request_burst(earlier_uses),
            true => None,
        }
        .unwrap_or_else(|| conn.counters.burst());
        let share = match conn.h2_ledger.as_ref() {
            Some(ledger) => {
                let id = opened.flatten().unwrap_or_else(|| {
                    ledger.open(
                        h2_marks
                            .iter()
                            .find(|(weak, _)| std::ptr::eq(weak.as_ptr(), Arc::as_ptr(&conn)))
                            .map(|(_, mark)| *mark),
                    )
                });
                Share::Stream {
                    id,
                    closed: Mutex::new(None),
                }
            }
            None if reused => Share::Exclusive {
                base: CounterMark {
                    sent: burst.sent_before,
                    received: burst.received_before,
                },
            },
            None => Share::Exclusive {
                base: CounterMark::default(),
            },
        };
        Exchange {
            conn,
            requested_at,
            head_at,
            reused,
            share,
            burst,
        }
    }

    /// HTTP/2: DATA bytes delivered to this stream, its weight in the ledger.
    pub fn delivered(&self, bytes: u64) {
        if let (Share::Stream { id, .. }, Some(ledger)) = (&self.share, &self.conn.h2_ledger) {
            ledger.delivered(*id, bytes);
        }
    }

    /// HTTP/2: ends the stream's share (once) and returns it.
    fn close_stream(&self) -> Option<CounterMark> {
        let (Share::Stream { id, closed }, Some(ledger)) = (&self.share, &self.conn.h2_ledger)
        else {
            return None;
        };
        let mut closed = closed.lock().unwrap_or_else(|p| p.into_inner());
        Some(*closed.get_or_insert_with(|| ledger.close(*id)))
    }

    /// This exchange's socket bytes (sent, received) up to now; on HTTP/2 this ends the
    /// stream's share, so it is called once its last byte arrived.
    pub fn bytes(&self) -> (u64, u64) {
        match &self.share {
            Share::Exclusive { base } => {
                let (sent, received) = self.conn.counters.end_of_burst(self.burst.seq);
                (
                    sent.saturating_sub(base.sent),
                    received.saturating_sub(base.received),
                )
            }
            Share::Stream { .. } => {
                let share = self.close_stream().unwrap_or_default();
                (share.sent, share.received)
            }
        }
    }

    /// HTTP/1.1: the first and last write of the request head. HTTP/2: the moment the
    /// request was handed to the connection (after the connection was ready).
    pub fn request_window(&self) -> (Instant, Instant) {
        if !self.conn.h2 {
            if let (Some(start), Some(end)) = (self.burst.start, self.burst.last_write) {
                if start >= self.requested_at && end <= self.head_at {
                    return (start, end);
                }
            }
        }
        let handed = if self.reused {
            self.requested_at
        } else {
            self.requested_at.max(self.conn.connect_end)
        };
        (handed, handed)
    }
}

pub struct Assembly<'a> {
    pub fetch_start: Instant,
    pub redirects: Option<(Instant, Instant)>,
    pub redirect_count: u32,
    pub last: &'a Exchange,
    pub response_end: Instant,
    pub body_bytes: u64,
    pub sent_bytes: u64,
    pub received_bytes: u64,
    pub protocol: &'static str,
}

/// Body throughput in kbit/s; the interval counts as at least 1 ms.
pub fn throughput_kbps(body_bytes: u64, head_at: Instant, end: Instant) -> f64 {
    let ms = (end.saturating_duration_since(head_at).as_secs_f64() * 1000.0).max(1.0);
    body_bytes as f64 * 8.0 / ms
}

impl Assembly<'_> {
    pub fn build(self) -> Profile {
        let fetch_start = epoch_ms(self.fetch_start);
        let ex = self.last;
        let conn = &ex.conn;
        let (dns_start, dns_end, connect_start, connect_end, ssl_start, ssl_end) = if ex.reused {
            (fetch_start, fetch_start, fetch_start, fetch_start, 0.0, 0.0)
        } else {
            let (dns_start, dns_end) = conn
                .dns
                .map(|(s, e)| (epoch_ms(s), epoch_ms(e)))
                .unwrap_or((fetch_start, fetch_start));
            let (ssl_start, ssl_end) = conn
                .tls
                .map(|(s, e)| (epoch_ms(s), epoch_ms(e)))
                .unwrap_or((0.0, 0.0));
            (
                dns_start,
                dns_end,
                epoch_ms(conn.connect_start),
                epoch_ms(conn.connect_end),
                ssl_start,
                ssl_end,
            )
        };
        let (request_start, request_end) = ex.request_window();
        let (redirect_start, redirect_end) = self
            .redirects
            .map(|(s, e)| (epoch_ms(s), epoch_ms(e)))
            .unwrap_or((0.0, 0.0));
        Profile {
            fetch_start,
            redirect_start,
            redirect_end,
            domain_lookup_start: dns_start,
            domain_lookup_end: dns_end,
            connect_start,
            connect_end,
            ssl_connection_start: ssl_start,
            ssl_connection_end: ssl_end,
            request_start: epoch_ms(request_start),
            request_end: epoch_ms(request_end),
            response_start: epoch_ms(ex.head_at),
            response_end: epoch_ms(self.response_end),
            rtt: conn.counters.rtt_ms(),
            throughput_kbps: throughput_kbps(self.body_bytes, ex.head_at, self.response_end),
            port: conn.peer.port(),
            peer_ip: conn.peer.ip().to_string(),
            protocol: self.protocol,
            socket_reused: ex.reused,
            sent_bytes_count: self.sent_bytes,
            received_bytes_count: self.received_bytes,
            redirect_count: self.redirect_count,
        }
    }
}
