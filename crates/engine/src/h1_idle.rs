//! Idle HTTP/1.1 connections of one pool (one set of `tls`, `resolve`, `egress` and `proxy`
//! settings, SPEC 8), by origin. A connection is here only between exchanges: the exchange
//! that holds it owns it alone, and one that saw an error or a cancel is dropped, never parked.
//! On a current-thread runtime (the engine's shards, shards.rs) connections are also kept by
//! the thread whose reactor watches them, and only downloads on that thread take them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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

/// How often parked connections are looked at: one the server closed gives its descriptor
/// back within this, not at the next checkout to its origin (which may never come).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct IdleConns {
    state: Mutex<State>,
}

/// Whose reactor watches a connection: the thread of a current-thread runtime, or `None` on a
/// multi-thread one (any worker may poll it alike).
type Home = Option<std::thread::ThreadId>;

fn home() -> Home {
    let current_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread);
    current_thread.then(|| std::thread::current().id())
}

#[derive(Default)]
struct State {
    by_home: HashMap<Home, HashMap<String, Vec<Parked>>>,
    /// A sweeper task runs (while anything is parked).
    sweeping: bool,
    /// The engine closed: nothing is parked any more.
    closed: bool,
}

impl IdleConns {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The most recently parked connection to `origin` that is still open: the warmest one,
    /// and the others age out. Closed or expired ones met on the way are dropped.
    pub fn checkout(&self, origin: &str) -> Option<H1Conn> {
        let now = Instant::now();
        let mut dropped = Vec::new();
        let found = {
            let mut state = self.lock();
            let by_origin = state.by_home.get_mut(&home())?;
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

    pub fn park(self: &Arc<Self>, origin: &str, parked: Parked) {
        let now = Instant::now();
        let (expired, start_sweeper) = {
            let mut state = self.lock();
            if state.closed {
                (vec![parked], false)
            } else {
                let list = state
                    .by_home
                    .entry(home())
                    .or_default()
                    .entry(origin.to_string())
                    .or_default();
                // The oldest are at the front: expired ones are a prefix.
                let stale = list.iter().take_while(|p| p.expired(now)).count();
                let expired: Vec<Parked> = list.drain(..stale).collect();
                list.push(parked);
                (expired, !std::mem::replace(&mut state.sweeping, true))
            }
        };
        drop(expired);
        if start_sweeper {
            self.start_sweeper();
        }
    }

    /// Drops what the servers closed or what idled too long, every `SWEEP_EVERY` while
    /// anything is parked, on the runtime of the download that parked (it ends with it).
    fn start_sweeper(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.lock().sweeping = false;
            return;
        };
        let idle = Arc::downgrade(self);
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(idle) = idle.upgrade() else {
                    return;
                };
                if !idle.sweep() {
                    return;
                }
            }
        });
    }

    /// Returns whether anything is still parked (else the sweeper stops, under the lock, so
    /// the next park starts a new one).
    fn sweep(&self) -> bool {
        let now = Instant::now();
        let mut dropped = Vec::new();
        let remaining = {
            let mut state = self.lock();
            for by_origin in state.by_home.values_mut() {
                for list in by_origin.values_mut() {
                    let mut at = 0;
                    while at < list.len() {
                        let parked = &mut list[at];
                        if !parked.expired(now) && parked.conn.looks_alive() {
                            at += 1;
                        } else {
                            dropped.push(list.remove(at));
                        }
                    }
                }
                by_origin.retain(|_, list| !list.is_empty());
            }
            state.by_home.retain(|_, by_origin| !by_origin.is_empty());
            let remaining = !state.by_home.is_empty();
            state.sweeping = remaining;
            remaining
        };
        drop(dropped);
        remaining
    }

    /// The engine closed: every parked connection is closed now, and none is parked later.
    pub fn close(&self) {
        let parked = {
            let mut state = self.lock();
            state.closed = true;
            std::mem::take(&mut state.by_home)
        };
        drop(parked);
    }
}
