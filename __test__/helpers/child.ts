// Hosts in a child process (__test__/fixtures/host-child.ts), for the failures that need a
// process of their own: a file-size limit (`ulimit -f`) that makes writes fail with EFBIG, or
// a differently built addon (`NAPI_RS_NATIVE_LIBRARY_PATH`). Every child is bounded by a
// timeout and killed in the test's teardown if it is still running.
import type { ExecutionContext } from 'ava'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { DownloadFail, DownloadSuccess, HostConfig } from '../../src/index.js'
import { ROOT, run } from './run.js'
import type { Ran } from './run.js'

export { ROOT }
export const HOST_CHILD = join(ROOT, '__test__', 'fixtures', 'host-child.ts')

export interface ChildPlan {
  /** Merged over `{ appId, env: 'test' }`; must carry `dataDir`. Plain JSON only. */
  config: Omit<HostConfig, 'appId' | 'onError' | 'engine'> & { appId?: string }
  /** Downloaded one after the other. */
  downloads: { url: string; filePath?: string; timeout?: number }[]
}

export type ChildResult = { success: DownloadSuccess; fail?: undefined } | { fail: DownloadFail; success?: undefined }

export interface ChildRun extends Ran {
  /** Parsed from the child's `RESULT` line; undefined when it printed none. */
  results: ChildResult[] | undefined
}

export interface ChildOptions {
  /** Extra environment variables for the child. */
  env?: Record<string, string>
  /** `ulimit -f` for the child, in 1024-byte blocks (bash's unit). */
  fileSizeLimitKiB?: number
  /** Default 30 s. */
  timeoutMs?: number
}

/** Runs the plan in `node --import tsx host-child.ts`; resolves when the child exits. */
export async function runHostChild(t: ExecutionContext, plan: ChildPlan, opts: ChildOptions = {}): Promise<ChildRun> {
  if (!existsSync(HOST_CHILD)) throw new Error(`runHostChild: ${HOST_CHILD} is missing (cwd ${ROOT})`)
  const nodeArgs = ['--import', 'tsx', HOST_CHILD, JSON.stringify(plan)]
  const [command, args] =
    opts.fileSizeLimitKiB === undefined
      ? [process.execPath, nodeArgs]
      : ['bash', ['-c', `ulimit -f ${Math.floor(opts.fileSizeLimitKiB)} && exec "$@"`, 'bash', process.execPath, ...nodeArgs]]
  const ran = await run(t, command, args, { env: { ...process.env, ...opts.env }, timeoutMs: opts.timeoutMs })
  const line = ran.stdout.split('\n').find((l) => l.startsWith('RESULT '))
  const results = line === undefined ? undefined : (JSON.parse(line.slice('RESULT '.length)) as { results: ChildResult[] }).results
  return { ...ran, results }
}

/** A one-line summary of a child run for assertion messages. */
export function describeChild(run: ChildRun): string {
  return `exit ${run.code} signal ${run.signal}${run.timedOut ? ' (timed out)' : ''}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`
}
