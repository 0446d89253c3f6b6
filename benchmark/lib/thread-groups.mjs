// The thread groups every CPU-by-thread figure uses, by a thread's name (comm): the engine's
// threads are all named "tt-download" (crates/node's BindingEngine), the rest of a Node process
// is V8's and libuv's.
export const JS_THREAD = 'JavaScript thread'
export const ENGINE_THREADS = 'engine threads'
export const OTHER_THREADS = 'other threads (V8, libuv)'
export const THREAD_GROUPS = [JS_THREAD, ENGINE_THREADS, OTHER_THREADS]

export function threadGroup(comm, isMain) {
  if (isMain) return JS_THREAD
  if (comm === 'tt-download') return ENGINE_THREADS
  return OTHER_THREADS
}

/** A threadsByName() sample or delta (main thread under 'main'), summed by thread group. */
export function byThreadGroup(threads) {
  const groups = {}
  for (const [name, t] of Object.entries(threads)) {
    const g = (groups[threadGroup(name, name === 'main')] ??= { cpuMs: 0, switches: 0, threads: 0 })
    g.cpuMs += t.cpuMs
    g.switches += t.switches
    g.threads += t.threads ?? 0
  }
  return groups
}
