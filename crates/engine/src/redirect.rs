//! Redirect policy: which responses are followed, and whether a hop's target is allowed.

use std::collections::HashSet;

use http::StatusCode;
use url::Url;

use crate::error::{Error, Kind};

/// Only these are followed; every other response (300 and 304 included) is final.
pub fn is_followed(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// What a URL string says about its authority, read the way the WHATWG URL parser reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authority {
    /// The string names no authority (a path, a query, `https:x` against an https page): the
    /// hop keeps the authority of the URL it is resolved against.
    Inherited,
    /// The string names an authority, with the port it spells there, if any.
    Spelled(Option<u16>),
}

fn is_special(scheme: &str) -> bool {
    ["http", "https", "ws", "wss", "ftp"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme))
}

fn is_slash(b: u8) -> bool {
    b == b'/' || b == b'\\'
}

/// The authority of `raw` resolved against a page of scheme `base_scheme` (`None`: `raw`
/// must be absolute). WHATWG parsing drops a default port (`https://a:443/` parses with no
/// port), but the domain rule (SPEC 2) tells them apart, so the port is read from the text:
/// trim C0 controls and spaces, drop tabs and newlines; after a special scheme, an authority
/// follows any run of `/` and `\` unless the scheme is the page's own and fewer than two
/// slashes follow (then the text is a path); without a scheme, two slashes start one. The
/// authority ends at `/ \ ? #`, its host follows the last `@`, and its port the first `:`
/// outside brackets. The same cases run against `spelledPort` in src/domains.ts
/// (`__test__/cases/url-policy.json`).
pub fn authority_in(raw: &str, base_scheme: Option<&str>) -> Authority {
    let text: Vec<u8> = raw
        .trim_matches(|c: char| c <= ' ')
        .bytes()
        .filter(|b| !matches!(b, b'\t' | b'\n' | b'\r'))
        .collect();
    let scheme_end = text.iter().position(|&b| b == b':').filter(|&end| {
        end > 0
            && text[0].is_ascii_alphabetic()
            && text[..end]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
    });
    let rest = match scheme_end {
        Some(end) => {
            let scheme = std::str::from_utf8(&text[..end]).unwrap_or_default();
            let rest = &text[end + 1..];
            let two_slashes = rest.len() >= 2 && is_slash(rest[0]) && is_slash(rest[1]);
            let own_scheme = base_scheme.is_some_and(|base| base.eq_ignore_ascii_case(scheme));
            if !is_special(scheme) {
                if !rest.starts_with(b"//") {
                    return Authority::Inherited;
                }
                &rest[2..]
            } else if own_scheme && !two_slashes {
                return Authority::Inherited;
            } else {
                rest
            }
        }
        None if text.len() >= 2 && is_slash(text[0]) && is_slash(text[1]) => &text[..],
        None => return Authority::Inherited,
    };
    let start = rest
        .iter()
        .position(|&b| !is_slash(b))
        .unwrap_or(rest.len());
    let rest = &rest[start..];
    let end = rest
        .iter()
        .position(|b| b"/\\?#".contains(b))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_port = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let after_host = if host_port.first() == Some(&b'[') {
        match host_port.iter().position(|&b| b == b']') {
            Some(close) => close + 1,
            None => return Authority::Spelled(None),
        }
    } else {
        0
    };
    let port = host_port[after_host..]
        .iter()
        .position(|&b| b == b':')
        .and_then(|colon| {
            let digits = &host_port[after_host + colon + 1..];
            std::str::from_utf8(digits).ok()?.parse().ok()
        });
    Authority::Spelled(port)
}

/// The port an absolute URL string spells in its authority, if any.
pub fn spelled_port(raw: &str) -> Option<u16> {
    match authority_in(raw, None) {
        Authority::Spelled(port) => port,
        Authority::Inherited => None,
    }
}

/// A location in the redirect chain: the parsed URL and the port its text spelled.
#[derive(Clone, Debug)]
pub struct Hop {
    pub url: Url,
    pub spelled_port: Option<u16>,
}

impl Hop {
    pub fn first(raw: &str) -> Result<Hop, Error> {
        let url = Url::parse(raw)
            .map_err(|e| Error::new(Kind::Redirect, format!("invalid URL {raw}: {e}")))?;
        Ok(Hop {
            spelled_port: spelled_port(raw),
            url,
        })
    }

    fn origin_key(&self) -> (String, Option<String>, Option<u16>) {
        (
            self.url.scheme().to_string(),
            self.url.host_str().map(str::to_string),
            self.url.port_or_known_default(),
        )
    }

    pub fn same_origin(&self, other: &Hop) -> bool {
        self.origin_key() == other.origin_key()
    }
}

pub struct Policy<'a> {
    pub allow_http: bool,
    /// `host` or `host:port` entries; `None` admits any host.
    pub allowed_hosts: Option<&'a HashSet<String>>,
}

impl Policy<'_> {
    /// https always; plain http only when allowed.
    pub fn allows_scheme(&self, url: &Url) -> bool {
        match url.scheme() {
            "https" => true,
            "http" => self.allow_http,
            _ => false,
        }
    }

    /// Resolves `location` against the current hop and checks the result.
    pub fn next_hop(&self, current: &Hop, location: &str) -> Result<Hop, Error> {
        let url = current.url.join(location).map_err(|e| {
            Error::new(
                Kind::Redirect,
                format!("invalid Location {location:?}: {e}"),
            )
        })?;
        let scheme_allowed = self.allows_scheme(&url);
        if !scheme_allowed {
            return Err(Error::new(
                Kind::Redirect,
                format!("redirect to a disallowed scheme: {url}"),
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::new(
                Kind::Redirect,
                format!("redirect to a URL with credentials: {url}"),
            ));
        }
        let spelled_in_text = match authority_in(location, Some(current.url.scheme())) {
            Authority::Spelled(port) => port,
            Authority::Inherited => current.spelled_port,
        };
        // A port other than the scheme's default is the port connected to, whatever text it
        // came from (`\\host:99` and `https:host:99` name an authority that the test above
        // does not see). The text only decides whether the default port was spelled out, and
        // never stands for a port the hop does not use.
        let spelled = match url.port() {
            Some(port) => Some(port),
            None => spelled_in_text.filter(|&port| Some(port) == url.port_or_known_default()),
        };
        let hop = Hop {
            url,
            spelled_port: spelled,
        };
        if let Some(allowed) = self.allowed_hosts {
            if !host_allowed(&hop, allowed) {
                return Err(
                    Error::new(Kind::RedirectHost, "redirect to a host not in the list")
                        .with_url(hop.url.to_string()),
                );
            }
        }
        Ok(hop)
    }
}

/// SPEC 10: IP literals and `localhost` never pass a checked list, even when listed; nor does
/// `*.localhost` (RFC 6761 resolves it to loopback), with or without a trailing dot. The url
/// crate has already turned every IPv4 spelling (`0x7f.1`, `2130706433`) into an address.
pub fn is_never_listed(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(domain) => {
            let name = domain
                .strip_suffix('.')
                .unwrap_or(domain)
                .to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        url::Host::Ipv4(_) | url::Host::Ipv6(_) => true,
    }
}

fn host_allowed(hop: &Hop, allowed: &HashSet<String>) -> bool {
    let host = match hop.url.host() {
        Some(host) if !is_never_listed(&host) => host.to_string().to_ascii_lowercase(),
        _ => return false,
    };
    let key = match hop.spelled_port {
        Some(port) => format!("{host}:{port}"),
        None => host,
    };
    allowed.contains(&key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases src/domains.ts runs too, so the two readings of a URL cannot drift apart.
    fn shared_cases() -> serde_json::Value {
        serde_json::from_str(include_str!("../../../__test__/cases/url-policy.json")).unwrap()
    }

    #[test]
    fn the_shared_spelled_port_cases_hold() {
        let cases = shared_cases();
        for case in cases["spelledPorts"].as_array().unwrap() {
            let text = case["text"].as_str().unwrap();
            let base = case["base"].as_str();
            let expected = match &case["authority"] {
                serde_json::Value::String(s) if s == "inherited" => Authority::Inherited,
                port => Authority::Spelled(port.as_u64().map(|p| u16::try_from(p).unwrap())),
            };
            assert_eq!(
                authority_in(text, base),
                expected,
                "{text:?} against {base:?}"
            );
        }
    }

    #[test]
    fn the_shared_never_listed_cases_hold() {
        let cases = shared_cases();
        for case in cases["neverListed"].as_array().unwrap() {
            let host = case["host"].as_str().unwrap();
            let url = Url::parse(&format!("https://{host}/")).unwrap();
            let never = case["neverListed"].as_bool().unwrap();
            assert_eq!(is_never_listed(&url.host().unwrap()), never, "{host}");
            // Listed under the name the url crate gives it, it still passes only when allowed.
            let listed: HashSet<String> = [url.host_str().unwrap().to_string()].into();
            let hop = Hop::first(url.as_str()).unwrap();
            assert_eq!(host_allowed(&hop, &listed), !never, "{host}");
        }
    }

    #[test]
    fn hops_are_checked_against_scheme_and_hosts() {
        let allowed: HashSet<String> = ["a.com".to_string(), "b.com:8443".to_string()].into();
        let policy = Policy {
            allow_http: false,
            allowed_hosts: Some(&allowed),
        };
        let start = Hop::first("https://a.com/start").unwrap();
        assert!(policy.next_hop(&start, "/next").is_ok());
        assert!(policy.next_hop(&start, "https://b.com:8443/x").is_ok());
        assert_eq!(
            policy
                .next_hop(&start, "https://b.com/x")
                .unwrap_err()
                .kind(),
            Kind::RedirectHost
        );
        assert_eq!(
            policy
                .next_hop(&start, "https://a.com:443/x")
                .unwrap_err()
                .kind(),
            Kind::RedirectHost
        );
        assert_eq!(
            policy
                .next_hop(&start, "http://a.com/x")
                .unwrap_err()
                .kind(),
            Kind::Redirect
        );
        assert_eq!(
            policy
                .next_hop(&start, "file:///etc/passwd")
                .unwrap_err()
                .kind(),
            Kind::Redirect
        );
        assert_eq!(
            policy
                .next_hop(&start, "https://127.0.0.1/")
                .unwrap_err()
                .kind(),
            Kind::RedirectHost
        );
        assert_eq!(
            policy
                .next_hop(&start, "https://x:y@a.com/")
                .unwrap_err()
                .kind(),
            Kind::Redirect
        );
        assert_eq!(
            policy.next_hop(&start, "https://[").unwrap_err().kind(),
            Kind::Redirect
        );
    }

    #[test]
    fn a_port_spelled_in_any_form_of_location_is_checked() {
        let allowed: HashSet<String> = ["a.com".to_string(), "b.com:8443".to_string()].into();
        let policy = Policy {
            allow_http: true,
            allowed_hosts: Some(&allowed),
        };
        let from_a = Hop::first("https://a.com/start").unwrap();
        let from_http_a = Hop::first("http://a.com/start").unwrap();
        let from_b = Hop::first("https://b.com:8443/s").unwrap();
        for (current, location) in [
            (&from_a, "\\\\a.com:99/x"),
            (&from_a, "/\\a.com:99/x"),
            (&from_a, "https:\\\\a.com:99"),
            (&from_http_a, "https:a.com:8443"),
            (&from_b, "https:\\\\b.com"),
            (&from_b, "\\\\b.com/x"),
        ] {
            let err = policy.next_hop(current, location).unwrap_err();
            assert_eq!(err.kind(), Kind::RedirectHost, "{location}");
        }
        // A query that holds a URL does not make a relative Location name another authority.
        let hop = policy
            .next_hop(&from_b, "/p?next=https://evil.com:99/")
            .unwrap();
        assert_eq!(hop.spelled_port, Some(8443));
        assert!(policy.next_hop(&from_a, "\\\\a.com/x").is_ok());
    }
}

/// Property tests (proptest): `spelled_port` and `next_hop` never panic on any input; a hop
/// is only ever an http(s) URL without credentials; with a checked host list, the host and
/// the port actually connected to are those of an allowed entry.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    const ALLOWED: [&str; 3] = ["a.test", "b.test:8443", "c.test:443"];

    fn allowed() -> HashSet<String> {
        ALLOWED.iter().map(|s| s.to_string()).collect()
    }

    /// Locations built from the pieces that make URL parsers disagree: backslashes,
    /// scheme-relative and scheme-only forms, credentials, ports spelled oddly, other schemes.
    fn location() -> impl Strategy<Value = String> {
        let prefix = prop::sample::select(vec![
            "",
            "//",
            "\\\\",
            "/\\",
            "\\/",
            "///",
            "https:",
            "http:",
            "https://",
            "HTTPS://",
            "http://",
            "https:\\\\",
            "http:/\\",
            "https:/",
            "http:",
            "hTtP:////",
            " \t\nhttps://",
            "file:",
            "file://",
            "javascript:",
            "data:",
            "ftp://",
            "blob:https://",
            "ttfile://",
            "/",
            "./",
            "../",
            "?",
            "#",
        ]);
        let host = prop::sample::select(vec![
            "a.test",
            "A.TEST",
            "a.test.",
            "b.test",
            "c.test",
            "evil.test",
            "a.test.evil.test",
            "127.0.0.1",
            "[::1]",
            "localhost",
            "u:p@a.test",
            "u@b.test",
            ":@a.test",
            "@a.test",
            "a.test@evil.test",
            "evil.test\\@a.test",
            "a%2Etest",
            "ａ.test",
            "",
        ]);
        let port = prop::sample::select(vec![
            "",
            ":",
            ":80",
            ":443",
            ":0443",
            ":8443",
            ":08443",
            ":99",
            ":0",
            ":65535",
            ":65536",
            ":99999999999",
            ":x",
        ]);
        let tail = prop_oneof![
            prop::sample::select(vec![
                "",
                "/",
                "/x",
                "\\x",
                "?u=http://evil.test:1/",
                "/p?next=https://evil.test:99",
                "#https://evil.test:99",
                "/%2F%2Fevil.test",
            ])
            .prop_map(String::from),
            "\\PC{0,8}",
        ];
        let structured =
            (prefix, host, port, tail).prop_map(|(a, b, c, d)| format!("{a}{b}{c}{d}"));
        prop_oneof![3 => structured, 1 => ".*", 1 => "[/\\\\:@a-z.?#0-9\\[\\]%]{0,24}"]
    }

    fn start() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            Just("https://a.test/start/page?q=1"),
            Just("http://a.test/start"),
            Just("https://b.test:8443/s"),
            Just("https://c.test:443/s"),
            Just("https://c.test:0443/s"),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]

        #[test]
        fn spelled_port_never_panics(raw in ".*") {
            let _ = spelled_port(&raw);
        }

        #[test]
        fn spelled_port_reads_the_port_written(
            scheme in "[a-zA-Z][a-zA-Z0-9+.-]{0,8}",
            userinfo in prop::option::of("[a-z0-9:]{0,8}@"),
            host in "[a-z0-9.-]{1,20}|\\[[0-9a-f:]{2,20}\\]",
            port in any::<u16>(),
            tail in prop::option::of("[/?#\\\\].{0,16}"),
        ) {
            let raw = format!(
                "{scheme}://{}{host}:{port}{}",
                userinfo.unwrap_or_default(),
                tail.unwrap_or_default()
            );
            prop_assert_eq!(spelled_port(&raw), Some(port), "{}", raw);
        }

        #[test]
        fn next_hop_never_panics_and_yields_only_plain_http_urls(
            start in start(),
            location in location(),
            allow_http in any::<bool>(),
            checked in any::<bool>(),
        ) {
            let hosts = allowed();
            let policy = Policy {
                allow_http,
                allowed_hosts: checked.then_some(&hosts),
            };
            let current = Hop::first(start).unwrap();
            if let Ok(hop) = policy.next_hop(&current, &location) {
                let url = &hop.url;
                let scheme_ok = url.scheme() == "https" || (allow_http && url.scheme() == "http");
                prop_assert!(scheme_ok, "{location:?} from {start} -> {url}");
                prop_assert!(url.username().is_empty() && url.password().is_none(), "{location:?} -> {url}");
                prop_assert!(url.host_str().is_some_and(|h| !h.is_empty()), "{location:?} -> {url}");
            }
        }

        /// With a checked list, the host and port a hop connects to are those an allowed
        /// entry names: `a.test` only on the default port, `b.test` only on 8443, `c.test`
        /// only on 443. No spelling of the Location slips another port or host through.
        #[test]
        fn a_checked_hop_connects_only_where_an_entry_allows(
            start in start(),
            location in location(),
            allow_http in any::<bool>(),
        ) {
            let hosts = allowed();
            let policy = Policy {
                allow_http,
                allowed_hosts: Some(&hosts),
            };
            let current = Hop::first(start).unwrap();
            if let Ok(hop) = policy.next_hop(&current, &location) {
                let url = &hop.url;
                let host = url.host_str().unwrap_or_default();
                let port = url.port_or_known_default();
                let default = match url.scheme() { "https" => Some(443), _ => Some(80) };
                let ok = match host {
                    "a.test" => port == default,
                    "b.test" => port == Some(8443),
                    "c.test" => port == Some(443),
                    _ => false,
                };
                prop_assert!(ok, "{location:?} from {start} -> {url} (spelled {:?})", hop.spelled_port);
            }
        }

        /// The other way round: a relative Location (any path, a query that holds a URL)
        /// stays on an allowed origin and always passes the check.
        #[test]
        fn a_relative_hop_on_an_allowed_origin_passes(
            start in start(),
            path in "(/|\\.\\./|\\./|)([a-zA-Z0-9._-][a-zA-Z0-9/._-]{0,20})?",
            query in prop::option::of("\\?[a-z]=(https?://[a-z.]{1,10}(:[0-9]{1,5})?/?)?"),
        ) {
            let hosts = allowed();
            let policy = Policy {
                allow_http: true,
                allowed_hosts: Some(&hosts),
            };
            let current = Hop::first(start).unwrap();
            let location = format!("{path}{}", query.unwrap_or_default());
            let hop = policy.next_hop(&current, &location);
            prop_assert!(hop.is_ok(), "{location:?} from {start}: {:?}", hop.err());
        }
    }
}
