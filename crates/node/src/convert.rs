//! JavaScript shapes of the engine's request, events and outcome, and their conversion.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use napi_derive::napi;
use std::sync::Arc;

use tt_download_engine::{
    CookieJar, Destination, EgressPolicy, Error as EngineError, HostSettings, Kind, NoProxy,
    PathRole, Profile, ProxyEndpoint, ProxySettings, Quota, Request, TempStore,
};

use crate::mailbox::Message;

#[napi(object, object_to_js = false)]
pub struct BindingResolve {
    pub host: String,
    /// One or more IP addresses, tried in this order (after the egress policy).
    pub ips: Vec<String>,
}

/// One proxy, already parsed and decoded by the caller.
#[napi(object, object_to_js = false)]
pub struct BindingProxyEndpoint {
    pub host: String,
    pub port: u32,
    /// The whole `Proxy-Authorization` value (`Basic ...`), when the proxy URL had credentials.
    pub authorization: Option<String>,
}

/// The proxies of a host by scheme, and the `NO_PROXY` text that bypasses them.
#[napi(object, object_to_js = false)]
pub struct BindingProxy {
    pub http: Option<BindingProxyEndpoint>,
    pub https: Option<BindingProxyEndpoint>,
    pub no_proxy: String,
}

/// The egress policy (SPEC 11): CIDRs or addresses; a malformed entry makes the settings throw.
#[napi(object, object_to_js = false)]
pub struct BindingEgress {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
    pub allow_private: bool,
    /// Benchmarks only: skip the check (an addon built without the `bench-switches` feature,
    /// which every release is, refuses it).
    pub bench_skip_check: Option<bool>,
}

/// What every download of one host shares, converted once (`engine.host(...)`).
#[napi(object, object_to_js = false)]
pub struct BindingHostInit {
    /// Allow plain http, for the first request and every redirect hop. https is always allowed.
    pub allow_http: bool,
    /// Redirect hops must have a host (lower-case, punycode) or `host:port` (when the hop spells a port) in this set; absent means any.
    pub redirect_hosts: Option<Vec<String>>,
    pub max_redirects: u32,
    /// Byte limit: Content-Length above it fails before the body, and so does the running count.
    pub max_bytes: f64,
    /// Directory for the staging file (same file system as the targets).
    pub staging_dir: String,
    /// Staging file name prefix; the engine appends a unique suffix.
    pub staging_prefix: String,
    /// Directory of generated names: `<tempDir>/<tempStem>[.ext]`, ext from the response.
    pub temp_dir: String,
    /// Byte budget of `tempDir`: the oldest files are evicted to make room (measured now).
    pub temp_quota: f64,
    pub fsync: bool,
    /// Extra trusted root certificates, PEM.
    pub ca_pems: Vec<String>,
    pub resolve: Vec<BindingResolve>,
    pub egress: BindingEgress,
    pub proxy: Option<BindingProxy>,
    /// Sent after each download's own headers, as given: name, value, name, value...
    pub trailing_headers: Vec<String>,
    /// Byte budget of the files stored at exact paths (the host's user directory).
    pub user_quota: f64,
    /// Bytes already stored under that budget, measured by the caller.
    pub user_used: f64,
    /// The app's cookie jar is on: downloads send and store cookies.
    pub cookie_store: bool,
    /// Where the jar keeps persistent cookies (with `cookieStore`); absent: in memory only.
    pub cookie_file: Option<String>,
}

/// One download; the rest comes from its `BindingHost`.
#[napi(object, object_to_js = false)]
pub struct BindingRequest {
    pub url: String,
    /// Request headers, already validated and final: name, value, name, value... (sent as
    /// given, before the settings' trailing headers).
    pub headers: Vec<String>,
    /// Whole download, connect to last byte, redirects included.
    pub timeout_ms: f64,
    /// Exact destination path. Either this or `tempStem`.
    pub target_path: Option<String>,
    /// A generated name in the host's `tempDir`.
    pub temp_stem: Option<String>,
    pub profile: bool,
}

fn invalid(message: String) -> EngineError {
    EngineError::new(Kind::Internal, message)
}

/// JavaScript numbers are f64; byte counts above 2^53 cannot arrive, and negatives or NaN
/// are a caller bug.
fn non_negative(value: f64, what: &str) -> Result<u64, EngineError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value as u64)
    } else if value == f64::INFINITY {
        Ok(u64::MAX)
    } else {
        Err(invalid(format!(
            "{what} must be a non-negative number, got {value}"
        )))
    }
}

/// Headers as JavaScript hands them over (name, value, name, value...) as pairs.
fn header_pairs(flat: Vec<String>) -> Result<Vec<(String, String)>, EngineError> {
    if !flat.len().is_multiple_of(2) {
        return Err(invalid("headers must be name, value pairs".into()));
    }
    let mut pairs = Vec::with_capacity(flat.len() / 2);
    let mut flat = flat.into_iter();
    while let (Some(name), Some(value)) = (flat.next(), flat.next()) {
        pairs.push((name, value));
    }
    Ok(pairs)
}

impl BindingEgress {
    fn policy(&self) -> Result<EgressPolicy, EngineError> {
        let policy = EgressPolicy::new(&self.allow, &self.deny, self.allow_private)
            .map_err(|e| EngineError::new(Kind::Internal, format!("egress: {e}")))?;
        match self.bench_skip_check {
            #[cfg(feature = "bench-switches")]
            Some(true) => Ok(policy.skipping_check()),
            #[cfg(not(feature = "bench-switches"))]
            Some(true) => Err(invalid(
                "egress.benchSkipCheck needs an addon built for benchmarks".into(),
            )),
            _ => Ok(policy),
        }
    }
}

/// Whether `NO_PROXY` text excludes `host` from the proxy, as the engine decides every hop
/// (so the CLI can name the proxy a download uses without a second implementation).
#[napi]
pub fn no_proxy_matches(no_proxy: String, host: String) -> bool {
    NoProxy::parse(&no_proxy).matches(&host)
}

/// Throws what `engine.host(...)` would throw for this policy, before anything is on disk.
#[napi]
pub fn check_egress(egress: BindingEgress) -> napi::Result<()> {
    egress
        .policy()
        .map(drop)
        .map_err(|e| napi::Error::from_reason(e.message().to_string()))
}

fn endpoint_of(
    binding: Option<BindingProxyEndpoint>,
) -> Result<Option<ProxyEndpoint>, EngineError> {
    binding
        .map(|endpoint| {
            let port = u16::try_from(endpoint.port)
                .map_err(|_| invalid(format!("proxy port {} out of range", endpoint.port)))?;
            Ok(ProxyEndpoint {
                host: endpoint
                    .host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_ascii_lowercase(),
                port,
                authorization: endpoint.authorization,
            })
        })
        .transpose()
}

impl BindingHostInit {
    pub fn into_settings(self) -> Result<HostSettings, EngineError> {
        let resolve = self
            .resolve
            .into_iter()
            .map(|entry| {
                let ips = entry
                    .ips
                    .iter()
                    .map(|ip| {
                        ip.parse::<IpAddr>()
                            .map_err(|_| invalid(format!("resolve: {ip} is not an IP address")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((entry.host, ips))
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        let egress = self.egress.policy()?;
        let proxy = self
            .proxy
            .map(|proxy| {
                Ok::<_, EngineError>(ProxySettings {
                    http: endpoint_of(proxy.http)?,
                    https: endpoint_of(proxy.https)?,
                    no_proxy: NoProxy::parse(&proxy.no_proxy),
                })
            })
            .transpose()?;
        let temp = TempStore::open(
            PathBuf::from(self.temp_dir),
            non_negative(self.temp_quota, "tempQuota")?,
        )
        .map_err(|e| EngineError::new(Kind::Io, format!("cannot measure temp/: {e}")))?;
        Ok(HostSettings {
            allow_http: self.allow_http,
            redirect_hosts: self.redirect_hosts.map(|hosts| hosts.into_iter().collect()),
            max_redirects: self.max_redirects,
            max_bytes: non_negative(self.max_bytes, "maxBytes")?,
            staging_dir: PathBuf::from(self.staging_dir),
            staging_prefix: self.staging_prefix,
            fsync: self.fsync,
            ca_pems: self.ca_pems,
            resolve,
            egress: Arc::new(egress),
            proxy: proxy.map(Arc::new),
            trailing_headers: header_pairs(self.trailing_headers)?,
            quota: Some(Quota::new(
                non_negative(self.user_quota, "userQuota")?,
                non_negative(self.user_used, "userUsed")?,
            )),
            cookies: self
                .cookie_store
                .then(|| CookieJar::open(self.cookie_file.map(Into::into))),
            temp: Some(temp),
        })
    }
}

impl BindingRequest {
    pub fn into_engine(self) -> Result<Request, EngineError> {
        let destination = match (self.target_path, self.temp_stem) {
            (Some(path), None) => Destination::Exact(PathBuf::from(path)),
            (None, Some(stem)) => Destination::Generated { stem },
            _ => return Err(invalid("either targetPath or tempStem is required".into())),
        };
        // Rounded up: a fraction of a millisecond is still a timeout, never "none" (0).
        let timeout_ms = non_negative(self.timeout_ms.ceil(), "timeoutMs")?;
        Ok(Request {
            url: self.url,
            headers: header_pairs(self.headers)?,
            timeout: (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms)),
            destination,
            profile: self.profile,
        })
    }
}

/// Header list as JavaScript gets it: name, value, name, value... (names lower-case, repeats
/// kept in order). Flat, so a head costs one array instead of an object per header.
fn flat_headers(headers: Vec<(String, String)>) -> Vec<String> {
    let mut flat = Vec::with_capacity(headers.len() * 2);
    for (name, value) in headers {
        flat.push(name);
        flat.push(value);
    }
    flat
}

/// A profile's numbers in a batch, in this order, named (`BindingMessage.profile` says where
/// they start): numbers in a Float64Array instead of an object with a property per field.
/// The one table of the order: TypeScript reads it through `profileNumbersOrder()`.
/// `socketReused` is 1 or 0.
/// A profile field's name and how its number is read.
type ProfileField = (&'static str, fn(&Profile) -> f64);

const PROFILE_FIELDS: [ProfileField; 20] = [
    ("fetchStart", |p| p.fetch_start),
    ("redirectStart", |p| p.redirect_start),
    ("redirectEnd", |p| p.redirect_end),
    ("domainLookupStart", |p| p.domain_lookup_start),
    ("domainLookupEnd", |p| p.domain_lookup_end),
    ("connectStart", |p| p.connect_start),
    ("connectEnd", |p| p.connect_end),
    ("sslConnectionStart", |p| p.ssl_connection_start),
    ("sslConnectionEnd", |p| p.ssl_connection_end),
    ("requestStart", |p| p.request_start),
    ("requestEnd", |p| p.request_end),
    ("responseStart", |p| p.response_start),
    ("responseEnd", |p| p.response_end),
    ("rtt", |p| p.rtt),
    ("throughputKbps", |p| p.throughput_kbps),
    ("port", |p| p.port.into()),
    ("socketReused", |p| if p.socket_reused { 1.0 } else { 0.0 }),
    ("sentBytesCount", |p| p.sent_bytes_count as f64),
    ("receivedBytesCount", |p| p.received_bytes_count as f64),
    ("redirectCount", |p| p.redirect_count.into()),
];

/// The names of `PROFILE_FIELDS` in order: where TypeScript finds each number of a profile.
#[napi]
pub fn profile_numbers_order() -> Vec<&'static str> {
    PROFILE_FIELDS.iter().map(|(name, _)| *name).collect()
}

/// Declares the engine's error kinds as they cross (`errorKind` of a `done` message) from the
/// engine's own list (`with_error_kinds!`), wire names included, so a kind added there is
/// named here at once and TypeScript's switch over this enum does not compile until it maps it.
macro_rules! declare_error_kind {
    ($($(#[$doc:meta])* $variant:ident = $name:tt,)*) => {
        /// What went wrong in a download, in transport terms.
        #[napi(string_enum)]
        #[derive(serde::Serialize, Debug, PartialEq, Eq)]
        pub enum ErrorKind {
            $($(#[$doc])* #[napi(value = $name)] #[serde(rename = $name)] $variant,)*
        }

        impl From<Kind> for ErrorKind {
            fn from(kind: Kind) -> Self {
                match kind {
                    $(Kind::$variant => ErrorKind::$variant,)*
                }
            }
        }
    };
}

tt_download_engine::with_error_kinds!(declare_error_kind);

/// Which file of a download an `io` failure concerns (`PathRole`, one to one).
#[napi(string_enum = "camelCase")]
#[derive(serde::Serialize, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum FailedPath {
    Staging,
    Target,
}

impl From<PathRole> for FailedPath {
    fn from(role: PathRole) -> Self {
        match role {
            PathRole::Staging => FailedPath::Staging,
            PathRole::Target => FailedPath::Target,
        }
    }
}

/// One message of the engine's mailbox. A batch's messages cross as a JSON array of these
/// (camelCase keys, absent fields left out): one string instead of a napi call per property,
/// and `JSON.parse` builds the objects.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingMessage {
    /// The download, as `start()` returned it.
    pub id: u32,
    /// `headers` (the final head, only when watched), `progress` (only when watched), or
    /// `done` (always, last).
    pub kind: &'static str,
    /// `headers`; `done` on success, or after a head that was not sent as its own message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// With `statusCode`: the final response's headers, name, value, name, value...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<String>>,
    /// `progress`: bytes stored so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written: Option<u64>,
    /// `progress`: the announced length, -1 when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<i64>,
    /// `done` when it failed: what went wrong, in the engine's terms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
    /// `done` when it failed: the engine's words, never a path or a URL of the host's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// `done` with `redirectHost`: the refused hop's absolute URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_url: Option<String>,
    /// `done` with `io`: the file the failure concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_path: Option<FailedPath>,
    /// `done` with `addressNotAllowed`: the addresses the egress policy refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<Vec<String>>,
    /// `done` with `proxyRefused`: the status the proxy answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_status: Option<u16>,
    /// `done` when it failed: body bytes of the final response that had arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<u64>,
    /// `done` on success: absolute path of the stored file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_length: Option<u64>,
    /// `done` on success, when the request asked for it: where the numbers of the profile
    /// start in the batch's `profiles` (in the order of `profileNumbersOrder()`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<usize>,
    /// With `profile`: the peer's IP address and the protocol (`h2` or `http/1.1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<&'static str>,
}

impl BindingMessage {
    fn empty(id: u32, kind: &'static str) -> Self {
        BindingMessage {
            id,
            kind,
            status_code: None,
            headers: None,
            written: None,
            expected: None,
            error_kind: None,
            error_message: None,
            error_url: None,
            failed_path: None,
            refused: None,
            proxy_status: None,
            received: None,
            path: None,
            data_length: None,
            profile: None,
            peer_ip: None,
            protocol: None,
        }
    }
}

impl BindingMessage {
    /// `profiles` collects the batch's profile numbers: timestamps of 13+ significant digits
    /// would cost `JSON.parse` a slow decimal conversion each, a Float64Array costs nothing.
    fn of(message: Message, profiles: &mut Vec<f64>) -> Self {
        match message {
            Message::Headers {
                id,
                status,
                headers,
            } => BindingMessage {
                status_code: Some(status),
                headers: Some(flat_headers(headers)),
                ..BindingMessage::empty(id, "headers")
            },
            Message::Progress {
                id,
                written,
                expected,
            } => BindingMessage {
                written: Some(written),
                expected: Some(
                    expected
                        .map(|e| e.min(i64::MAX as u64) as i64)
                        .unwrap_or(-1),
                ),
                ..BindingMessage::empty(id, "progress")
            },
            Message::Done {
                id,
                result: Ok(download),
                ..
            } => BindingMessage {
                status_code: Some(download.status),
                headers: Some(flat_headers(download.headers)),
                path: Some(download.path.to_string_lossy().into_owned()),
                data_length: Some(download.data_length),
                profile: download.profile.as_ref().map(|p| {
                    let at = profiles.len();
                    profiles.extend(PROFILE_FIELDS.iter().map(|(_, number)| number(p)));
                    at
                }),
                protocol: download.profile.as_ref().map(|p| p.protocol),
                peer_ip: download.profile.map(|p| p.peer_ip),
                ..BindingMessage::empty(id, "done")
            },
            Message::Done {
                id,
                result: Err(err),
                head,
            } => {
                let (status_code, headers) = match head {
                    Some((status, headers)) => (Some(status), Some(flat_headers(headers))),
                    None => (None, None),
                };
                BindingMessage {
                    error_kind: Some(err.kind().into()),
                    error_message: Some(err.message().into()),
                    error_url: err.url().map(Into::into),
                    failed_path: err.path_role().map(Into::into),
                    refused: (!err.refused().is_empty())
                        .then(|| err.refused().iter().map(ToString::to_string).collect()),
                    proxy_status: err.proxy_status(),
                    received: Some(err.body_bytes()),
                    status_code,
                    headers,
                    ..BindingMessage::empty(id, "done")
                }
            }
        }
    }
}

/// A batch as `takeMessages()` returns it: the messages as JSON, the profiles' numbers apart.
pub fn batch_of(messages: Vec<Message>) -> Result<(String, Vec<f64>), serde_json::Error> {
    let mut profiles = Vec::new();
    let messages: Vec<BindingMessage> = messages
        .into_iter()
        .map(|m| BindingMessage::of(m, &mut profiles))
        .collect();
    Ok((serde_json::to_string(&messages)?, profiles))
}
