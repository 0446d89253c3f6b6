// Sandbox directories for hosts, and listings that let tests assert what is (and is not) on disk.
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TmpDir {
  dir: string
  cleanup(): Promise<void>
}

/** A fresh empty directory under the OS temp dir. */
export async function makeTmpDir(prefix = 'tt-download-test-'): Promise<TmpDir> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true, maxRetries: 3 }) }
}

const MAX_ENTRIES = 100_000

/**
 * Every file (not directory) under `dir`, hidden ones included (`.tt-download/staging/...`), as
 * sorted '/'-separated paths relative to `dir`. A missing `dir` lists as empty.
 */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  const pending: string[] = ['']
  let visited = 0
  while (pending.length > 0) {
    if (++visited > MAX_ENTRIES) throw new Error(`listFiles: over ${MAX_ENTRIES} dirs in ${dir}`)
    const rel = pending.pop()!
    let entries
    try {
      entries = await readdir(join(dir, rel), { withFileTypes: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw err
    }
    for (const entry of entries) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`
      if (entry.isDirectory()) pending.push(path)
      else out.push(path)
      if (out.length > MAX_ENTRIES) throw new Error(`listFiles: over ${MAX_ENTRIES} in ${dir}`)
    }
  }
  return out.sort()
}

/** Files in the staging directory of a host's dataDir (empty whenever no download runs). */
export function stagingFiles(dataDir: string): Promise<string[]> {
  return listFiles(join(dataDir, '.tt-download', 'staging'))
}

/** Files a user can see: those under `<dataDir>/temp` and `<dataDir>/user`, relative to dataDir. */
export async function sandboxFiles(dataDir: string): Promise<string[]> {
  const temp = (await listFiles(join(dataDir, 'temp'))).map((p) => `temp/${p}`)
  const user = (await listFiles(join(dataDir, 'user'))).map((p) => `user/${p}`)
  return [...temp, ...user].sort()
}
