import { DownloadError, failOf } from './errors.js'
import { BindingEngine } from './native.js'
import { ENGINE_PROFILE_ORDER } from './profile.js'
import type { BindingHost, BindingHostInit, BindingRequest, ErrorKind, FailedPath } from './native.js'

export interface EngineOptions {
  /** Engine threads, each a current-thread runtime; a download runs on the least busy one. Default: the number of cores. */
  threads?: number
}

/**
 * A download engine (its threads, connection pools, DNS cache). Share one between hosts
 * with `createHost({ ..., engine })`; closing a host never closes a shared engine.
 */
export interface Engine {
  /** Stops the engine: in-flight downloads of every host using it fail with 121522. */
  close(): Promise<void>
  /** Hosts on this engine not closed, and the connections it holds (SPEC 12). */
  stats(): EngineStats
}

/** `engine.stats()`: for operators. */
export interface EngineStats {
  /** Hosts using this engine that are not closed. */
  hosts: number
  connections: {
    /** Held: in use or pooled. */
    open: number
    /** Of those, carrying no request. */
    idle: number
    /** Of those, on HTTP/2. */
    h2: number
  }
}

/**
 * One message of the engine's mailbox, as `takeMessages()` serializes it (crates/node/src/
 * convert.rs `BindingMessage`: absent fields are left out).
 */
export interface BindingMessage {
  id: number
  kind: 'headers' | 'progress' | 'done'
  /** `headers`; `done` on success, or after a head that was not sent as its own message. */
  statusCode?: number
  /** With `statusCode`: the final response's headers, name, value, name, value... */
  headers?: string[]
  /** `progress`: bytes stored so far, and the announced length (-1: unknown). */
  written?: number
  expected?: number
  /** `done` when it failed: the engine's error kind (errors.ts maps it) and message. */
  errorKind?: ErrorKind
  errorMessage?: string
  /** `done` with `redirectHost`: the refused hop's absolute URL. */
  errorUrl?: string
  /** `done` with `io`: which file the failure concerns (its path is never in the message). */
  failedPath?: FailedPath
  /** `done` with `addressNotAllowed`: the addresses the egress policy refused (for operators only). */
  refused?: string[]
  /** `done` with `proxyRefused`: the status the proxy answered. */
  proxyStatus?: number
  /** `done` when it failed: body bytes of the final response that had arrived. */
  received?: number
  /** `done` on success: absolute path of the stored file and its size. */
  path?: string
  dataLength?: number
  /**
   * `done` on success with a profile: where its numbers (profile.ts ENGINE_PROFILE_ORDER) start in
   * `profiles`, the batch's numbers (set by `#deliver`, valid until it returns), and its
   * peer and protocol.
   */
  profile?: number
  profiles?: Float64Array
  peerIp?: string
  protocol?: string
}

/** Where a running download's messages go; `done` is the last call. */
export interface DownloadHandler {
  message(message: BindingMessage): void
}

/** The implementation behind `Engine`; hosts reach the binding through it. */
export class NativeEngine implements Engine {
  readonly #binding: BindingEngine
  readonly #handlers = new Map<number, DownloadHandler>()
  /** Where the engine writes a batch's profile numbers (room for 256 profiles). */
  readonly #scratch = new Float64Array(256 * ENGINE_PROFILE_ORDER.length)
  #closed = false
  /** Hosts using this engine, added by the host and removed by its close(). */
  readonly hosts = new Set<object>()

  constructor(options: EngineOptions) {
    this.#binding = new BindingEngine(options.threads === undefined ? {} : { threads: options.threads }, () => this.#deliver())
  }

  get closed(): boolean {
    return this.#closed
  }

  /**
   * Starts one download and returns its id; `handler` receives its messages, `done` last,
   * each on a later turn of the event loop. The caller checks `closed` first.
   */
  start(host: BindingHost, request: BindingRequest, handler: DownloadHandler): number {
    if (this.#closed) throw new Error('engine is closed')
    const id = this.#binding.start(host, request)
    this.#handlers.set(id, handler)
    return id
  }

  /** A host's settings, converted and checked once; throws for settings the engine refuses. */
  openHost(init: BindingHostInit): BindingHost {
    return this.#binding.host(init)
  }

  cancel(id: number): void {
    this.#binding.cancel(id)
  }

  /** Asks for download `id`'s head and progress as they happen (someone listens). */
  watch(id: number, headers: boolean, progress: boolean): void {
    this.#binding.watch(id, headers, progress)
  }

  /**
   * One wake-up delivers every message waiting, also after `close()`: the downloads it
   * stopped still post their `done`. A handler that throws is an internal bug; it must not
   * cost the other downloads their messages, so it is rethrown after the batch.
   */
  #deliver(): void {
    let failure: { error: unknown } | undefined
    const batch = this.#binding.takeMessages(this.#scratch)
    const messages = JSON.parse(batch.messages) as BindingMessage[]
    // The scratch array is rewritten by the next batch: every handler reads its numbers
    // before this loop ends (buildProfile copies them into the result).
    const profiles = batch.profiles === undefined ? this.#scratch : new Float64Array(batch.profiles)
    for (const message of messages) {
      if (message.profile !== undefined) message.profiles = profiles
      const handler = this.#handlers.get(message.id)
      if (handler === undefined) continue
      if (message.kind === 'done') this.#handlers.delete(message.id)
      try {
        handler.message(message)
      } catch (error) {
        failure ??= { error }
      }
    }
    if (failure !== undefined) throw failure.error
  }

  stats(): EngineStats {
    if (this.#closed) throw new DownloadError(failOf('abort'))
    return { hosts: this.hosts.size, connections: this.#binding.connectionStats() }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#binding.close()
  }
}

export function createEngine(options: EngineOptions = {}): Engine {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createEngine: options must be an object')
  }
  const { threads } = options
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
    throw new TypeError('createEngine: threads must be a positive integer')
  }
  return new NativeEngine(threads === undefined ? {} : { threads })
}
