//! The live HTTP/2 connections of a pool and the counter marks an HTTP/2 download's share of
//! socket bytes starts from (h2_ledger.rs shares them).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use crate::connect::ConnMeta;
use crate::h2_ledger::CounterMark;

/// The live HTTP/2 connections of a pool, by origin. An HTTP/2 stream shares its connection,
/// so a download notes the counters of the connections it might be multiplexed onto when
/// it hands its request over; its share starts there.
#[derive(Default)]
pub struct H2Registry {
    live: Mutex<HashMap<String, Vec<Weak<ConnMeta>>>>,
}

impl H2Registry {
    pub fn register(&self, origin: String, meta: &Arc<ConnMeta>) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let conns = live.entry(origin).or_default();
        conns.retain(|c| c.strong_count() > 0);
        conns.push(Arc::downgrade(meta));
    }

    /// Whether some HTTP/2 connection to `origin` is still open.
    pub fn has_live(&self, origin: &str) -> bool {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.get(origin)
            .is_some_and(|conns| conns.iter().any(|c| c.strong_count() > 0))
    }

    /// The counters of every live HTTP/2 connection to `origin`, now, each counting this
    /// request as handed over until the marks are dropped.
    pub fn marks(&self, origin: &str) -> Marks {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let marks = live
            .get(origin)
            .map(|conns| {
                conns
                    .iter()
                    .filter_map(|weak| {
                        let meta = weak.upgrade()?;
                        if let Some(ledger) = meta.h2_ledger.as_ref() {
                            ledger.hand_over();
                        }
                        Some((weak.clone(), CounterMark::of(&meta.counters)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Marks(marks)
    }
}

/// Counter marks of the live HTTP/2 connections at a request's hand-over; dropped once its
/// head arrived or it ended.
pub struct Marks(pub Vec<(Weak<ConnMeta>, CounterMark)>);

impl Drop for Marks {
    fn drop(&mut self) {
        for (weak, _) in &self.0 {
            if let Some(ledger) = weak.upgrade().as_ref().and_then(|m| m.h2_ledger.as_ref()) {
                ledger.handed_over_done();
            }
        }
    }
}
