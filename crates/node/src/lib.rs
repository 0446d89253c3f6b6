//! The napi-rs binding: type conversion between JavaScript and the engine, nothing more.
#![deny(clippy::all)]

mod convert;

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::JsDeferred;
use napi_derive::napi;
use tt_download_engine::{
    CancellationToken, CookieJar, Download, Engine, Error as EngineError, Kind, Observer, Quota,
};

pub use convert::*;

#[napi(object, object_to_js = false)]
pub struct BindingEngineOptions {
    /// Runtime worker threads; default: the number of cores.
    pub threads: Option<u32>,
}

/// A shared download engine: its own tokio runtime, connection pools and DNS cache.
#[napi]
pub struct BindingEngine {
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    engine: Arc<Engine>,
}

/// A cancellation handle: `cancel()` stops the download it was passed to, at any point.
#[napi]
pub struct BindingCancel {
    token: CancellationToken,
}

#[napi]
impl BindingCancel {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        BindingCancel {
            token: CancellationToken::new(),
        }
    }

    #[napi]
    pub fn cancel(&self) {
        self.token.cancel();
    }

    #[napi(getter)]
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// A byte budget shared by the downloads it is passed to (a host's user-directory quota).
#[napi]
pub struct BindingQuota {
    quota: Quota,
}

#[napi]
impl BindingQuota {
    /// `used`: bytes already stored under the budget, measured by the caller.
    #[napi(constructor)]
    pub fn new(limit: f64, used: f64) -> Self {
        BindingQuota {
            quota: Quota::new(limit.max(0.0) as u64, used.max(0.0) as u64),
        }
    }

    /// Bytes of the stored files, kept current as downloads complete.
    #[napi(getter)]
    pub fn used(&self) -> f64 {
        self.quota.used() as f64
    }

    /// Bytes held by downloads in flight.
    #[napi(getter)]
    pub fn reserved(&self) -> f64 {
        self.quota.reserved() as f64
    }

    /// Re-bases the stored total after the caller re-measured it.
    #[napi]
    pub fn set_used(&self, used: f64) {
        self.quota.set_used(used.max(0.0) as u64);
    }
}

/// An app's cookie jar, shared by the downloads it is passed to. With a file, persistent
/// cookies are loaded from it and saved to it after downloads that received cookies.
#[napi]
pub struct BindingCookieJar {
    jar: CookieJar,
}

#[napi]
impl BindingCookieJar {
    #[napi(constructor)]
    pub fn new(file: Option<String>) -> Self {
        BindingCookieJar {
            jar: CookieJar::open(file.map(Into::into)),
        }
    }
}

type EventCallback = ThreadsafeFunction<BindingEvent, (), BindingEvent, Status, false, true>;
type Resolver = Box<dyn FnOnce(Env) -> Result<BindingOutcome> + Send>;

/// Forwards engine events to JavaScript without blocking the engine. Progress is already
/// throttled to one event per 50 ms by the engine, so the queue stays short.
struct JsObserver {
    on_event: EventCallback,
}

impl Observer for JsObserver {
    fn headers(&self, status: u16, headers: &[(String, String)]) {
        self.on_event.call(
            BindingEvent::headers(status, headers),
            ThreadsafeFunctionCallMode::NonBlocking,
        );
    }

    fn progress(&self, written: u64, expected: Option<u64>) {
        self.on_event.call(
            BindingEvent::progress(written, expected),
            ThreadsafeFunctionCallMode::NonBlocking,
        );
    }
}

/// Settles the promise exactly once. If the task is dropped unfinished (the runtime shut
/// down under it), the promise still settles, as a cancellation.
struct Settle(Option<JsDeferred<BindingOutcome, Resolver>>);

impl Settle {
    fn settle(mut self, outcome: BindingOutcome) {
        if let Some(deferred) = self.0.take() {
            deferred.resolve(Box::new(move |_| Ok(outcome)));
        }
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        if let Some(deferred) = self.0.take() {
            let outcome =
                BindingOutcome::failed(&EngineError::new(Kind::Cancelled, "engine closed"));
            deferred.resolve(Box::new(move |_| Ok(outcome)));
        }
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
    #[napi(constructor)]
    pub fn new(options: Option<BindingEngineOptions>) -> Result<Self> {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if let Some(threads) = options.and_then(|o| o.threads).filter(|t| *t > 0) {
            builder.worker_threads(threads as usize);
        }
        let runtime = builder
            .enable_all()
            .thread_name("tt-download")
            .build()
            .map_err(|e| Error::from_reason(format!("cannot start the engine runtime: {e}")))?;
        Ok(BindingEngine {
            runtime: Mutex::new(Some(runtime)),
            engine: Arc::new(Engine::new()),
        })
    }

    /// Starts one download. The promise always resolves (never rejects): failures come back as
    /// `errorKind`. `onEvent` receives the headers of the final response, then throttled
    /// progress (at most one event per 50 ms).
    #[napi(ts_return_type = "Promise<BindingOutcome>")]
    pub fn download<'env>(
        &self,
        env: &'env Env,
        request: BindingRequest,
        cancel: &BindingCancel,
        #[napi(ts_arg_type = "(event: BindingEvent) => void")] on_event: EventCallback,
        quota: Option<&BindingQuota>,
        cookies: Option<&BindingCookieJar>,
    ) -> Result<Object<'env>> {
        let (deferred, promise) = env.create_deferred::<BindingOutcome, Resolver>()?;
        let settle = Settle(Some(deferred));
        let request = match request.into_engine(
            quota.map(|q| q.quota.clone()),
            cookies.map(|c| c.jar.clone()),
        ) {
            Ok(request) => request,
            Err(err) => {
                settle.settle(BindingOutcome::failed(&err));
                return Ok(promise);
            }
        };
        let engine = self.engine.clone();
        let token = cancel.token.clone();
        let observer = JsObserver { on_event };
        let guard = self.runtime.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(runtime) => {
                runtime.spawn(async move {
                    let run = AssertUnwindSafe(engine.download(&request, &observer, &token))
                        .catch_unwind();
                    let outcome = match run.await {
                        Ok(result) => outcome_of(result),
                        Err(panic) => BindingOutcome::failed(&EngineError::new(
                            Kind::Internal,
                            format!("engine panic: {}", panic_message(panic.as_ref())),
                        )),
                    };
                    settle.settle(outcome);
                });
            }
            None => settle.settle(BindingOutcome::failed(&EngineError::new(
                Kind::Cancelled,
                "engine closed",
            ))),
        }
        Ok(promise)
    }

    /// Stops the runtime: in-flight downloads end with `cancelled`.
    #[napi]
    pub fn close(&self) {
        let runtime = self
            .runtime
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(runtime) = runtime {
            runtime.shutdown_background();
        }
    }
}

impl Drop for BindingEngine {
    fn drop(&mut self) {
        self.close();
    }
}

fn outcome_of(result: std::result::Result<Download, EngineError>) -> BindingOutcome {
    match result {
        Ok(download) => BindingOutcome::succeeded(download),
        Err(err) => BindingOutcome::failed(&err),
    }
}

/// Epoch milliseconds on the engine's clock (monotonic, anchored to wall time once).
#[napi]
pub fn now() -> f64 {
    tt_download_engine::clock::now_ms()
}
