//! The timing and counters of one download, measured on the connections that carried it.

use std::sync::{Arc, Weak};
use std::time::Instant;

use crate::clock::epoch_ms;
use crate::connect::ConnMeta;
use crate::h2_registry::CounterMark;
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
    /// Counter values when this exchange's share of the connection began.
    sent_base: u64,
    received_base: u64,
    data_base: u64,
    burst: Burst,
}

impl Drop for Exchange {
    fn drop(&mut self) {
        self.conn
            .busy
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Exchange {
    /// Called when the response head arrives. HTTP/1.1 holds the connection exclusively,
    /// so this exchange began with the write burst that carried its request head (or with
    /// the connection itself, handshake included, when this request opened it). HTTP/2
    /// shares the connection: the share starts at `h2_marks`, the counters noted when the
    /// request was handed over (or at the connection start when this request opened it),
    /// and is split by DATA bytes at the end.
    pub fn begin(
        conn: Arc<ConnMeta>,
        requested_at: Instant,
        head_at: Instant,
        h2_marks: &[(Weak<ConnMeta>, CounterMark)],
    ) -> Exchange {
        let first_use = conn.claim_use() == 0;
        conn.busy.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // The pool races a checkout against a new connect: a connection this request did not
        // wait for (opened before the request) came from the pool even on its first use.
        let reused = !first_use || conn.opened_at() < requested_at;
        let counters = &conn.counters;
        let burst = counters.burst();
        let (sent_base, received_base, data_base) = if !reused {
            (0, 0, 0)
        } else if conn.h2 {
            let mark = h2_marks
                .iter()
                .find(|(weak, _)| std::ptr::eq(weak.as_ptr(), Arc::as_ptr(&conn)))
                .map(|(_, mark)| *mark)
                .unwrap_or_default();
            (mark.sent, mark.received, mark.data)
        } else {
            (burst.sent_before, burst.received_before, 0)
        };
        Exchange {
            conn,
            requested_at,
            head_at,
            reused,
            sent_base,
            received_base,
            data_base,
            burst,
        }
    }

    /// This exchange's socket bytes (sent, received), given the body bytes it received.
    pub fn bytes(&self, body_bytes: u64) -> (u64, u64) {
        let counters = &self.conn.counters;
        let sent = counters.sent().saturating_sub(self.sent_base);
        let received = counters.received().saturating_sub(self.received_base);
        if !self.conn.h2 {
            return (sent, received);
        }
        let data_all = counters.data_delivered().saturating_sub(self.data_base);
        if data_all == 0 || data_all <= body_bytes {
            return (sent, received);
        }
        let share = body_bytes as f64 / data_all as f64;
        (
            (sent as f64 * share).round() as u64,
            (received as f64 * share).round() as u64,
        )
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
