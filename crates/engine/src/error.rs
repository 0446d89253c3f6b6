//! The engine's one error type. `Kind` says what went wrong in transport terms; the
//! TypeScript layer maps kinds to the platform's error codes (the engine knows nothing of them).

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::net::IpAddr;

/// Calls the macro `$then` with `Kind`'s variants, their docs and the stable names that cross
/// into JavaScript: the one list from which `Kind` and `Kind::as_str` are declared here and a
/// binding declares its copy of it (one that carries its framework's attributes, which this
/// crate does not depend on).
#[macro_export]
macro_rules! with_error_kinds {
    ($then:ident) => {
        $then! {
            /// The host name did not resolve.
            Dns = "dns",
            /// TCP connect refused, reset or unreachable, or the connection closed before any response.
            Connect = "connect",
            /// The egress policy refused every address of the destination; nothing was sent.
            AddressNotAllowed = "addressNotAllowed",
            /// The proxy could not be reached, closed, or answered something that is not HTTP
            /// before the tunnel was up.
            ProxyUnreachable = "proxyUnreachable",
            /// The proxy answered `CONNECT` with a non-2xx status, or 407 to a request.
            ProxyRefused = "proxyRefused",
            /// The server certificate is untrusted, expired, not yet valid or for another name.
            TlsCertificate = "tlsCertificate",
            /// Any other TLS handshake failure.
            Tls = "tls",
            /// The whole-download deadline passed.
            Timeout = "timeout",
            /// The connection was lost after the response started (short body, reset mid-body).
            Interrupted = "interrupted",
            /// Any other transport failure (malformed HTTP...).
            Network = "network",
            /// The body is larger than the byte limit.
            TooLarge = "tooLarge",
            /// Storing the body would pass the destination's quota.
            Quota = "quota",
            /// Running downloads into `temp/` alone would pass its budget.
            TempQuota = "tempQuota",
            /// The caller cancelled.
            Cancelled = "cancelled",
            /// Local storage failed (disk full, write error...).
            Io = "io",
            /// Too many redirects, or a redirect to an unparseable or disallowed target.
            Redirect = "redirect",
            /// A redirect hop whose host is not in the allowed set.
            RedirectHost = "redirectHost",
            /// A bug in the engine (a panic, a broken invariant).
            Internal = "internal",
        }
    };
}

macro_rules! declare_kind {
    ($($(#[$doc:meta])* $variant:ident = $name:tt,)*) => {
        /// What went wrong, in transport terms.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Kind {
            $($(#[$doc])* $variant,)*
        }

        impl Kind {
            /// The stable name that crosses into JavaScript.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$variant => $name,)*
                }
            }
        }
    };
}

with_error_kinds!(declare_kind);

/// Which of a download's files a storage failure concerns: its message never holds the
/// path itself (host paths are not the app's business).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRole {
    /// The staging file the body is written to.
    Staging,
    /// The destination the staging file is renamed onto.
    Target,
}

#[derive(Debug)]
pub struct Error {
    kind: Kind,
    message: String,
    /// The URL the failure is about when it is not the download's own (a refused redirect hop).
    url: Option<String>,
    /// `Io`: the file the failure concerns.
    path_role: Option<PathRole>,
    /// `AddressNotAllowed`: the addresses refused, for the operator (never the app).
    refused: Vec<IpAddr>,
    /// `ProxyRefused`: what the proxy answered.
    proxy_status: Option<u16>,
    /// Body bytes of the final response that arrived before the failure.
    body_bytes: u64,
}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            url: None,
            path_role: None,
            refused: Vec::new(),
            proxy_status: None,
            body_bytes: 0,
        }
    }

    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    pub fn path_role(&self) -> Option<PathRole> {
        self.path_role
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn refused(&self) -> &[IpAddr] {
        &self.refused
    }

    pub fn proxy_status(&self) -> Option<u16> {
        self.proxy_status
    }

    pub fn with_proxy_status(mut self, status: u16) -> Self {
        self.proxy_status = Some(status);
        self
    }

    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    pub fn with_body_bytes(mut self, bytes: u64) -> Self {
        self.body_bytes = bytes;
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl StdError for Error {}

/// A connector failure that already knows its kind; hyper-util wraps it, and
/// [`classify_request_error`] finds it again in the source chain.
#[derive(Debug)]
pub struct ConnectError {
    pub kind: Kind,
    pub cause: String,
    pub refused: Vec<IpAddr>,
    pub proxy_status: Option<u16>,
}

impl ConnectError {
    pub fn new(kind: Kind, cause: impl Into<String>) -> Self {
        ConnectError {
            kind,
            cause: cause.into(),
            refused: Vec::new(),
            proxy_status: None,
        }
    }

    pub fn with_refused(mut self, refused: Vec<IpAddr>) -> Self {
        self.refused = refused;
        self
    }

    pub fn with_proxy_status(mut self, status: u16) -> Self {
        self.proxy_status = Some(status);
        self
    }

    pub fn to_error(&self) -> Error {
        Error {
            kind: self.kind,
            message: self.cause.clone(),
            url: None,
            path_role: None,
            refused: self.refused.clone(),
            proxy_status: self.proxy_status,
            body_bytes: 0,
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.cause)
    }
}

impl StdError for ConnectError {}

/// Walks an error's causes. `io::Error::source()` skips the error it wraps
/// (rust-lang/rust#124513), so each io link also yields its `get_ref()`.
fn causes<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut found = Vec::new();
    let mut next = Some(err);
    while let Some(current) = next {
        found.push(current);
        if found.len() > 32 {
            break;
        }
        if let Some(io_err) = current.downcast_ref::<io::Error>() {
            if let Some(inner) = io_err.get_ref() {
                next = Some(inner as &(dyn StdError + 'static));
                continue;
            }
        }
        next = current.source();
    }
    found
}

fn describe(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in causes(err) {
        let text = cause.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// Classifies a TLS failure: certificate problems apart from other handshake failures.
pub fn classify_tls(err: &rustls::Error) -> Kind {
    use rustls::Error as E;
    match err {
        E::InvalidCertificate(_) | E::NoCertificatesPresented | E::InvalidCertRevocationList(_) => {
            Kind::TlsCertificate
        }
        _ => Kind::Tls,
    }
}

fn tls_kind_in(err: &(dyn StdError + 'static)) -> Option<Kind> {
    causes(err)
        .into_iter()
        .find_map(|c| c.downcast_ref::<rustls::Error>().map(classify_tls))
}

/// Classifies an I/O failure while establishing a connection.
pub fn classify_connect_io(err: &io::Error, during_tls: bool) -> Kind {
    if let Some(kind) = tls_kind_in(err) {
        return kind;
    }
    if during_tls {
        return Kind::Tls;
    }
    match err.kind() {
        io::ErrorKind::TimedOut => Kind::Timeout,
        _ => Kind::Connect,
    }
}

/// Classifies a failure of `client.request()`: everything before the response head.
pub fn classify_request_error(err: &(dyn StdError + 'static)) -> Error {
    let message = describe(err);
    let chain = causes(err);
    if let Some(connect) = chain.iter().find_map(|c| c.downcast_ref::<ConnectError>()) {
        return connect.to_error();
    }
    if let Some(kind) = tls_kind_in(err) {
        return Error::new(kind, message);
    }
    for cause in &chain {
        if let Some(h2_err) = cause.downcast_ref::<h2::Error>() {
            // A peer that refuses our stream or goes away before answering, like a transport
            // that fails under h2, has closed on us before any response byte (SPEC 10). Only
            // frames the peer sent count: a GOAWAY or reset our own client raised (a
            // CONTINUATION flood, a bad HPACK block) is a protocol failure, a network error.
            if (h2_err.is_remote() && (h2_err.is_reset() || h2_err.is_go_away())) || h2_err.is_io()
            {
                return Error::new(Kind::Connect, message);
            }
        }
        if let Some(hyper_err) = cause.downcast_ref::<hyper::Error>() {
            if hyper_err.is_parse() || hyper_err.is_parse_status() {
                return Error::new(Kind::Network, message);
            }
            if hyper_err.is_incomplete_message() || hyper_err.is_canceled() || hyper_err.is_closed()
            {
                // Closed or reset before any response byte arrived.
                return Error::new(Kind::Connect, message);
            }
        }
        if let Some(io_err) = cause.downcast_ref::<io::Error>() {
            if is_connection_loss(io_err.kind()) {
                return Error::new(Kind::Connect, message);
            }
        }
    }
    Error::new(Kind::Network, message)
}

/// Classifies a failure while reading the body of the final response.
pub fn classify_body_error(err: &(dyn StdError + 'static)) -> Error {
    let message = describe(err);
    for cause in causes(err) {
        if let Some(hyper_err) = cause.downcast_ref::<hyper::Error>() {
            if hyper_err.is_incomplete_message() || hyper_err.is_body_write_aborted() {
                return Error::new(Kind::Interrupted, message);
            }
            if hyper_err.is_parse() {
                return Error::new(Kind::Network, message);
            }
        }
        if let Some(io_err) = cause.downcast_ref::<io::Error>() {
            if is_connection_loss(io_err.kind()) {
                return Error::new(Kind::Interrupted, message);
            }
        }
    }
    // A body that stops early for any other transport reason is still an interruption
    // after the response started (HTTP/2 stream resets, protocol errors mid-stream...).
    Error::new(Kind::Interrupted, message)
}

fn is_connection_loss(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected
    )
}

/// A local storage failure: `action` on the file of `role`.
pub fn io_error(role: PathRole, action: &str, err: &io::Error) -> Error {
    let mut error = Error::new(Kind::Io, format!("{action}: {err}"));
    error.path_role = Some(role);
    error
}
