// Bounds of the soak, each with its reason (what they guard: the comment at the top of run.ts).

/** Body limit of every host: tooLarge faults ask for more, good downloads stay under. */
export const MAX_FILE_SIZE = 512 * 1024
export const TEMP_QUOTA = 2 * MAX_FILE_SIZE
/** How long the end of the run waits for calls still running to complete before calling them lost. */
export const DRAIN_MS = 30_000
/** Quiet period after the last complete, for late (double) calls to show up. */
export const QUIET_MS = 500
/** How long the fd count may take to settle after the engine closed (runtime threads exit in the background). */
export const FD_SETTLE_MS = 10_000
/**
 * RSS after the run (engine closed, gc run) may exceed RSS after the warm-up by at most this.
 * Why 96 MiB: what legitimately stays is memory the process grew into and keeps, not data.
 * V8 keeps the heap it committed under allocation pressure (its young generation grows to
 * 3 x 16 MiB semi-spaces; measured here: +21 MiB committed for +2 MiB used), glibc keeps
 * freed pages in its per-thread arenas (Node's, OpenSSL's and the test servers' memory; the
 * addon's own allocator, mimalloc, returns freed pages at once), and the test servers in this
 * process keep TLS and HTTP/2 session state and a cache of up to 16 bodies of <= 600 KiB.
 * Measured: +36 to +63 MiB whatever the length of the run (20 s or 3 minutes), reached early
 * and then flat. A real leak is far larger: one leaked 4 KiB buffer per download is 400 MiB
 * over the 100 000 downloads of a full run. Two finer checks back it up:
 * - NATIVE_BOUND: RSS outside V8's committed heap (Rust, OpenSSL, libuv, glibc; where a leak
 *   in the engine would show) grows by at most 48 MiB (measured: -3 to +21 MiB; with
 *   mimalloc keeping freed pages for its default second, +36 to +54: why the addon sets
 *   mimalloc's purge delay to 0);
 * - RSS_STEADY_BOUND: between the middle and the end of the run (both gc'd, engine open) RSS
 *   grows by at most 32 MiB (measured: -4 to +12 MiB): growth that continues is a leak.
 */
export const RSS_BOUND = 96 * 1024 * 1024
export const NATIVE_BOUND = 48 * 1024 * 1024
export const RSS_STEADY_BOUND = 32 * 1024 * 1024
export const MiB = 1024 * 1024
