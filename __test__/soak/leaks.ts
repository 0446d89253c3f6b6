// The leak checks at the end of the run: file descriptors around engine.close() and RSS over
// the warm-up (the bounds and their reasons: bounds.ts).
import type { Engine } from '../../src/index.js'
import { FD_SETTLE_MS, MiB, NATIVE_BOUND, RSS_BOUND, RSS_STEADY_BOUND } from './bounds.js'
import { collect, fdCount, rss, sampleMemory, type FdCount, type MemorySample } from './measure.js'
import { sleep } from './time.js'
import { violation } from './violations.js'

/** What the process holds after the warm-up downloads: what the end of the run is held to. */
export interface Baseline {
  fd: FdCount
  memory: MemorySample
}

export async function measureBaseline(): Promise<Baseline> {
  await collect()
  await sleep(200)
  return { fd: fdCount(), memory: sampleMemory() }
}

/**
 * Before the engine closes: no regular file may still be open (a leaked staging file handle
 * shows here, whatever the pooled sockets do).
 */
export async function checkOpenFilesBeforeEngineClose(warm: Baseline): Promise<{ fd: FdCount; rss: number }> {
  await collect()
  const fd = fdCount()
  if (fd.files > warm.fd.files) {
    violation('fd', `open regular files before engine.close(): ${fd.files}, after warm-up ${warm.fd.files}`)
  }
  return { fd, rss: rss() }
}

/** Closes the engine, then gives the fd count FD_SETTLE_MS to return to the warm-up's. */
export async function closeEngineAndCheckFds(engine: Engine, warm: Baseline): Promise<FdCount> {
  await engine.close()
  let fdEnd = fdCount()
  const settleUntil = Date.now() + FD_SETTLE_MS
  while (fdEnd.total > warm.fd.total && Date.now() < settleUntil) {
    await collect()
    await sleep(100)
    fdEnd = fdCount()
  }
  if (fdEnd.total > warm.fd.total) {
    violation('fd', `fds after closing everything: ${JSON.stringify(fdEnd)}, after warm-up ${JSON.stringify(warm.fd)}`)
  }
  return fdEnd
}

/**
 * RSS at the end (engine closed, gc run) against the warm-up, in all and outside the V8 heap,
 * and its growth over the second half (`rssMid` to `rssBeforeEngineClose`, both engine open).
 */
export async function checkMemoryAtEnd(warm: Baseline, rssMid: number | undefined, rssBeforeEngineClose: number): Promise<MemorySample> {
  await collect()
  const end = sampleMemory()
  if (end.rss - warm.memory.rss > RSS_BOUND) {
    violation('rss', `RSS grew ${((end.rss - warm.memory.rss) / MiB).toFixed(1)} MiB (bound ${RSS_BOUND / MiB} MiB)`)
  }
  if (end.native - warm.memory.native > NATIVE_BOUND) {
    violation(
      'rss',
      `RSS outside the V8 heap grew ${((end.native - warm.memory.native) / MiB).toFixed(1)} MiB (bound ${NATIVE_BOUND / MiB} MiB)`,
    )
  }
  if (rssMid !== undefined && rssBeforeEngineClose - rssMid > RSS_STEADY_BOUND) {
    violation(
      'rss',
      `RSS grew ${((rssBeforeEngineClose - rssMid) / MiB).toFixed(1)} MiB in the second half (bound ${RSS_STEADY_BOUND / MiB} MiB)`,
    )
  }
  return end
}
