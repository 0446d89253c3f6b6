//! Which request opened a connection.
//!
//! hyper-util's legacy pool races a checkout against a new connect, in the requesting task;
//! when the checkout wins, the connect is moved to a task of its own to finish into the pool
//! (hyper-util `one_connection_for`), so "the connector ran" does not say for whom. A request
//! runs inside `on_behalf`, and the connector records the connection it opened on the
//! request's `Attempt`: on HTTP/2 exactly that request reports the connection's set-up
//! (`socketReused: false`), whatever order the burst's heads arrive in.

use std::future::Future;
use std::sync::{Arc, Mutex, Weak};

use crate::connect::ConnMeta;
use crate::h2_ledger::StreamId;

tokio::task_local! {
    static REQUEST: Arc<Attempt>;
}

/// One request sent to the pool: the connection its own connect opened, if any.
#[derive(Default)]
pub struct Attempt {
    opened: Mutex<Option<Opened>>,
}

struct Opened {
    conn: Weak<ConnMeta>,
    /// HTTP/2: the stream entry counting the connection from its first byte.
    stream: Option<StreamId>,
}

impl Attempt {
    fn opened(&self) -> std::sync::MutexGuard<'_, Option<Opened>> {
        self.opened.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The connector opened `conn` for this request.
    pub fn record(&self, conn: &Arc<ConnMeta>, stream: Option<StreamId>) {
        *self.opened() = Some(Opened {
            conn: Arc::downgrade(conn),
            stream,
        });
    }

    /// Whether this request opened `conn` (and then its HTTP/2 stream entry); the set-up is
    /// then this request's to report.
    pub fn take_if_opened(&self, conn: &Arc<ConnMeta>) -> Option<Option<StreamId>> {
        let mut opened = self.opened();
        match opened.as_ref() {
            Some(o) if std::ptr::eq(o.conn.as_ptr(), Arc::as_ptr(conn)) => {
                opened.take().map(|o| o.stream)
            }
            _ => None,
        }
    }
}

impl Drop for Attempt {
    /// The request went out on another connection or failed. An HTTP/2 connection it opened
    /// gives its set-up to its first user instead, and the opener's from-the-start stream
    /// entry counts for nobody. (HTTP/1.1 needs nothing: its first exchange reports the set-up.)
    fn drop(&mut self) {
        let opened = self.opened.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(Opened { conn, stream }) = opened.take() {
            if let Some(conn) = conn.upgrade() {
                if let (Some(ledger), Some(stream)) = (conn.h2_ledger.as_ref(), stream) {
                    conn.release_setup();
                    ledger.close(stream);
                }
            }
        }
    }
}

/// Runs `request` with its connects on behalf of `attempt`.
pub async fn on_behalf<F: Future>(attempt: Arc<Attempt>, request: F) -> F::Output {
    REQUEST.scope(attempt, request).await
}

/// The request the current connect runs for, if it runs inside `on_behalf`.
pub fn current() -> Option<Arc<Attempt>> {
    REQUEST.try_with(Arc::clone).ok()
}
