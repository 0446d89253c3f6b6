//! The one channel from engine threads to JavaScript: messages queue here, and the first
//! message of a batch wakes JavaScript, which takes the whole batch in one call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use tt_download_engine::{Download, Error as EngineError};

/// Weak: the engine's own downloads in flight decide whether it holds the process open.
pub type WakeFn = ThreadsafeFunction<(), (), (), Status, false, true>;

// Every download posts one `Done`, the large variant, and few post the small ones: boxing
// `Done` would cost an allocation per download to save queue space that is rarely used.
#[allow(clippy::large_enum_variant)]
pub enum Message {
    Headers {
        id: u32,
        status: u16,
        headers: Vec<(String, String)>,
    },
    Progress {
        id: u32,
        written: u64,
        expected: Option<u64>,
    },
    Done {
        id: u32,
        result: std::result::Result<Download, EngineError>,
        /// The final head, when it was not sent as its own message.
        head: Option<(u16, Vec<(String, String)>)>,
    },
}

struct Queue {
    messages: Vec<Message>,
    /// A wake-up is on its way and will take what is queued: no need for another.
    wake_pending: bool,
}

pub struct Mailbox {
    queue: Mutex<Queue>,
    /// Called from engine threads with no lock held: a wake-up must never make JavaScript
    /// wait for a lock an engine thread holds across a system call.
    wake: WakeFn,
    /// Downloads that have not posted `done` yet; touched on the JavaScript thread only.
    /// While it is above zero, `wake` holds the event loop open.
    in_flight: AtomicU64,
}

impl Mailbox {
    pub fn new(wake: WakeFn) -> Self {
        Mailbox {
            queue: Mutex::new(Queue {
                messages: Vec::new(),
                wake_pending: false,
            }),
            wake,
            in_flight: AtomicU64::new(0),
        }
    }

    /// From any thread.
    pub fn post(&self, message: Message) {
        let wake_now = {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.messages.push(message);
            !std::mem::replace(&mut queue.wake_pending, true)
        };
        if wake_now {
            self.wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }

    /// On the JavaScript thread, before a download can post anything.
    pub fn started(&self, env: &Env) -> Result<()> {
        if self.in_flight.fetch_add(1, Ordering::Relaxed) == 0 {
            self.keep_alive(env, true)?;
        }
        Ok(())
    }

    /// On the JavaScript thread: everything queued, oldest first.
    pub fn take(&self, env: &Env) -> Result<Vec<Message>> {
        let messages = {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.wake_pending = false;
            std::mem::take(&mut queue.messages)
        };
        let done = messages
            .iter()
            .filter(|m| matches!(m, Message::Done { .. }))
            .count() as u64;
        if done > 0 && self.in_flight.fetch_sub(done, Ordering::Relaxed) == done {
            self.keep_alive(env, false)?;
        }
        Ok(messages)
    }

    /// napi_ref / napi_unref of the wake function, which napi-rs offers only through `&mut`
    /// (and so behind a lock the engine threads would share).
    fn keep_alive(&self, env: &Env, alive: bool) -> Result<()> {
        // SAFETY: called on the JavaScript thread of `env` during a call from JavaScript, so
        // the environment is alive, and `self.wake` (owned here, released only on drop) is
        // a valid threadsafe function of it.
        let status = unsafe {
            if alive {
                napi::sys::napi_ref_threadsafe_function(env.raw(), self.wake.raw())
            } else {
                napi::sys::napi_unref_threadsafe_function(env.raw(), self.wake.raw())
            }
        };
        match status {
            napi::sys::Status::napi_ok => Ok(()),
            status => Err(Error::from_reason(format!(
                "napi_{}ref_threadsafe_function failed: {status}",
                if alive { "" } else { "un" }
            ))),
        }
    }
}
