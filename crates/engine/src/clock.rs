//! One clock for every timestamp the engine reports: `Instant` (monotonic, so phases never go
//! backwards) anchored once to wall time, so values read as epoch milliseconds.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

struct Anchor {
    instant: Instant,
    epoch_ms: f64,
}

static ANCHOR: OnceLock<Anchor> = OnceLock::new();

fn anchor() -> &'static Anchor {
    ANCHOR.get_or_init(|| Anchor {
        instant: Instant::now(),
        epoch_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0),
    })
}

/// Epoch milliseconds of an instant on the engine clock.
pub fn epoch_ms(at: Instant) -> f64 {
    let anchor = anchor();
    match at.checked_duration_since(anchor.instant) {
        Some(after) => anchor.epoch_ms + after.as_secs_f64() * 1000.0,
        None => anchor.epoch_ms - anchor.instant.duration_since(at).as_secs_f64() * 1000.0,
    }
}

/// Epoch milliseconds now, on the engine clock.
pub fn now_ms() -> f64 {
    epoch_ms(Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn never_goes_backwards_and_tracks_wall_time() {
        let first = now_ms();
        std::thread::sleep(Duration::from_millis(5));
        let second = now_ms();
        assert!(second > first);
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            * 1000.0;
        assert!((wall - second).abs() < 1000.0, "anchored to wall time");
    }
}
