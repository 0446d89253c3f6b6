// tt-download through a full host: createHost (env test), host.download() with the real
// storage path (staging file under <dataDir>/.tt-download/staging, renamed into temp/).
// The addon is whatever the generated loader picks: the bench sets NAPI_RS_NATIVE_LIBRARY_PATH
// to the release (bench-release profile) build. Only what the package exports is used, as a
// user would (`egress.benchSkipCheck` aside, a switch only the bench's own build accepts).
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { loadedAddons } from '../lib/proc.mjs'

// TT_BENCH_TREE (set by run.mjs for tt-baseline with --baseline-tree): another checkout whose
// own dist/ and host code are measured, for a before/after across a change of the binding.
const root = process.env.TT_BENCH_TREE ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const require = createRequire(import.meta.url)

export default async function setup(job) {
  const lib = require(join(root, 'dist', 'index.js'))
  const { createEngine, createHost } = lib
  // A tree from before the package exported `now` has it on its binding only.
  const now = lib.now ?? require(join(root, 'binding.js')).now
  const config = {
    appId: 'bench',
    dataDir: job.outDir,
    env: 'test',
    maxConcurrent: Math.max(job.concurrency, 1),
    userDataQuota: 2 ** 50,
    // The bench keeps every stored file until the end of a comparison (see README): temp/'s
    // budget must not make the host evict them inside the timed window, which would time
    // unlinks no peer performs.
    tempQuota: 2 ** 50,
    tls: { ca: readFileSync(job.caFile, 'utf8') },
    egress: { allow: ['127.0.0.0/8'] },
  }
  // The egress pairs (job.flip 'egress'): a second host, the same but for the bench-only
  // switch that skips the check (only an addon built with the cargo feature bench-switches
  // accepts it). Both hosts use one engine from createEngine(): the same runtime threads and
  // DNS cache, so the policy is all that differs between the halves of a pair (two engines
  // would also put twice the runtime threads on the cores). The pools are keyed by the policy,
  // so the two hosts never share a connection: each half dials and checks (or not) its own.
  // Same dataDir: staging names and temp stems are unique per host.
  // TT_BENCH_THREADS (set by run.mjs for tt-threads with --tt-threads N): an engine with that
  // many runtime threads instead of the default one per core.
  const threads = process.env.TT_BENCH_THREADS === undefined ? undefined : Number(process.env.TT_BENCH_THREADS)
  const own = threads === undefined ? undefined : createEngine({ threads })
  const shared = job.flip === 'egress' ? (own ?? createEngine()) : own
  const host = createHost({ ...config, engine: shared })
  const unchecked = shared && createHost({ ...config, engine: shared, egress: { ...config.egress, benchSkipCheck: true } })
  const enableProfile = job.profile !== false
  // Where the time of a download goes, from its profile (one clock: the engine's `now()`):
  // before the engine starts, inside the engine up to the last body byte, and after it
  // (file commit, rename, delivery of the outcome to JS and the promise).
  const pre = []
  const engine = []
  const post = []
  let reused = 0
  let profiled = 0
  // Downloads by the protocol their profile names ('h2', 'http/1.1'): run.mjs checks that
  // the HTTP/2 grid really ran over h2.
  const protocols = {}
  // The diagnostics pairs (job.flip 'diagnostics'): a subscriber on all four channels, or
  // none. Each half of a pair is one block, so the subscription changes only between blocks.
  const channels = ['start', 'headers', 'success', 'fail'].map((name) => `tt-download:download:${name}`)
  let observed = 0
  const observe = () => {
    observed++
  }
  let subscribed = false
  const observeChannels = (on) => {
    if (on === subscribed) return
    for (const channel of channels) (on ? subscribe : unsubscribe)(channel, observe)
    subscribed = on
  }
  // `options`: { profile }, { egress } or { diagnostics } from the pairs modes (egress false:
  // the unchecked host).
  const one = async (i, options) => {
    if (options?.diagnostics !== undefined) observeChannels(options.diagnostics)
    const result = await (options?.egress === false ? unchecked : host).download({
      url: job.url,
      enableProfile: options?.profile ?? enableProfile,
    })
    const end = now()
    if (result.statusCode !== 200) throw new Error(`status ${result.statusCode}`)
    const p = result.profile
    if (p !== undefined) {
      profiled++
      if (p.socketReused) reused++
      protocols[p.protocol] = (protocols[p.protocol] ?? 0) + 1
      // The where-the-time-goes figures describe the cold block (the first job.count
      // downloads of the process), as they did before there was a warm block after it.
      if (job.mode === 'large' || (job.mode === 'small' && i < job.count && profiled % 4 === 1)) {
        pre.push(p.fetchStart - p.invokeStart)
        engine.push(p.responseEnd - p.fetchStart)
        post.push(end - p.responseEnd)
      }
    }
  }
  const median = (xs) => {
    if (xs.length === 0) return null
    const s = [...xs].sort((a, b) => a - b)
    return s[Math.floor((s.length - 1) / 2)]
  }
  return {
    one,
    extra: () => ({
      addons: loadedAddons(),
      profiled,
      reused,
      protocols,
      // A profile that did not reuse a socket opened it (HTTP/2: its stream set it up).
      connections: profiled - reused,
      observed,
      medianPreMs: median(pre),
      medianEngineMs: median(engine),
      medianPostMs: median(post),
    }),
    close: async () => {
      await host.close()
      await unchecked?.close()
      // A shared engine is never closed by its hosts.
      await shared?.close()
    },
  }
}
