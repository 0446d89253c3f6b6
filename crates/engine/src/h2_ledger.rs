//! How an HTTP/2 connection's socket bytes are shared among its streams (SPEC 5).
//!
//! The socket's counters are cut into stretches at every event that changes the set of open
//! streams (a stream opens, a stream closes). Each stretch is settled once: among the streams
//! open in it, in proportion to the DATA bytes delivered to each in it (equally when none got
//! DATA, e.g. a stretch of request heads), or dropped when no stream was open (a PING, a
//! GOAWAY between bursts). Shares of one stretch always add up to the stretch, so the shares
//! of all streams never exceed the socket's bytes, and a stream that ran alone gets every
//! byte of its time.

use std::sync::{Arc, Mutex};

use crate::meter::Counters;

/// Socket counter values (sent, received) at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct CounterMark {
    pub sent: u64,
    pub received: u64,
}

impl CounterMark {
    pub fn of(counters: &Counters) -> Self {
        CounterMark {
            sent: counters.sent(),
            received: counters.received(),
        }
    }
}

/// One stream's entry in its connection's ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamId(u64);

pub struct H2Ledger {
    counters: Arc<Counters>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Where the unsettled stretch begins.
    cursor: CounterMark,
    open: Vec<Share>,
    next_id: u64,
    /// Requests handed over while the connection was live whose heads have not arrived: they
    /// may be streams of this connection whose bytes already cross, so meanwhile no stretch is
    /// dropped as idle (it goes to the streams open at the next settlement).
    pending: usize,
}

struct Share {
    id: u64,
    /// DATA bytes delivered in the unsettled stretch: this stream's weight in it.
    weight: u64,
    sent: u64,
    received: u64,
}

impl H2Ledger {
    pub fn new(counters: Arc<Counters>) -> Self {
        H2Ledger {
            counters,
            state: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens the stream of the request that opened the connection: open from its first byte,
    /// so the handshake (TCP, TLS, preface, SETTINGS) is counted once, on it.
    pub fn open_at_start(&self) -> StreamId {
        let mut state = self.state();
        state.add()
    }

    /// A request was handed over while this connection was live (see `State::pending`).
    pub fn hand_over(&self) {
        self.state().pending += 1;
    }

    /// A request counted by `hand_over` got its head (here or elsewhere) or ended.
    pub fn handed_over_done(&self) {
        let mut state = self.state();
        state.pending = state.pending.saturating_sub(1);
    }

    /// Opens a stream whose request was handed over when the counters stood at `handed`
    /// (`None`: before this connection existed). The head arrives later than the hand-over,
    /// so the stream joins from `handed` if nothing was settled since; a stretch settled in
    /// between already went to the streams open then.
    pub fn open(&self, handed: Option<CounterMark>) -> StreamId {
        let now = CounterMark::of(&self.counters);
        let mut state = self.state();
        // Only the stretch before the hand-over, and only while no other request might be
        // a stream here already (this one's own hand-over is still counted as pending).
        let others_pending = state.pending > usize::from(handed.is_some());
        if let (Some(handed), false) = (handed, others_pending && state.open.is_empty()) {
            let handed = CounterMark {
                sent: handed.sent.min(now.sent),
                received: handed.received.min(now.received),
            };
            if handed.sent >= state.cursor.sent && handed.received >= state.cursor.received {
                state.settle(handed);
            }
        }
        state.add()
    }

    /// Counts DATA bytes delivered to `id`: its weight in the current stretch.
    pub fn delivered(&self, id: StreamId, bytes: u64) {
        let mut state = self.state();
        if let Some(share) = state.open.iter_mut().find(|s| s.id == id.0) {
            share.weight += bytes;
        }
    }

    /// Closes `id` (its last byte arrived, or it was given up) and returns its bytes
    /// (sent, received).
    pub fn close(&self, id: StreamId) -> CounterMark {
        let now = CounterMark::of(&self.counters);
        let mut state = self.state();
        state.settle(now);
        match state.open.iter().position(|s| s.id == id.0) {
            Some(at) => {
                let share = state.open.swap_remove(at);
                CounterMark {
                    sent: share.sent,
                    received: share.received,
                }
            }
            None => CounterMark::default(),
        }
    }
}

impl State {
    fn add(&mut self) -> StreamId {
        let id = self.next_id;
        self.next_id += 1;
        self.open.push(Share {
            id,
            weight: 0,
            sent: 0,
            received: 0,
        });
        StreamId(id)
    }

    /// Settles the stretch from the cursor to `to` among the open streams.
    fn settle(&mut self, to: CounterMark) {
        let to = CounterMark {
            sent: to.sent.max(self.cursor.sent),
            received: to.received.max(self.cursor.received),
        };
        let sent = to.sent - self.cursor.sent;
        let received = to.received - self.cursor.received;
        self.cursor = to;
        if self.open.is_empty() {
            return;
        }
        let weights: Vec<u64> = if self.open.iter().all(|s| s.weight == 0) {
            vec![1; self.open.len()]
        } else {
            self.open.iter().map(|s| s.weight).collect()
        };
        let sent_parts = split(sent, &weights);
        let received_parts = split(received, &weights);
        for ((share, sent), received) in self.open.iter_mut().zip(sent_parts).zip(received_parts) {
            share.sent += sent;
            share.received += received;
            share.weight = 0;
        }
    }
}

/// Splits `total` in proportion to `weights` (not all zero) so the parts add up to `total`
/// exactly: each part rounded down, the bytes left over going to the largest remainders.
fn split(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    let mut parts: Vec<u64> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(weights.len());
    for (at, &weight) in weights.iter().enumerate() {
        let exact = u128::from(total) * u128::from(weight);
        parts.push((exact / sum) as u64);
        remainders.push((exact % sum, at));
    }
    let left = total - parts.iter().sum::<u64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, at) in remainders.iter().take(left as usize) {
        parts[at] += 1;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_parts_add_up_to_the_total() {
        for (total, weights) in [
            (10u64, vec![1u64, 1, 1]),
            (1, vec![5, 5]),
            (u64::MAX / 3, vec![u64::MAX / 7, 1, 3]),
            (0, vec![2, 9]),
            (17, vec![0, 4]),
        ] {
            let parts = split(total, &weights);
            assert_eq!(parts.iter().sum::<u64>(), total, "{total} over {weights:?}");
            for (part, weight) in parts.iter().zip(&weights) {
                if *weight == 0 {
                    assert_eq!(*part, 0);
                }
            }
        }
    }

    #[test]
    fn split_follows_the_weights() {
        assert_eq!(split(300, &[1, 2]), vec![100, 200]);
    }

    fn ledger() -> (Arc<Counters>, H2Ledger) {
        let counters = Arc::new(Counters::new());
        (counters.clone(), H2Ledger::new(counters))
    }

    #[test]
    fn a_stream_alone_gets_every_byte_of_its_time_handshake_included() {
        let (counters, ledger) = ledger();
        let opener = ledger.open_at_start();
        counters.cross(500, 3000);
        ledger.delivered(opener, 1000);
        counters.cross(40, 2000);
        assert_eq!(
            ledger.close(opener),
            CounterMark {
                sent: 540,
                received: 5000
            }
        );
    }

    #[test]
    fn bytes_while_no_stream_is_open_go_to_nobody() {
        let (counters, ledger) = ledger();
        let first = ledger.open_at_start();
        counters.cross(100, 100);
        assert_eq!(
            ledger.close(first),
            CounterMark {
                sent: 100,
                received: 100
            }
        );
        counters.cross(17, 17); // a PING and its answer
        let handed = CounterMark::of(&counters);
        counters.cross(30, 300);
        let second = ledger.open(Some(handed));
        counters.cross(0, 200);
        assert_eq!(
            ledger.close(second),
            CounterMark {
                sent: 30,
                received: 500
            }
        );
    }

    #[test]
    fn shared_stretches_are_split_by_data_and_add_up() {
        let (counters, ledger) = ledger();
        let opener = ledger.open_at_start();
        counters.cross(300, 2000);
        let waiter = ledger.open(Some(CounterMark::of(&counters)));
        counters.cross(61, 3001);
        ledger.delivered(opener, 1000);
        ledger.delivered(waiter, 2000);
        let a = ledger.close(opener);
        counters.cross(5, 999);
        ledger.delivered(waiter, 900);
        let b = ledger.close(waiter);
        assert_eq!(a.sent + b.sent, 366);
        assert_eq!(a.received + b.received, 6000);
        // The opener had the connection alone first, then a third of the shared stretch.
        assert_eq!(a.received, 2000 + 1000);
        assert_eq!(b.received, 2001 + 999);
    }

    #[test]
    fn a_late_head_joins_from_its_hand_over_when_nothing_was_settled_since() {
        let (counters, ledger) = ledger();
        let opener = ledger.open_at_start();
        counters.cross(100, 1000);
        let handed = CounterMark::of(&counters);
        counters.cross(50, 0); // the second request's HEADERS
        let second = ledger.open(Some(handed));
        let first = ledger.close(opener);
        let late = ledger.close(second);
        assert_eq!(first.sent + late.sent, 150);
        assert_eq!(first.received, 1000);
    }

    #[test]
    fn request_heads_sent_while_no_stream_was_open_yet_are_not_dropped() {
        let (counters, ledger) = ledger();
        let opener = ledger.open_at_start();
        counters.cross(100, 1000);
        assert_eq!(ledger.close(opener).sent, 100);
        ledger.hand_over();
        ledger.hand_over();
        let early = CounterMark::of(&counters);
        counters.cross(40, 0); // both requests' HEADERS
        let late = CounterMark::of(&counters);
        let second = ledger.open(Some(late));
        ledger.handed_over_done();
        let first = ledger.open(Some(early));
        ledger.handed_over_done();
        counters.cross(0, 500);
        let total = ledger.close(second).sent + ledger.close(first).sent;
        assert_eq!(total, 40);
    }
}
