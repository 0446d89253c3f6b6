//! A burst of downloads to an https origin that has no live connection opens one connection
//! first. Whether the origin speaks HTTP/2 is only known once ALPN ran, and until then the
//! pool opens a connection per request; an HTTP/2 connection would have carried the whole
//! burst. So the first download of a burst probes, the others wait until its handshake tells
//! the protocol: on HTTP/2 they share its connection once it is in the pool, on HTTP/1.1
//! (remembered per origin, so later bursts do not wait) or a failed probe they open their own
//! connections as before.
//! A download waits at most once, so a failing origin is never probed one download at a time.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;

use crate::h2_registry::H2Registry;

/// Origins remembered as HTTP/1.1-only; past this many the memory starts over (it only saves
/// one wait per burst).
const HTTP1_ORIGINS_KEPT: usize = 4096;

#[derive(Default)]
pub struct FirstConnect {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Origins being probed, with what releases their waiters.
    probing: HashMap<String, Arc<Notify>>,
    http1: HashSet<String>,
}

/// Held by the download whose request opens the origin's first connection; dropping it
/// releases the waiters: the request is on a connection (an HTTP/2 one is then in the pool
/// for them), or it failed or was cancelled. An HTTP/1.1 handshake releases them earlier.
pub struct Probe<'a> {
    gate: &'a FirstConnect,
    origin: String,
    released: Arc<Notify>,
}

enum Admission<'a> {
    Go,
    Probe(Probe<'a>),
    Wait(OwnedNotified),
}

impl FirstConnect {
    /// Waits, if another download is opening the first connection to `origin` (an
    /// `origin_key` of an https origin), until it knows the protocol. Returns a `Probe` when
    /// this download is the one to open it.
    pub async fn admit(&self, origin: &str, live: &H2Registry) -> Option<Probe<'_>> {
        match self.admission(origin, live) {
            Admission::Go => return None,
            Admission::Probe(probe) => return Some(probe),
            Admission::Wait(released) => released.await,
        }
        None
    }

    fn admission(&self, origin: &str, live: &H2Registry) -> Admission<'_> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        // The probe first: its HTTP/2 connection is live from its handshake on, but only in
        // the pool once the probe's request is on it; a download that went at the sight of
        // it would open a connection of its own (seen under load, with the downloads of one
        // burst reaching the engine over several milliseconds).
        if let Some(probing) = state.probing.get(origin) {
            // Created under the lock, the future sees every later notify_waiters().
            return Admission::Wait(probing.clone().notified_owned());
        }
        if state.http1.contains(origin) || live.has_live(origin) {
            return Admission::Go;
        }
        let released = Arc::new(Notify::new());
        state.probing.insert(origin.to_string(), released.clone());
        Admission::Probe(Probe {
            gate: self,
            origin: origin.to_string(),
            released,
        })
    }

    /// The connector's handshake with `origin` chose `h2` (the waiters go when the probe
    /// is on the connection, which hyper has then pooled: earlier they would miss it and
    /// each open one of their own) or HTTP/1.1 (they can go now).
    pub fn learned(&self, origin: &str, h2: bool) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if h2 {
            state.http1.remove(origin);
            return;
        }
        if state.http1.len() >= HTTP1_ORIGINS_KEPT {
            state.http1.clear();
        }
        state.http1.insert(origin.to_string());
        if let Some(released) = state.probing.remove(origin) {
            released.notify_waiters();
        }
    }
}

impl Drop for Probe<'_> {
    fn drop(&mut self) {
        let mut state = self.gate.state.lock().unwrap_or_else(|p| p.into_inner());
        // Only this probe's own entry: its handshake may have ended it and a new probe begun.
        if state
            .probing
            .get(&self.origin)
            .is_some_and(|released| Arc::ptr_eq(released, &self.released))
        {
            state.probing.remove(&self.origin);
        }
        drop(state);
        self.released.notify_waiters();
    }
}
