//! The egress policy (SPEC 11): which IP addresses a download may connect to. Checked by the
//! connector on the address it is about to dial, after resolution and with no second lookup,
//! so neither a name pointing inward nor DNS rebinding leads into the host's own network.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use ipnet::{IpNet, Ipv4Net};

/// Ranges refused unless `allowPrivate` is set (after folding, so IPv4 ranges also cover
/// their mapped, compatible and NAT64 spellings). IPv6 outside `2000::/3` is refused apart.
const DEFAULT_DENIED: &[&str] = &[
    // this host, loopback, unspecified
    "0.0.0.0/8",
    "127.0.0.0/8",
    "::/128",
    "::1/128",
    // private networks, site-local
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
    "fec0::/10",
    // carrier-grade NAT
    "100.64.0.0/10",
    // link-local, cloud metadata
    "169.254.0.0/16",
    "fe80::/10",
    // reserved, documentation, benchmarking, discard
    "192.0.0.0/24",
    "192.0.2.0/24",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "192.88.99.0/24",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "2001:db8::/32",
    "3fff::/20",
    "2001:2::/48",
    "100::/64",
    // multicast
    "224.0.0.0/4",
    "ff00::/8",
    // local NAT64, 6to4, Teredo, SIIT: they embed IPv4 addresses
    "64:ff9b:1::/48",
    "2002::/16",
    "2001::/32",
    "::ffff:0:0:0/96",
];

fn default_denied() -> &'static [IpNet] {
    static NETS: OnceLock<Vec<IpNet>> = OnceLock::new();
    NETS.get_or_init(|| {
        DEFAULT_DENIED
            .iter()
            .map(|text| text.parse().expect("the built-in egress table parses"))
            .collect()
    })
}

/// The well-known NAT64 prefix `64:ff9b::/96` (RFC 6052).
const NAT64_PREFIX: [u16; 6] = [0x64, 0xff9b, 0, 0, 0, 0];

/// The IPv4 address an IPv6 address stands for: mapped (`::ffff:a.b.c.d`), compatible
/// (`::a.b.c.d`, but not `::` or `::1`) or well-known NAT64 (`64:ff9b::a.b.c.d`).
fn embedded_v4(v6: &Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let segments = v6.segments();
    let low = Ipv4Addr::from(u128::from(*v6) as u32);
    if segments[..6] == NAT64_PREFIX {
        return Some(low);
    }
    // `to_ipv4()` would turn `::1` into 0.0.0.1: loopback and unspecified stay IPv6.
    if segments[..6] == [0; 6] && !v6.is_unspecified() && !v6.is_loopback() {
        return Some(low);
    }
    None
}

/// An address as the policy sees it: IPv6 spellings of an IPv4 address become that address.
pub fn fold(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => embedded_v4(&v6).map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A network as the policy sees it: an IPv6 network inside an IPv4-embedding prefix, at
/// least as long as that prefix, becomes the IPv4 network it covers.
fn fold_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match embedded_v4(&v6.network()) {
            Some(v4) => Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(IpNet::V4)
                .unwrap_or(net),
            None => net,
        },
        other => other,
    }
}

/// Why an `allow` or `deny` entry was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError(String);

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EntryError {}

/// Parses one entry: an address or a CIDR, strictly (no zone id, no leading zeros in IPv4
/// octets, no host bits set, a prefix the family allows).
pub fn parse_entry(text: &str) -> Result<IpNet, EntryError> {
    let bad = |why: &str| EntryError(format!("{text:?} {why}"));
    if text.contains('%') {
        return Err(bad("has a zone id"));
    }
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    // Rust's parser already refuses octal-looking octets (`010.0.0.1`).
    let address: IpAddr = address
        .parse()
        .map_err(|_| bad("is not an IPv4 or IPv6 address or CIDR"))?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => digits
            .parse::<u8>()
            .map_err(|_| bad("has a prefix too long"))?,
        Some(_) => return Err(bad("has an invalid prefix")),
    };
    let net = IpNet::new(address, prefix).map_err(|_| bad("has a prefix too long"))?;
    if net.trunc() != net {
        return Err(bad("has host bits set"));
    }
    Ok(fold_net(net))
}

/// The policy of one host. Its `key()` identifies it among the engine's pools.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct EgressPolicy {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
    allow_private: bool,
    /// Bench builds only (feature `bench-switches`): permit without checking, so a benchmark
    /// can price the check against its absence. A production build cannot set it.
    #[cfg(feature = "bench-switches")]
    skip_check: bool,
}

impl EgressPolicy {
    /// `allow` wins over everything; `deny` and (unless `allow_private`) the built-in table
    /// refuse. Entries are kept folded, sorted and deduplicated, so equal policies compare equal.
    pub fn new(allow: &[String], deny: &[String], allow_private: bool) -> Result<Self, EntryError> {
        let parse = |entries: &[String]| -> Result<Vec<IpNet>, EntryError> {
            let mut nets = entries
                .iter()
                .map(|e| parse_entry(e))
                .collect::<Result<Vec<_>, _>>()?;
            nets.sort();
            nets.dedup();
            Ok(nets)
        };
        Ok(EgressPolicy {
            allow: parse(allow)?,
            deny: parse(deny)?,
            allow_private,
            #[cfg(feature = "bench-switches")]
            skip_check: false,
        })
    }

    /// The bench-only twin of this policy that permits everything unchecked.
    #[cfg(feature = "bench-switches")]
    pub fn skipping_check(mut self) -> Self {
        self.skip_check = true;
        self
    }

    /// A policy that refuses nothing (the engine's own tests, embedders that filter elsewhere).
    pub fn allow_all() -> Self {
        EgressPolicy {
            allow: Vec::new(),
            deny: Vec::new(),
            allow_private: true,
            #[cfg(feature = "bench-switches")]
            skip_check: false,
        }
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        #[cfg(feature = "bench-switches")]
        if self.skip_check {
            return true;
        }
        let ip = fold(ip);
        if self.allow.iter().any(|net| net.contains(&ip)) {
            return true;
        }
        if self.deny.iter().any(|net| net.contains(&ip)) {
            return false;
        }
        self.allow_private || !is_special(ip)
    }
}

/// In the built-in table, or IPv6 that is not global unicast.
fn is_special(ip: IpAddr) -> bool {
    if let IpAddr::V6(v6) = ip {
        if v6.segments()[0] & 0xe000 != 0x2000 {
            return true;
        }
    }
    default_denied().iter().any(|net| net.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn default_policy() -> EgressPolicy {
        EgressPolicy::new(&[], &[], false).unwrap()
    }

    #[test]
    fn the_default_refuses_every_listed_range_and_allows_global_addresses() {
        let policy = default_policy();
        for refused in [
            "127.0.0.1",
            "0.0.0.0",
            "10.1.2.3",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "192.0.0.8",
            "192.0.2.1",
            "198.19.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "192.88.99.1",
            "240.0.0.1",
            "255.255.255.255",
            "224.0.0.251",
            "::",
            "::1",
            "fc00::1",
            "fd12::1",
            "fec0::1",
            "fe80::1",
            "2001:db8::1",
            "3fff::1",
            "2001:2::1",
            "100::1",
            "ff02::1",
            "64:ff9b:1::1",
            "2002:c000:0204::1",
            "2001:0:4136:e378::1",
            "::ffff:0:7f00:1",
            // not global unicast
            "4000::1",
            "1::1",
        ] {
            assert!(!policy.permits(ip(refused)), "{refused} must be refused");
        }
        for allowed in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700::1111"] {
            assert!(policy.permits(ip(allowed)), "{allowed} must be allowed");
        }
    }

    #[test]
    fn ipv6_spellings_of_ipv4_addresses_are_folded_first() {
        let policy = default_policy();
        for spelled in [
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "::ffff:10.0.0.1",
        ] {
            assert!(
                !policy.permits(ip(spelled)),
                "{spelled} folds into a refused range"
            );
        }
        assert!(policy.permits(ip("::ffff:8.8.8.8")));
        assert!(policy.permits(ip("64:ff9b::808:808")));
        assert_eq!(fold(ip("::1")), ip("::1"));
        assert_eq!(fold(ip("::")), ip("::"));
        assert_eq!(fold(ip("::2")), ip("0.0.0.2"));
    }

    #[test]
    fn allow_wins_over_deny_and_the_table_and_entries_fold_too() {
        let allow = vec!["::ffff:127.0.0.0/104".to_string()];
        let deny = vec!["127.0.0.0/8".to_string()];
        let policy = EgressPolicy::new(&allow, &deny, false).unwrap();
        assert!(policy.permits(ip("127.0.0.1")));
        assert!(policy.permits(ip("::ffff:127.0.0.1")));
        assert!(!policy.permits(ip("10.0.0.1")));
    }

    #[test]
    fn allow_private_turns_the_table_off_but_deny_still_applies() {
        let policy = EgressPolicy::new(&[], &["169.254.169.254".to_string()], true).unwrap();
        assert!(policy.permits(ip("127.0.0.1")));
        assert!(policy.permits(ip("::1")));
        assert!(!policy.permits(ip("169.254.169.254")));
        assert!(!policy.permits(ip("::ffff:169.254.169.254")));
    }

    #[test]
    fn malformed_entries_are_refused_with_a_reason() {
        for bad in [
            "not-an-ip",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.1/8",
            "fe80::1%eth0",
            "010.0.0.1",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "",
        ] {
            assert!(parse_entry(bad).is_err(), "{bad:?} must be refused");
        }
        assert_eq!(parse_entry("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_entry("::1").unwrap().to_string(), "::1/128");
        assert_eq!(
            parse_entry("::ffff:10.0.0.0/104").unwrap().to_string(),
            "10.0.0.0/8"
        );
    }

    #[test]
    fn equal_policies_compare_equal_whatever_the_spelling_and_order() {
        let a = EgressPolicy::new(
            &["127.0.0.0/8".into(), "::1".into()],
            &["10.0.0.0/8".into()],
            false,
        )
        .unwrap();
        let b = EgressPolicy::new(
            &[
                "::1/128".into(),
                "::ffff:127.0.0.0/104".into(),
                "127.0.0.0/8".into(),
            ],
            &["10.0.0.0/8".into()],
            false,
        )
        .unwrap();
        assert_eq!(a, b);
    }
}
