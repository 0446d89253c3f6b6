//! Redirect policy: which responses are followed, and whether a hop's target is allowed.

use std::collections::HashSet;

use http::StatusCode;
use url::Url;

use crate::error::{Error, Kind};

/// Only these are followed; every other response (300 and 304 included) is final.
pub fn is_followed(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// The port a URL string spells in its authority, if any. WHATWG parsing drops a default
/// port (`https://a:443/` parses with no port), but the domain rule distinguishes them.
pub fn spelled_port(raw: &str) -> Option<u16> {
    let after_scheme = match raw.find("://") {
        Some(i)
            if raw[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            &raw[i + 3..]
        }
        _ => raw.strip_prefix("//")?,
    };
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
    /// Resolves `location` against the current hop and checks the result.
    pub fn next_hop(&self, current: &Hop, location: &str) -> Result<Hop, Error> {
        let url = current.url.join(location).map_err(|e| {
            Error::new(
                Kind::Redirect,
                format!("invalid Location {location:?}: {e}"),
            )
        })?;
        let scheme_allowed = match url.scheme() {
            "https" => true,
            "http" => self.allow_http,
            _ => false,
        };
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
        let has_authority = location.contains("://") || location.starts_with("//");
        let spelled = if has_authority {
            spelled_port(location)
        } else {
            current.spelled_port
        };
        let hop = Hop {
            url,
            spelled_port: spelled,
        };
        if let Some(allowed) = self.allowed_hosts {
            if !host_allowed(&hop, allowed) {
                return Err(Error::new(Kind::RedirectHost, hop.url.to_string()));
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
}
