//! A byte budget shared by concurrent downloads (the mini-program's user directory quota).
//! Downloads reserve bytes as they arrive, so two that each fit alone but not together
//! cannot both succeed, and a download stops the moment it would pass the limit.

use std::sync::{Arc, Mutex};

use crate::error::{Error, Kind};

#[derive(Debug)]
struct State {
    limit: u64,
    /// Bytes of the stored files.
    used: u64,
    /// Bytes held by downloads in flight.
    reserved: u64,
}

#[derive(Debug, Clone)]
pub struct Quota {
    state: Arc<Mutex<State>>,
}

impl Quota {
    pub fn new(limit: u64, used: u64) -> Self {
        Quota {
            state: Arc::new(Mutex::new(State {
                limit,
                used,
                reserved: 0,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn used(&self) -> u64 {
        self.lock().used
    }

    pub fn reserved(&self) -> u64 {
        self.lock().reserved
    }

    /// Measures the stored total with `measure`, holding the budget meanwhile: a download
    /// committing during the measurement waits, so its file is counted exactly once.
    pub fn remeasure<E>(&self, measure: impl FnOnce() -> Result<u64, E>) -> Result<u64, E> {
        let mut state = self.lock();
        state.used = measure()?;
        Ok(state.used)
    }

    /// Opens a reservation for one download that will replace a file of `replaced` bytes
    /// (0 when none): that file's bytes count as free for it.
    pub fn reservation(&self, replaced: u64) -> Reservation {
        Reservation {
            quota: self.clone(),
            held: 0,
            replaced,
        }
    }
}

/// The bytes one download holds. Dropped uncommitted, it gives them back.
#[derive(Debug)]
pub struct Reservation {
    quota: Quota,
    held: u64,
    replaced: u64,
}

fn exceeded(total: u64, limit: u64) -> Error {
    Error::new(
        Kind::Quota,
        format!("{total} bytes would exceed the quota of {limit}"),
    )
}

impl Reservation {
    /// Makes sure this download holds at least `total` bytes, or fails and gives back all it
    /// held, in the same step: a download that fails must not make another fail after it
    /// (two that each fit alone end with exactly one stored, whatever their timing).
    pub fn grow_to(&mut self, total: u64) -> Result<(), Error> {
        if total <= self.held {
            return Ok(());
        }
        let mut state = self.quota.lock();
        let extra = total - self.held;
        let others = state.used.saturating_sub(self.replaced) + state.reserved;
        if others.saturating_add(extra) > state.limit {
            state.reserved -= self.held;
            self.held = 0;
            return Err(exceeded(others.saturating_add(extra), state.limit));
        }
        state.reserved += extra;
        self.held = total;
        Ok(())
    }

    /// The file of `stored` bytes replaced `replaced_now` bytes (measured at the rename):
    /// the reservation becomes usage.
    pub fn commit(mut self, stored: u64, replaced_now: u64) {
        let mut state = self.quota.lock();
        state.reserved -= self.held;
        state.used = state.used.saturating_sub(replaced_now) + stored;
        self.held = 0;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.held > 0 {
            let mut state = self.quota.lock();
            state.reserved -= self.held;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_reservations_share_the_limit() {
        let quota = Quota::new(100, 20);
        let mut a = quota.reservation(0);
        let mut b = quota.reservation(0);
        a.grow_to(50).unwrap();
        assert_eq!(b.grow_to(40).unwrap_err().kind(), Kind::Quota);
        b.grow_to(30).unwrap();
        drop(b);
        assert_eq!(quota.reserved(), 50);
        a.commit(50, 0);
        assert_eq!((quota.used(), quota.reserved()), (70, 0));
    }

    #[test]
    fn a_failed_grow_gives_back_what_it_held_at_once() {
        let quota = Quota::new(100, 0);
        let mut a = quota.reservation(0);
        let mut b = quota.reservation(0);
        a.grow_to(50).unwrap();
        b.grow_to(40).unwrap();
        assert_eq!(b.grow_to(60).unwrap_err().kind(), Kind::Quota);
        // b is still alive (its download has not unwound yet), yet a can use the room.
        assert_eq!(quota.reserved(), 50);
        a.grow_to(100).unwrap();
        drop(b);
        assert_eq!(quota.reserved(), 100);
    }

    #[test]
    fn a_replaced_file_counts_as_free() {
        let quota = Quota::new(100, 90);
        let mut replacing = quota.reservation(60);
        replacing.grow_to(70).unwrap();
        replacing.commit(70, 60);
        assert_eq!(quota.used(), 100);
        assert_eq!(
            quota.reservation(0).grow_to(1).unwrap_err().kind(),
            Kind::Quota
        );
    }
}
