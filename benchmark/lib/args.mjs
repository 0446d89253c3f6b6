// The command line: usage text, options, their defaults and their checks.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { PEER_LABEL } from './report.mjs'

export const USAGE = `usage: node benchmark/run.mjs [options]     (npm run bench from the repository root)

  --quick            a few minutes: 2 runs, 300 downloads per small run, 4 pairs of 500 per
                     on/off comparison, 2 s idle
  --runs N           runs (rounds) per comparison; default 5
  --count N          downloads per small-file run (the cold block); default 2000
  --warm-count N     downloads after them in the same process, measured on their own (the
                     warm block); default: --count; 0: no warm block
  --pairs N          on/off pairs per on/off comparison (profile, egress, diagnostics); default 20
  --profile-count N  downloads per block of a pair; default 2000 (the pairs of one process
                     run back to back after 1,000 warm-up downloads, half of them each way)
  --idle-ms MS       idle period for the RSS-growth measurement; default 10000
  --only LIST        scenarios: large,small,small-h2,idle,profile,egress,diagnostics (default:
                     all); small-h2 is the small-file grid over HTTPS with HTTP/2 (peers tt,
                     curl, undici; one connection carries every download); profile and
                     egress are on/off pairs of tt-download (enableProfile; the egress check,
                     which needs an addon built with the cargo feature bench-switches, as the
                     default bench-release build is)
  --peers LIST       peers: tt,tt-hyper-http1,curl,node-http,undici,got (default: all); also tt-engine, a
                     diagnostic peer calling the native binding without the host
  --sizes LIST       small-file sizes: 1k,64k (default: both)
  --concurrency LIST small-file concurrencies (default: 1,16,64)
  --protocols LIST   http,https (default: both)
  --addon PATH|dev   tt-download addon: a .node file, or "dev" for the root build; default: the
                     bench-release profile (lto = "fat"), built into target/ when missing
  --baseline-addon PATH  another addon (an earlier commit's bench-release build) measured as
                     the peer tt-baseline in the same rounds, through the same host code: a
                     before/after of an engine change in one run
  --baseline-tree DIR  with --baseline-addon: tt-baseline runs DIR's own dist/ (a checkout of
                     that commit, built with npm run build:ts) instead of this tree's host
                     code, for a before/after across a change of the binding
  (peer tt-hyper-http1: the tt peer with plain-http HTTP/1.1 on hyper-util's pooled client,
                     the engine's earlier path, TT_BENCH_HTTP1=hyper in a bench build)
  --tt-threads N     adds the peer tt-threads: the tt peer on createEngine({ threads: N })
                     (the default engine has one runtime thread per core), in the same rounds
  --wait-quiet       before each round, wait (up to 2 min) until other processes use < 15% CPU
  --settle-ms MS     longest wait, before a comparison, for file creation to be cheap again
                     after deletes (see emptyTrash in run.mjs); default 120000
  --out FILE         Markdown report; default: BENCHMARKS.md at the repository root
  --no-write         print the tables only
  --from-results F   no measuring: write the report again from a results.json
  --help             this text
`

export const SCENARIOS = ['large', 'small', 'small-h2', 'idle', 'profile', 'egress', 'diagnostics']

/**
 * The peers of the HTTP/2 grid, those of --peers that speak h2 here: tt and its variants on
 * tt.mjs (tt-hyper-http1 differs from tt on plain http only), curl --http2, undici allowH2.
 * node:http and got have no HTTP/2 in their peers.
 */
export const H2_PEERS = ['tt', 'tt-baseline', 'tt-threads', 'curl', 'undici']

/**
 * The options of `argv`, completed and checked; a bad one prints the usage and exits 2.
 * `defaultOut` is the report's path without --out; `smallFiles` the served small files by --sizes name.
 */
export function parseArgs(argv, { defaultOut, smallFiles }) {
  const o = defaultOptions(defaultOut)
  readOptions(o, argv)
  applyModeDefaults(o)
  addImpliedPeers(o)
  validate(o, smallFiles)
  return o
}

function defaultOptions(out) {
  return {
    quick: false,
    runs: undefined,
    count: undefined,
    warmCount: undefined,
    pairs: undefined,
    profileCount: undefined,
    idleMs: undefined,
    only: SCENARIOS,
    peers: ['tt', 'tt-hyper-http1', 'curl', 'node-http', 'undici', 'got'],
    sizes: ['1k', '64k'],
    concurrency: [1, 16, 64],
    protocols: ['http', 'https'],
    addon: undefined,
    out,
    write: true,
    waitQuiet: false,
    settleMs: 120000,
  }
}

const list = (v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)

const OPTIONS = {
  '--quick': (o) => (o.quick = true),
  '--runs': (o, arg) => (o.runs = arg.int()),
  '--count': (o, arg) => (o.count = arg.int()),
  '--warm-count': (o, arg) => (o.warmCount = arg.int(0)),
  '--pairs': (o, arg) => (o.pairs = arg.int()),
  '--profile-count': (o, arg) => (o.profileCount = arg.int()),
  '--idle-ms': (o, arg) => (o.idleMs = arg.int()),
  '--only': (o, arg) => (o.only = list(arg.val())),
  '--peers': (o, arg) => (o.peers = list(arg.val())),
  '--sizes': (o, arg) => (o.sizes = list(arg.val())),
  '--concurrency': (o, arg) => (o.concurrency = list(arg.val()).map(Number)),
  '--protocols': (o, arg) => (o.protocols = list(arg.val())),
  '--addon': (o, arg) => (o.addon = arg.val()),
  '--baseline-addon': (o, arg) => (o.baselineAddon = arg.val()),
  '--baseline-tree': (o, arg) => (o.baselineTree = arg.val()),
  '--tt-threads': (o, arg) => (o.ttThreads = Number(arg.val())),
  '--out': (o, arg) => (o.out = arg.val()),
  '--no-write': (o) => (o.write = false),
  '--from-results': (o, arg) => (o.fromResults = arg.val()),
  '--wait-quiet': (o) => (o.waitQuiet = true),
  '--settle-ms': (o, arg) => (o.settleMs = Number(arg.val())),
}

function readOptions(o, argv) {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE)
      process.exit(0)
    }
    // Own keys only: an argument such as "constructor" is an unknown option, not Object's.
    if (!Object.hasOwn(OPTIONS, a)) usage(`unknown option ${a}`)
    const arg = {
      val: () => {
        const v = argv[++i]
        if (v === undefined) usage(`${a} needs a value`)
        return v
      },
      int: (min = 1) => {
        const v = Number(arg.val())
        if (!Number.isInteger(v) || v < min) usage(`${a} needs an integer >= ${min}`)
        return v
      },
    }
    OPTIONS[a](o, arg)
  }
}

function applyModeDefaults(o) {
  o.runs ??= o.quick ? 2 : 5
  o.count ??= o.quick ? 300 : 2000
  o.warmCount ??= o.count
  o.pairs ??= o.quick ? 4 : 20
  o.profileCount ??= o.quick ? 500 : 2000
  o.idleMs ??= o.quick ? 2000 : 10000
}

/** --baseline-addon and --tt-threads each bring their peer, measured right after tt. */
function addImpliedPeers(o) {
  if (o.baselineAddon !== undefined && !o.peers.includes('tt-baseline')) o.peers.splice(1, 0, 'tt-baseline')
  if (o.ttThreads !== undefined && !o.peers.includes('tt-threads')) o.peers.splice(1, 0, 'tt-threads')
}

function validate(o, smallFiles) {
  for (const s of o.only) if (!SCENARIOS.includes(s)) usage(`unknown scenario ${s}`)
  for (const p of o.peers) if (!(p in PEER_LABEL)) usage(`unknown peer ${p}`)
  if (o.peers.includes('tt-threads') && !(Number.isInteger(o.ttThreads) && o.ttThreads >= 1)) {
    usage('the peer tt-threads needs --tt-threads N (a positive integer)')
  }
  if (o.peers.includes('tt-baseline') && o.baselineAddon === undefined) usage('the peer tt-baseline needs --baseline-addon PATH')
  if (o.baselineAddon !== undefined && !existsSync(o.baselineAddon)) usage(`--baseline-addon ${o.baselineAddon}: no such file`)
  if (o.baselineTree !== undefined && o.baselineAddon === undefined) usage('--baseline-tree needs --baseline-addon PATH')
  if (o.baselineTree !== undefined && !existsSync(join(o.baselineTree, 'dist', 'index.js'))) {
    usage(`--baseline-tree ${o.baselineTree}: no dist/index.js (run npm run build:ts there)`)
  }
  for (const s of o.sizes) if (!(s in smallFiles)) usage(`unknown size ${s}`)
  for (const p of o.protocols) if (!['http', 'https'].includes(p)) usage(`unknown protocol ${p}`)
  for (const c of o.concurrency) if (!Number.isInteger(c) || c < 1) usage(`bad concurrency ${c}`)
}

function usage(message) {
  process.stderr.write(`${message}\n\n${USAGE}`)
  process.exit(2)
}
