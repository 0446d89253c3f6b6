//! Idle HTTP/1.1 connections of one pool (one set of `tls`, `resolve`, `egress` and `proxy`
//! settings, SPEC 8), by origin. A connection is here only between exchanges: the exchange
//! that holds it owns it alone, and one that saw an error or a cancel is dropped, never parked.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::h1::H1Conn;

/// As hyper-util's pool: a connection idle this long is closed rather than reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

pub struct Parked {
    conn: H1Conn,
    since: Instant,
}

impl Parked {
    pub fn new(conn: H1Conn) -> Self {
        Parked {
            conn,
            since: Instant::now(),
        }
    }

    fn expired(&self, now: Instant) -> bool {
        now.duration_since(self.since) >= IDLE_TIMEOUT
    }
}

#[derive(Default)]
pub struct IdleConns {
    by_origin: Mutex<HashMap<String, Vec<Parked>>>,
}

impl IdleConns {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Parked>>> {
        self.by_origin.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The most recently parked connection to `origin` that is still open: the warmest one,
    /// and the others age out. Closed or expired ones met on the way are dropped.
    pub fn checkout(&self, origin: &str) -> Option<H1Conn> {
        let now = Instant::now();
        let mut dropped = Vec::new();
        let found = {
            let mut by_origin = self.lock();
            let list = by_origin.get_mut(origin)?;
            let mut found = None;
            while let Some(mut parked) = list.pop() {
                if !parked.expired(now) && parked.conn.looks_alive() {
                    found = Some(parked.conn);
                    break;
                }
                dropped.push(parked);
            }
            if list.is_empty() {
                by_origin.remove(origin);
            }
            found
        };
        // Closing sockets outside the lock.
        drop(dropped);
        found
    }

    pub fn park(&self, origin: &str, parked: Parked) {
        let now = Instant::now();
        let expired = {
            let mut by_origin = self.lock();
            let list = by_origin.entry(origin.to_string()).or_default();
            // The oldest are at the front: expired ones are a prefix.
            let stale = list.iter().take_while(|p| p.expired(now)).count();
            let expired: Vec<Parked> = list.drain(..stale).collect();
            list.push(parked);
            expired
        };
        drop(expired);
    }
}
