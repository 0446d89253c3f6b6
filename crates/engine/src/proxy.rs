//! HTTP proxies (SPEC 11): which hops go through one, and the `CONNECT` tunnel for https.
//! Plain http goes to the proxy in absolute form (hyper does that for a connection marked
//! proxied); the caller adds `Proxy-Authorization` to those requests itself.

use std::net::IpAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{ConnectError, Kind};
use crate::meter::Metered;

/// One proxy: where it listens and what to authenticate with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyEndpoint {
    /// A name or an IP literal (no brackets).
    pub host: String,
    pub port: u16,
    /// The whole `Proxy-Authorization` value (`Basic ...`), when the URL had credentials.
    pub authorization: Option<String>,
}

/// The proxies of one host, per scheme, and the names that bypass them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ProxySettings {
    pub http: Option<ProxyEndpoint>,
    pub https: Option<ProxyEndpoint>,
    pub no_proxy: NoProxy,
}

impl ProxySettings {
    /// The proxy a request to `scheme://host` goes through, if any.
    pub fn for_target(&self, scheme: &str, host: &str) -> Option<&ProxyEndpoint> {
        let endpoint = match scheme {
            "https" => self.https.as_ref(),
            "http" => self.http.as_ref(),
            _ => None,
        }?;
        (!self.no_proxy.matches(host)).then_some(endpoint)
    }
}

/// `NO_PROXY` as curl and most tools read it: comma-separated, spaces ignored, `*` alone
/// means every host, `example.com` matches it and its subdomains, `.example.com` only its
/// subdomains, an IP entry that literal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct NoProxy {
    all: bool,
    entries: Vec<String>,
}

impl NoProxy {
    pub fn parse(text: &str) -> Self {
        let entries: Vec<String> = text
            .split(',')
            .map(|entry| {
                let entry: String = entry.chars().filter(|c| !c.is_whitespace()).collect();
                let entry = entry.to_ascii_lowercase();
                // `[::1]` and `::1` name the same literal.
                entry
                    .strip_prefix('[')
                    .and_then(|e| e.strip_suffix(']'))
                    .map(str::to_string)
                    .unwrap_or(entry)
            })
            .filter(|entry| !entry.is_empty())
            .collect();
        NoProxy {
            all: entries.len() == 1 && entries[0] == "*",
            entries,
        }
    }

    pub fn matches(&self, host: &str) -> bool {
        if self.all {
            return true;
        }
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let host_ip = host.parse::<IpAddr>().ok();
        self.entries.iter().any(|entry| {
            if let Ok(ip) = entry.parse::<IpAddr>() {
                return host_ip == Some(ip);
            }
            match entry.strip_prefix('.') {
                Some(suffix) => host.ends_with(&format!(".{suffix}")),
                None => host == *entry || host.ends_with(&format!(".{entry}")),
            }
        })
    }
}

fn unreachable(cause: impl Into<String>) -> ConnectError {
    ConnectError::new(Kind::ProxyUnreachable, cause)
}

/// The longest proxy answer to `CONNECT` read before giving up on it.
const MAX_CONNECT_HEAD: usize = 16 * 1024;

/// Asks the proxy on `stream` for a tunnel to `host:port`. On success the stream carries
/// the tunnel; a proxy that closes or answers something that is not HTTP is unreachable, a
/// non-2xx answer is a refusal with its status.
pub async fn open_tunnel(
    stream: &mut Metered,
    endpoint: &ProxyEndpoint,
    host: &str,
    port: u16,
) -> Result<(), ConnectError> {
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(value) = &endpoint.authorization {
        head.push_str(&format!("Proxy-Authorization: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| unreachable(format!("proxy {}: {e}", endpoint.host)))?;

    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        // Read no further than the head: after it, the tunnel's bytes belong to TLS.
        let n = stream
            .read(&mut chunk[..1])
            .await
            .map_err(|e| unreachable(format!("proxy {}: {e}", endpoint.host)))?;
        if n == 0 {
            return Err(unreachable(format!(
                "proxy {} closed before answering CONNECT",
                endpoint.host
            )));
        }
        buffer.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&buffer) {
            Ok(httparse::Status::Complete(_)) => {
                let status = response.code.unwrap_or(0);
                return if (200..300).contains(&status) {
                    Ok(())
                } else {
                    Err(ConnectError::new(
                        Kind::ProxyRefused,
                        format!("proxy {} answered {status} to CONNECT", endpoint.host),
                    )
                    .with_proxy_status(status))
                };
            }
            Ok(httparse::Status::Partial) if buffer.len() < MAX_CONNECT_HEAD => {}
            Ok(httparse::Status::Partial) => {
                return Err(unreachable(format!(
                    "proxy {} sent an oversized answer to CONNECT",
                    endpoint.host
                )))
            }
            Err(e) => {
                return Err(unreachable(format!(
                    "proxy {} answered CONNECT with something that is not HTTP: {e}",
                    endpoint.host
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_matches_hosts_subdomains_and_literals() {
        let rules = NoProxy::parse(" example.com, .only-subs.test ,10.1.2.3, [::1]");
        assert!(rules.matches("example.com"));
        assert!(rules.matches("a.example.com"));
        assert!(!rules.matches("notexample.com"));
        assert!(!rules.matches("only-subs.test"));
        assert!(rules.matches("x.only-subs.test"));
        assert!(rules.matches("10.1.2.3"));
        assert!(!rules.matches("10.1.2.4"));
        assert!(rules.matches("[::1]"));
        assert!(rules.matches("EXAMPLE.com"));
    }

    #[test]
    fn a_lone_star_means_every_host_and_empty_means_none() {
        assert!(NoProxy::parse("*").matches("anything.test"));
        assert!(!NoProxy::parse("").matches("anything.test"));
        assert!(!NoProxy::parse("*.example.com").matches("a.test"));
    }

    #[test]
    fn each_scheme_picks_its_own_proxy() {
        let endpoint = ProxyEndpoint {
            host: "proxy.test".into(),
            port: 3128,
            authorization: None,
        };
        let settings = ProxySettings {
            http: Some(endpoint.clone()),
            https: None,
            no_proxy: NoProxy::parse("direct.test"),
        };
        assert_eq!(settings.for_target("http", "a.test"), Some(&endpoint));
        assert_eq!(settings.for_target("https", "a.test"), None);
        assert_eq!(settings.for_target("http", "direct.test"), None);
    }
}
