// Diagnostic peer (not in the default set): tt-download's native binding called directly,
// without the host (no validation, queue, task objects or result building). The gap between
// this and `tt` is the TypeScript host's cost; the rest is the engine and the crossing.
//
// It loads `binding.js`, below the public API, on purpose: what it measures is the layer the
// package does not export. The binding's shape is internal and changes with the engine, so it
// is not made public for this peer; when it changes, this file changes with it (README.md).
import { createRequire } from 'node:module'
import { mkdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { loadedAddons } from '../lib/proc.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const require = createRequire(import.meta.url)

export default async function setup(job) {
  const { BindingEngine, profileNumbersOrder } = require(join(root, 'binding.js'))
  const pending = new Map()
  const scratch = new Float64Array(256 * profileNumbersOrder().length)
  const engine = new BindingEngine({}, () => {
    for (const message of JSON.parse(engine.takeMessages(scratch).messages)) {
      if (message.kind !== 'done') continue
      const settle = pending.get(message.id)
      pending.delete(message.id)
      settle(message)
    }
  })
  const stagingDir = join(job.outDir, '.staging')
  mkdirSync(stagingDir)
  const host = engine.host({
    allowHttp: true,
    maxRedirects: 10,
    maxBytes: 209715200,
    stagingDir,
    stagingPrefix: `${process.pid}-`,
    tempDir: job.outDir,
    // As the tt peer's budget: never reached, so it never evicts inside the timed window.
    tempQuota: 2 ** 50,
    fsync: false,
    caPems: [readFileSync(job.caFile, 'utf8')],
    resolve: [],
    egress: { allow: ['127.0.0.0/8'], deny: [], allowPrivate: false },
    trailingHeaders: [],
    userQuota: 2 ** 50,
    userUsed: 0,
    cookieStore: false,
  })
  const profile = job.profile !== false
  const one = async (i, options) => {
    const outcome = await new Promise((resolve) => {
      pending.set(
        engine.start(host, {
          url: job.url,
          headers: [],
          timeoutMs: 60000,
          profile: options?.profile ?? profile,
          // A generated temp/ name, as host.download() without filePath asks for: the same
          // storage path (an unnamed file linked in place) as the tt peer, so that the gap
          // between the two is the TypeScript host and nothing else.
          tempStem: `engine-${process.pid}-${i}`,
        }),
        resolve,
      )
    })
    if (outcome.errorKind !== undefined) throw new Error(`${outcome.errorKind}: ${outcome.errorMessage}`)
    if (outcome.statusCode !== 200) throw new Error(`status ${outcome.statusCode}`)
  }
  return { one, extra: () => ({ addons: loadedAddons() }), close: async () => engine.close() }
}
