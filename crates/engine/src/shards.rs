//! The engine's threads: one current-thread tokio runtime per thread ("shard"), each download
//! on the least busy one. A multi-thread runtime wakes a second worker to look for work
//! whenever a woken worker finds some (tokio's searching-worker protocol), so a lone download
//! cost about two extra sleeps and wake-ups; one runtime thread had none of them but left the
//! second core idle under load (benchmark/reports/runtime-threads.txt). Shards keep a serial
//! download on one thread and still spread concurrent ones over every core. A download's
//! connections stay with its shard between exchanges (h1_idle.rs): the shard's reactor
//! watches their sockets, and a download on another shard would be woken through it.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::runtime::Handle;
use tokio::sync::oneshot;

struct Shard {
    handle: Handle,
    /// Downloads on it now.
    load: Arc<AtomicUsize>,
}

pub struct Shards {
    shards: Vec<Shard>,
    /// One per shard; sending (or dropping) stops it: its runtime drops every task.
    stops: Mutex<Vec<oneshot::Sender<()>>>,
}

/// Counts a download against its shard until dropped: the task drops it as soon as its
/// outcome is decided, before the caller hears of it (else a serial caller's next download
/// would see this shard busy and go to another), or with the task when it is dropped.
pub struct Load(Arc<AtomicUsize>);

impl Drop for Load {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Shards {
    /// `count` threads named `name`, each running a current-thread runtime with I/O and timers.
    pub fn start(count: usize, name: &str) -> io::Result<Shards> {
        let mut shards = Vec::with_capacity(count);
        let mut stops = Vec::with_capacity(count);
        for _ in 0..count.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (stop, stopped) = oneshot::channel::<()>();
            shards.push(Shard {
                handle: runtime.handle().clone(),
                load: Arc::default(),
            });
            stops.push(stop);
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(move || {
                    runtime.block_on(async {
                        let _ = stopped.await;
                    });
                    // Dropping the runtime here drops its tasks on its own thread.
                })?;
        }
        Ok(Shards {
            shards,
            stops: Mutex::new(stops),
        })
    }

    /// Runs the task `make` builds on the shard with the fewest downloads (the first of equals,
    /// so a serial caller stays on one thread); the task gets its `Load` to drop when its
    /// outcome is decided. False once the shards are stopped: nothing is built.
    pub fn spawn<M, F>(&self, make: M) -> bool
    where
        M: FnOnce(Load) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        if self
            .stops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
        {
            return false;
        }
        let Some(shard) = self
            .shards
            .iter()
            .min_by_key(|s| s.load.load(Ordering::Relaxed))
        else {
            return false;
        };
        shard.load.fetch_add(1, Ordering::Relaxed);
        shard.handle.spawn(make(Load(shard.load.clone())));
        true
    }

    /// Stops every shard without waiting: running downloads are dropped on their threads.
    pub fn stop(&self) {
        let stops = std::mem::take(&mut *self.stops.lock().unwrap_or_else(|p| p.into_inner()));
        for stop in stops {
            let _ = stop.send(());
        }
    }
}

impl Drop for Shards {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn serial_tasks_stay_on_one_shard_and_concurrent_ones_spread() {
        let shards = Shards::start(2, "tt-test").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Serial: each runs alone, so each goes to the first shard.
        let mut serial = Vec::new();
        for _ in 0..3 {
            let tx = tx.clone();
            shards.spawn(|load| async move {
                drop(load);
                tx.send(std::thread::current().id()).unwrap();
            });
            serial.push(rx.recv_timeout(Duration::from_secs(5)).unwrap());
        }
        assert!(serial.windows(2).all(|w| w[0] == w[1]), "{serial:?}");

        // Two held at once: on two threads.
        let (release, held) = tokio::sync::watch::channel(false);
        let mut threads = Vec::new();
        for _ in 0..2 {
            let tx = tx.clone();
            let mut held = held.clone();
            shards.spawn(|load| async move {
                tx.send(std::thread::current().id()).unwrap();
                let _ = held.wait_for(|go| *go).await;
                drop(load);
            });
            threads.push(rx.recv_timeout(Duration::from_secs(5)).unwrap());
        }
        assert_ne!(threads[0], threads[1]);
        release.send(true).unwrap();
    }

    #[test]
    fn stopped_shards_refuse_tasks_and_drop_running_ones() {
        let shards = Shards::start(1, "tt-test").unwrap();
        let (dropped_tx, dropped_rx) = std::sync::mpsc::channel::<()>();
        struct OnDrop(std::sync::mpsc::Sender<()>);
        impl Drop for OnDrop {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        let guard = OnDrop(dropped_tx);
        assert!(shards.spawn(|load| async move {
            let _guard = guard;
            let _load = load;
            std::future::pending::<()>().await;
        }));
        shards.stop();
        dropped_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the running task is dropped");
        assert!(!shards.spawn(|_| async {}));
    }
}
