//! A per-app RFC 6265 cookie jar (the `cookie_store` crate), fed by every response of a
//! download, redirects included, and persisted (persistent cookies only) to a file.

use std::io::BufReader;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use http::HeaderMap;
use url::Url;

#[derive(Clone)]
pub struct CookieJar {
    state: Arc<Mutex<JarState>>,
}

impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieJar")
            .field("file", &self.lock().file)
            .finish_non_exhaustive()
    }
}

struct JarState {
    store: cookie_store::CookieStore,
    file: Option<PathBuf>,
    /// Set-Cookie arrived since the last save.
    dirty: bool,
}

/// The cookie names of a `Cookie` header value.
fn names_in(header: &str) -> Vec<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.split('=').next())
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect()
}

impl CookieJar {
    /// Opens the jar stored in `file` (a missing or unreadable file starts empty; the next
    /// save replaces it), or an in-memory jar without one.
    pub fn open(file: Option<PathBuf>) -> CookieJar {
        let store = file
            .as_ref()
            .and_then(|path| std::fs::File::open(path).ok())
            .and_then(|f| cookie_store::serde::json::load(BufReader::new(f)).ok())
            .unwrap_or_default();
        CookieJar {
            state: Arc::new(Mutex::new(JarState {
                store,
                file,
                dirty: false,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, JarState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The `Cookie` header for a request to `url`: the caller's own value first, then the
    /// jar's cookies whose names the caller did not set (the caller wins a name clash).
    pub fn header_for(&self, url: &Url, caller: Option<&str>) -> Option<String> {
        let state = self.lock();
        let taken = caller.map(names_in).unwrap_or_default();
        let mut parts: Vec<String> = caller
            .filter(|c| !c.trim().is_empty())
            .map(|c| c.to_string())
            .into_iter()
            .collect();
        for (name, value) in state.store.get_request_values(url) {
            if !taken.contains(&name) {
                parts.push(format!("{name}={value}"));
            }
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// Stores the `Set-Cookie` headers of a response to `url`.
    pub fn store_from(&self, url: &Url, headers: &HeaderMap) {
        let values: Vec<&str> = headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        self.store(url, &values);
    }

    /// Stores `Set-Cookie` values a response from `url` carried (the host's other network
    /// APIs share the jar this way).
    pub fn store(&self, url: &Url, set_cookies: &[&str]) {
        if set_cookies.is_empty() {
            return;
        }
        let mut state = self.lock();
        for text in set_cookies {
            // A malformed or refused cookie is ignored, as browsers do.
            let _ = state.store.parse(text, url);
        }
        state.dirty = true;
    }

    /// Forgets every cookie, and empties the saved file too.
    pub fn clear(&self) -> std::io::Result<()> {
        {
            let mut state = self.lock();
            state.store.clear();
            state.dirty = true;
        }
        self.persist()
    }

    /// Writes the persistent cookies to the jar's file if anything changed: a temporary
    /// file renamed into place, so a crash never leaves half a jar.
    pub fn persist(&self) -> std::io::Result<()> {
        let mut state = self.lock();
        let Some(file) = state.file.clone().filter(|_| state.dirty) else {
            return Ok(());
        };
        let staging = file.with_extension(format!("tmp-{}", std::process::id()));
        // Cookies are credentials: only the process's user may read them (SPEC 12).
        let created = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&staging)?
        };
        // A staging file left by a crash keeps its old mode through `mode()`: set it anyway.
        created.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        let mut out = std::io::BufWriter::new(created);
        cookie_store::serde::json::save(&state.store, &mut out).map_err(std::io::Error::other)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&staging, &file)?;
        state.dirty = false;
        Ok(())
    }
}
