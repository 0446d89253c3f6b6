// What creating a small file costs right now in one directory: after mass deletes this file
// system checks recently freed inodes of the block group on every create (see README), and
// the cost differs between directories, so a measurement probes where it will write.
import { closeSync, mkdtempSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'

export const PROBE_FILES = 200

/** µs per create + 1 KiB write + close of PROBE_FILES files in a new directory under `parent`; returns it and the directory. */
export function createCost(parent) {
  const dir = mkdtempSync(join(parent, 'probe-'))
  const buf = Buffer.alloc(1024, 1)
  const t0 = performance.now()
  for (let i = 0; i < PROBE_FILES; i++) {
    const fd = openSync(join(dir, `${i}`), 'wx')
    writeSync(fd, buf)
    closeSync(fd)
  }
  return { us: ((performance.now() - t0) * 1000) / PROBE_FILES, dir }
}
