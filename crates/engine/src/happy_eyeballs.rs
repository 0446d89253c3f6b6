//! Connection attempts as RFC 8305 (Happy Eyeballs) races them: addresses interleaved by
//! family, IPv6 first; an attempt that has not connected after `ATTEMPT_DELAY` gets the next
//! one started beside it, a failed one starts the next at once, the first to connect wins
//! and the others are dropped (closed). A broken route to one address thus costs 250 ms,
//! not the download's whole timeout.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::net::TcpStream;

/// RFC 8305 recommends 250 ms ("Connection Attempt Delay"); curl uses 200, hyper-util 300.
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// The attempt that won.
pub struct Connected {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    /// When this attempt (not the race) started: the profile's `connectStart`.
    pub started: Instant,
}

/// IPv6 first, then alternating families, keeping the resolver's order within each.
pub fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let (mut v6, mut v4): (Vec<_>, Vec<_>) = addrs.into_iter().partition(SocketAddr::is_ipv6);
    if v6.is_empty() || v4.is_empty() {
        v6.append(&mut v4);
        return v6;
    }
    let mut ordered = Vec::with_capacity(v6.len() + v4.len());
    let (mut v6, mut v4) = (v6.into_iter(), v4.into_iter());
    loop {
        match (v6.next(), v4.next()) {
            (None, None) => return ordered,
            (a, b) => ordered.extend(a.into_iter().chain(b)),
        }
    }
}

async fn attempt(peer: SocketAddr) -> io::Result<Connected> {
    let started = Instant::now();
    let stream = TcpStream::connect(peer).await?;
    Ok(Connected {
        stream,
        peer,
        started,
    })
}

/// Races connects to `addrs` in order; the error is the last attempt's.
pub async fn connect(addrs: &[SocketAddr]) -> io::Result<Connected> {
    // One address needs no race, and no timer.
    if let [only] = addrs {
        return attempt(*only).await;
    }
    let mut next = addrs.iter().copied();
    let mut running = FuturesUnordered::new();
    let mut last_error = None;
    loop {
        if running.is_empty() {
            match next.next() {
                Some(peer) => running.push(attempt(peer)),
                None => {
                    return Err(
                        last_error.unwrap_or_else(|| io::Error::other("no address to connect to"))
                    )
                }
            }
        }
        let more = next.len() > 0;
        tokio::select! {
            Some(result) = running.next() => match result {
                Ok(won) => return Ok(won),
                Err(error) => {
                    last_error = Some(error);
                    if let Some(peer) = next.next() {
                        running.push(attempt(peer));
                    }
                }
            },
            _ = tokio::time::sleep(ATTEMPT_DELAY), if more => {
                if let Some(peer) = next.next() {
                    running.push(attempt(peer));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn families_alternate_ipv6_first_in_resolver_order() {
        let ordered = interleave(vec![
            addr("10.0.0.1:1"),
            addr("10.0.0.2:1"),
            addr("10.0.0.3:1"),
            addr("[2001:db8::1]:1"),
            addr("[2001:db8::2]:1"),
        ]);
        assert_eq!(
            ordered,
            vec![
                addr("[2001:db8::1]:1"),
                addr("10.0.0.1:1"),
                addr("[2001:db8::2]:1"),
                addr("10.0.0.2:1"),
                addr("10.0.0.3:1"),
            ]
        );
    }

    #[test]
    fn one_family_keeps_its_order() {
        let addrs = vec![addr("10.0.0.2:1"), addr("10.0.0.1:1")];
        assert_eq!(interleave(addrs.clone()), addrs);
    }
}
