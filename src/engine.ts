import { BindingEngine } from './native.js'
import type {
  BindingCancel,
  BindingCookieJar,
  BindingEvent,
  BindingOutcome,
  BindingQuota,
  BindingRequest,
} from './native.js'

export interface EngineOptions {
  /** Runtime worker threads of the native engine; default: the number of cores. */
  threads?: number
}

/**
 * A download engine (runtime threads, connection pools, DNS cache). Share one between hosts
 * with `createHost({ ..., engine })`; closing a host never closes a shared engine.
 */
export interface Engine {
  /** Stops the engine: in-flight downloads of every host using it fail with 121522. */
  close(): Promise<void>
}

/** The implementation behind `Engine`; hosts reach the binding through it. */
export class NativeEngine implements Engine {
  #binding: BindingEngine | undefined

  constructor(options: EngineOptions) {
    this.#binding = new BindingEngine(options.threads === undefined ? {} : { threads: options.threads })
  }

  get closed(): boolean {
    return this.#binding === undefined
  }

  /** Starts one download; the caller checks `closed` first. */
  download(
    request: BindingRequest,
    cancel: BindingCancel,
    onEvent: (event: BindingEvent) => void,
    quota: BindingQuota | undefined,
    cookies: BindingCookieJar | undefined,
  ): Promise<BindingOutcome> {
    if (this.#binding === undefined) throw new Error('engine is closed')
    return this.#binding.download(request, cancel, onEvent, quota, cookies)
  }

  async close(): Promise<void> {
    const binding = this.#binding
    if (binding === undefined) return
    this.#binding = undefined
    binding.close()
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
