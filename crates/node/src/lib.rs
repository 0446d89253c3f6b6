//! The napi-rs binding: type conversion between JavaScript and the engine, nothing more.
//!
//! Every download of an engine reports through one mailbox: engine threads append messages
//! (a final head, progress, the outcome) and wake JavaScript once per batch with a single
//! threadsafe function, so a busy engine costs one event-loop wake-up for many downloads,
//! and a download's messages arrive in the order they happened.
#![deny(clippy::all)]

mod convert;
mod mailbox;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use tt_download_engine::shards::Load;
use tt_download_engine::{
    CancellationToken, Engine, Error as EngineError, Host, Kind, Observer, Quota, Shards,
};

pub use convert::*;
use mailbox::{Mailbox, Message, WakeFn};

// The addon's own allocations go to mimalloc, not glibc's malloc: a download allocates
// buffers of 1 KiB and more on engine threads and frees much of it on the JavaScript thread,
// and glibc consolidates its fast bins on each such allocation and takes the other arena's
// lock for each such free, the hottest user-space cost of a small download on either thread
// (benchmark/attribute.mjs). Local-dynamic TLS: the addon is loaded with dlopen, where musl
// has no static TLS to spare for initial-exec.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Slots of mimalloc.h's `mi_option_t` (the same in v2 and v3) that the sys crate does not name.
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Memory as glibc used it: freed memory goes back to the system at once instead of a second
/// later, so a host's RSS follows its downloads (the soak's bound on memory outside V8's
/// heap), and arenas are committed as they are used instead of eagerly, so a 200 MiB download
/// grows RSS by 4 MiB instead of 14 (the bench's memory-flat target is 10). Under load neither
/// showed in a profile of small downloads.
#[napi_derive::module_init]
fn use_memory_as_needed() {
    // SAFETY: sets two of mimalloc's global options, which it reads atomically.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
    }
}

#[napi(object, object_to_js = false)]
pub struct BindingEngineOptions {
    /// Engine threads (each a current-thread runtime, see the engine's shards.rs); default:
    /// the number of cores.
    pub threads: Option<u32>,
}

/// What JavaScript can still change about a running download.
struct Control {
    cancel: CancellationToken,
    /// Progress is wanted (someone listens); without, none is built.
    progress_wanted: AtomicBool,
    head: Mutex<HeadSlot>,
}

/// The final head's way to JavaScript. Flags and head share one lock, so a head arriving
/// while JavaScript starts listening is sent exactly once, and always before any progress.
#[derive(Default)]
struct HeadSlot {
    /// Send the head as its own message (someone listens to headers or progress).
    wanted: bool,
    /// The head, while it arrived and was not sent: it then travels with the outcome.
    unsent: Head,
}

impl Control {
    fn head(&self) -> std::sync::MutexGuard<'_, HeadSlot> {
        self.head.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends the head now if it waits; the caller holds the slot, so nothing can pass it.
    fn flush_head(slot: &mut HeadSlot, id: u32, mailbox: &Mailbox) {
        if let Some((status, headers)) = slot.unsent.take() {
            mailbox.post(Message::Headers {
                id,
                status,
                headers,
            });
        }
    }
}

type Controls = Arc<Mutex<HashMap<u32, Arc<Control>>>>;

/// A shared download engine: its own threads, connection pools and DNS cache.
#[napi]
pub struct BindingEngine {
    shards: Shards,
    engine: Arc<Engine>,
    mailbox: Arc<Mailbox>,
    controls: Controls,
    next_id: Mutex<u32>,
}

/// A host of an engine: its settings converted once, its pool, budgets and cookie jar. Its
/// downloads are started with `engine.start(host, request)`.
#[napi]
pub struct BindingHost {
    host: Host,
}

impl BindingHost {
    fn temp(&self) -> Result<&tt_download_engine::TempStore> {
        self.host
            .settings()
            .temp
            .as_ref()
            .ok_or_else(|| Error::from_reason("the host has no temp store"))
    }

    fn quota(&self) -> Result<&Quota> {
        self.host
            .settings()
            .quota
            .as_ref()
            .ok_or_else(|| Error::from_reason("the host has no quota"))
    }
}

#[napi]
impl BindingHost {
    /// Bytes of the files the host counts under `temp/` (reservations not included).
    #[napi(getter)]
    pub fn temp_used(&self) -> Result<f64> {
        Ok(self.temp()?.used() as f64)
    }

    /// Files removed from `temp/` to make room since the host started.
    #[napi(getter)]
    pub fn temp_evicted(&self) -> Result<f64> {
        Ok(self.temp()?.evicted() as f64)
    }

    /// The success of the download that stored `path` in `temp/` was delivered: from now on
    /// the file may be evicted.
    #[napi]
    pub fn temp_delivered(&self, path: String) -> Result<()> {
        self.temp()?.delivered(std::path::Path::new(&path));
        Ok(())
    }

    /// Measures `temp/` again (all of it, or the file or directory at `path`).
    #[napi]
    pub fn refresh_temp(&self, path: Option<String>) -> Result<()> {
        self.temp()?
            .refresh(path.as_deref().map(std::path::Path::new))
            .map_err(|e| Error::from_reason(format!("cannot measure temp/: {e}")))
    }

    /// Removes every file in `temp/` stored so far, but those whose success is undelivered.
    #[napi]
    pub fn clear_temp(&self) -> Result<()> {
        self.temp()?
            .clear()
            .map_err(|e| Error::from_reason(format!("cannot clear temp/: {e}")))
    }

    /// Bytes of the files stored under the user quota, kept current as downloads complete.
    #[napi(getter)]
    pub fn user_used(&self) -> Result<f64> {
        Ok(self.quota()?.used() as f64)
    }

    /// Bytes held under the user quota by downloads in flight.
    #[napi(getter)]
    pub fn user_reserved(&self) -> Result<f64> {
        Ok(self.quota()?.reserved() as f64)
    }

    /// Measures `dir` again (every regular file below it) as the user quota's stored total;
    /// a download committing meanwhile is counted once. Returns the new total.
    #[napi]
    pub fn remeasure_user(&self, dir: String) -> Result<f64> {
        self.quota()?
            .remeasure(|| tt_download_engine::measure_dir(std::path::Path::new(&dir)))
            .map(|used| used as f64)
            .map_err(|e| Error::from_reason(format!("cannot measure {dir}: {e}")))
    }

    /// The `Cookie` value a request to `url` (an http(s) URL, checked by the caller) would
    /// send; `''` when none or when the host keeps no cookies.
    #[napi]
    pub fn cookie_header(&self, url: String) -> Result<String> {
        let Some(jar) = &self.host.settings().cookies else {
            return Ok(String::new());
        };
        Ok(jar.header_for(&parse_url(&url)?, None).unwrap_or_default())
    }

    /// What a response from `url` set; saved like a download's cookies. Ignored when the host
    /// keeps no cookies.
    #[napi]
    pub fn store_cookies(&self, url: String, set_cookies: Vec<String>) -> Result<()> {
        let Some(jar) = &self.host.settings().cookies else {
            return Ok(());
        };
        let values: Vec<&str> = set_cookies.iter().map(String::as_str).collect();
        jar.store(&parse_url(&url)?, &values);
        jar.persist()
            .map_err(|e| Error::from_reason(format!("cannot save cookies: {e}")))
    }

    /// Forgets every cookie and empties the saved file.
    #[napi]
    pub fn clear_cookies(&self) -> Result<()> {
        let Some(jar) = &self.host.settings().cookies else {
            return Ok(());
        };
        jar.clear()
            .map_err(|e| Error::from_reason(format!("cannot save cookies: {e}")))
    }
}

fn parse_url(url: &str) -> Result<tt_download_engine::Url> {
    tt_download_engine::Url::parse(url)
        .map_err(|e| Error::from_reason(format!("invalid URL {url}: {e}")))
}

/// Turns engine events into mailbox messages, only those someone listens to.
struct MailboxObserver {
    id: u32,
    control: Arc<Control>,
    mailbox: Arc<Mailbox>,
}

impl Observer for MailboxObserver {
    fn headers(&self, status: u16, headers: &[(String, String)]) {
        let mut slot = self.control.head();
        slot.unsent = Some((status, headers.to_vec()));
        if slot.wanted {
            Control::flush_head(&mut slot, self.id, &self.mailbox);
        }
    }

    fn progress(&self, written: u64, expected: Option<u64>) {
        if self.control.progress_wanted.load(Ordering::Relaxed) {
            // Under the slot's lock: the head (if it waits) goes first, then this.
            let mut slot = self.control.head();
            Control::flush_head(&mut slot, self.id, &self.mailbox);
            self.mailbox.post(Message::Progress {
                id: self.id,
                written,
                expected,
            });
        }
    }
}

/// Posts the outcome exactly once. If the task is dropped unfinished (the runtime shut down
/// under it), the download still ends, as a cancellation.
struct Finish {
    id: u32,
    mailbox: Arc<Mailbox>,
    controls: Controls,
    posted: bool,
}

impl Finish {
    fn post(&mut self, result: EngineResult, head: Head) {
        if std::mem::replace(&mut self.posted, true) {
            return;
        }
        self.controls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
        self.mailbox.post(Message::Done {
            id: self.id,
            result,
            head,
        });
    }
}

type Head = Option<(u16, Vec<(String, String)>)>;
type EngineResult = std::result::Result<tt_download_engine::Download, EngineError>;

impl Drop for Finish {
    fn drop(&mut self) {
        self.post(
            Err(EngineError::new(Kind::Cancelled, "engine closed")),
            None,
        );
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

#[napi]
impl BindingEngine {
    /// `wake` is called (with no arguments) whenever messages are waiting: call
    /// `takeMessages()` then. It keeps the process alive only while downloads are running.
    #[napi(constructor)]
    pub fn new(
        options: Option<BindingEngineOptions>,
        #[napi(ts_arg_type = "() => void")] wake: WakeFn,
    ) -> Result<Self> {
        let threads = options
            .and_then(|o| o.threads)
            .filter(|t| *t > 0)
            .map(|t| t as usize)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let shards = Shards::start(threads, "tt-download")
            .map_err(|e| Error::from_reason(format!("cannot start the engine threads: {e}")))?;
        Ok(BindingEngine {
            shards,
            engine: Arc::new(Engine::new()),
            mailbox: Arc::new(Mailbox::new(wake)),
            controls: Arc::default(),
            next_id: Mutex::new(0),
        })
    }

    /// A host on this engine; throws for settings it cannot use (a bad policy, proxy, CA or
    /// an unreadable `temp/`), before any download.
    #[napi]
    pub fn host(&self, init: BindingHostInit) -> Result<BindingHost> {
        let settings = init
            .into_settings()
            .map_err(|e| Error::from_reason(e.message().to_string()))?;
        let host = self
            .engine
            .host(settings)
            .map_err(|e| Error::from_reason(e.message().to_string()))?;
        Ok(BindingHost { host })
    }

    /// Starts one download of `host` and returns its id, which its messages carry. It always
    /// ends with one `done` message (failures come back as `errorKind`), never with an
    /// exception.
    #[napi]
    pub fn start(&self, env: Env, host: &BindingHost, request: BindingRequest) -> Result<u32> {
        let control = Arc::new(Control {
            cancel: CancellationToken::new(),
            progress_wanted: AtomicBool::new(false),
            head: Mutex::default(),
        });
        let id = {
            let mut controls = self.controls.lock().unwrap_or_else(|p| p.into_inner());
            let mut next = self.next_id.lock().unwrap_or_else(|p| p.into_inner());
            // Ids wrap after 2^32 downloads; one still running is never handed out twice.
            while controls.contains_key(&*next) {
                *next = next.wrapping_add(1);
            }
            let id = *next;
            *next = next.wrapping_add(1);
            controls.insert(id, control.clone());
            id
        };
        self.mailbox.started(&env)?;
        let mut finish = Finish {
            id,
            mailbox: self.mailbox.clone(),
            controls: self.controls.clone(),
            posted: false,
        };
        let request = match request.into_engine() {
            Ok(request) => request,
            Err(err) => {
                finish.post(Err(err), None);
                return Ok(id);
            }
        };
        let host = host.host.clone();
        let observer = MailboxObserver {
            id,
            control: control.clone(),
            mailbox: self.mailbox.clone(),
        };
        let task = |load: Load| async move {
            let run = AssertUnwindSafe(host.download(&request, &observer, &control.cancel))
                .catch_unwind();
            let result = match run.await {
                Ok(result) => result,
                Err(panic) => Err(EngineError::new(
                    Kind::Internal,
                    format!("engine panic: {}", panic_message(panic.as_ref())),
                )),
            };
            let head = control.head().unsent.take();
            // The shard is free for the next download before JavaScript hears of this one.
            drop(load);
            finish.post(result, head);
        };
        // A task the closed engine refuses is dropped, and its `Finish` posts "engine closed".
        self.shards.spawn(task);
        Ok(id)
    }

    /// Stops download `id` at any point; it ends with `errorKind: 'cancelled'` unless its file
    /// was already stored. Unknown or finished ids are ignored.
    #[napi]
    pub fn cancel(&self, id: u32) {
        if let Some(control) = self.control(id) {
            control.cancel.cancel();
        }
    }

    /// From now on, send download `id`'s final head (with `headers` or `progress`) and its
    /// progress (with `progress`) as they happen, the head first; a head that already
    /// arrived is sent at once. Before, none is sent (the head comes with the outcome).
    #[napi]
    pub fn watch(&self, id: u32, headers: bool, progress: bool) {
        let Some(control) = self.control(id) else {
            return;
        };
        if !(headers || progress) {
            return;
        }
        let mut slot = control.head();
        if progress {
            control.progress_wanted.store(true, Ordering::Relaxed);
        }
        slot.wanted = true;
        Control::flush_head(&mut slot, id, &self.mailbox);
    }

    /// The messages waiting, oldest first: a download's own messages are in order and its
    /// `done` is its last. `messages` is a JSON array of `BindingMessage` (typed in
    /// src/engine.ts). The batch's profile numbers go into `scratch` when they fit; else the
    /// result carries them in `profiles` (native-endian f64, read as a Float64Array).
    /// A message's `profile` is where its numbers start.
    #[napi(ts_return_type = "{ messages: string; profiles?: ArrayBuffer }")]
    pub fn take_messages<'env>(
        &self,
        env: &'env Env,
        mut scratch: Float64ArraySlice,
    ) -> Result<Object<'env>> {
        // Plain strings and numbers always serialize; were it ever to fail, the downloads of
        // the batch could not end, so JavaScript hears of it.
        let (messages, profiles) = batch_of(self.mailbox.take(env)?)
            .map_err(|e| Error::from_reason(format!("cannot serialize engine messages: {e}")))?;
        let mut batch = Object::new(env)?;
        batch.set("messages", messages)?;
        // SAFETY: JavaScript is blocked in this call, so nothing else touches the array.
        let scratch = unsafe { scratch.as_mut() };
        if profiles.len() <= scratch.len() {
            // The caller's array, reused batch after batch: no buffer to allocate, no
            // finalizer or sweep per batch.
            scratch[..profiles.len()].copy_from_slice(&profiles);
        } else {
            let bytes: Vec<u8> = profiles.iter().flat_map(|n| n.to_ne_bytes()).collect();
            batch.set("profiles", ArrayBuffer::copy_from(env, bytes)?)?;
        }
        Ok(batch)
    }

    /// Connections held (in use or pooled), those carrying no response, those on HTTP/2.
    #[napi(ts_return_type = "{ open: number; idle: number; h2: number }")]
    pub fn connection_stats<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        let stats = self.engine.connection_stats();
        let mut out = Object::new(env)?;
        out.set("open", stats.open as u32)?;
        out.set("idle", stats.idle as u32)?;
        out.set("h2", stats.h2 as u32)?;
        Ok(out)
    }

    /// Stops the engine threads: in-flight downloads end with `cancelled`.
    #[napi]
    pub fn close(&self) {
        self.shards.stop();
        self.engine.close_idle_connections();
    }
}

impl BindingEngine {
    fn control(&self, id: u32) -> Option<Arc<Control>> {
        self.controls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }
}

impl Drop for BindingEngine {
    fn drop(&mut self) {
        self.close();
    }
}

/// Epoch milliseconds on the engine's clock (monotonic, anchored to wall time once).
#[napi]
pub fn now() -> f64 {
    tt_download_engine::clock::now_ms()
}
