//! The one channel from engine threads to JavaScript: messages queue here, and the first
//! message of a batch wakes JavaScript, which takes the whole batch in one call.

use std::sync::Mutex;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use tt_download_engine::{Download, Error as EngineError};

/// Weak: the engine's own downloads in flight decide whether it holds the process open.
pub type WakeFn = ThreadsafeFunction<(), (), (), Status, false, true>;

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

/// Touched on the JavaScript thread only: how many downloads have not posted `done` yet,
/// and the wake function whose reference keeps the event loop alive meanwhile.
struct Liveness {
    in_flight: u64,
    wake: WakeFn,
}

pub struct Mailbox {
    queue: Mutex<Queue>,
    liveness: Mutex<Liveness>,
}

impl Mailbox {
    pub fn new(_env: &Env, wake: WakeFn) -> Result<Self> {
        Ok(Mailbox {
            queue: Mutex::new(Queue {
                messages: Vec::new(),
                wake_pending: false,
            }),
            liveness: Mutex::new(Liveness { in_flight: 0, wake }),
        })
    }

    /// From any thread.
    pub fn post(&self, message: Message) {
        let wake_now = {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.messages.push(message);
            !std::mem::replace(&mut queue.wake_pending, true)
        };
        if wake_now {
            let liveness = self.liveness.lock().unwrap_or_else(|p| p.into_inner());
            liveness
                .wake
                .call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }

    /// On the JavaScript thread, before a download can post anything.
    #[allow(deprecated)] // refer/unref: the process must stay alive exactly while downloads run
    pub fn started(&self, env: &Env) -> Result<()> {
        let mut liveness = self.liveness.lock().unwrap_or_else(|p| p.into_inner());
        liveness.in_flight += 1;
        if liveness.in_flight == 1 {
            liveness.wake.refer(env)?;
        }
        Ok(())
    }

    /// On the JavaScript thread: everything queued, oldest first.
    #[allow(deprecated)]
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
        if done > 0 {
            let mut liveness = self.liveness.lock().unwrap_or_else(|p| p.into_inner());
            liveness.in_flight = liveness.in_flight.saturating_sub(done);
            if liveness.in_flight == 0 {
                liveness.wake.unref(env)?;
            }
        }
        Ok(messages)
    }
}
