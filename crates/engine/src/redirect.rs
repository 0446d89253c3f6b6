//! Redirect policy: which responses are followed, and whether a hop's target is allowed.

use std::collections::HashSet;

use http::StatusCode;
use url::Url;

use crate::error::{Error, Kind};

/// Only these are followed; every other response (300 and 304 included) is final.
pub fn is_followed(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// The text after `scheme://` or a leading `//`: where a URL string spells its authority in
/// the usual form. `None` for other text (a path, `?q=http://x` in a query...).
fn after_scheme(raw: &str) -> Option<&str> {
    match raw.find("://") {
        Some(i)
            if raw[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            Some(&raw[i + 3..])
        }
        _ => raw.strip_prefix("//"),
    }
}

/// The port a URL string spells in its authority, if any. WHATWG parsing drops a default
/// port (`https://a:443/` parses with no port), but the domain rule distinguishes them.
pub fn spelled_port(raw: &str) -> Option<u16> {
    let after_scheme = after_scheme(raw)?;
    let authority = after_scheme
        .split(['/', '?', '#', '\\'])
        .next()
        .unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let port_text = if let Some(rest) = host_port.strip_prefix('[') {
        rest.split_once(']')?.1.strip_prefix(':')?
    } else {
        host_port.rsplit_once(':')?.1
    };
    if port_text.is_empty() {
        return None;
    }
    port_text.parse().ok()
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
        let spelled_in_text = if after_scheme(location).is_some() {
            spelled_port(location)
        } else {
            current.spelled_port
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

fn host_allowed(hop: &Hop, allowed: &HashSet<String>) -> bool {
    let host = match hop.url.host() {
        // IP literals never pass a checked list.
        Some(url::Host::Domain(domain)) => domain.to_ascii_lowercase(),
        _ => return false,
    };
    if host == "localhost" {
        return false;
    }
    let key = match hop.spelled_port {
        Some(port) => format!("{host}:{port}"),
        None => host,
    };
    allowed.contains(&key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelled_ports_are_read_from_the_raw_text() {
        assert_eq!(spelled_port("https://a.com:443/x"), Some(443));
        assert_eq!(spelled_port("https://a.com/x:80"), None);
        assert_eq!(spelled_port("https://u:p@a.com:8443"), Some(8443));
        assert_eq!(spelled_port("https://[::1]:9/"), Some(9));
        assert_eq!(spelled_port("https://[::1]/"), None);
        assert_eq!(spelled_port("//a.com:81/p"), Some(81));
        assert_eq!(spelled_port("/relative:9"), None);
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
