// Hosts in a child process (__test__/fixtures/host-child.ts), for the failures that need a
// process of their own: a file-size limit (`ulimit -f`) that makes writes fail with EFBIG, or
// a differently built addon (`NAPI_RS_NATIVE_LIBRARY_PATH`). Every child is bounded by a
// timeout and killed in the test's teardown if it is still running.
import type { ExecutionContext } from 'ava'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { DownloadFail, DownloadSuccess, HostConfig } from '../../src/index.js'

/** The repository root: ava runs every test file with the project directory as cwd. */
export const ROOT = process.cwd()
export const HOST_CHILD = join(ROOT, '__test__', 'fixtures', 'host-child.ts')

export interface ChildPlan {
  /** Merged over `{ appId, env: 'test' }`; must carry `dataDir`. Plain JSON only. */
  config: Omit<HostConfig, 'appId' | 'onError' | 'engine'> & { appId?: string }
  /** Downloaded one after the other. */
  downloads: { url: string; filePath?: string; timeout?: number }[]
}

export type ChildResult =
  | { success: DownloadSuccess; fail?: undefined }
  | { fail: DownloadFail; success?: undefined }

export interface ChildRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** The child outlived `timeoutMs` and was killed. */
  timedOut: boolean
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
export function runHostChild(
  t: ExecutionContext,
  plan: ChildPlan,
  opts: ChildOptions = {},
): Promise<ChildRun> {
  if (!existsSync(HOST_CHILD)) throw new Error(`runHostChild: ${HOST_CHILD} is missing (cwd ${ROOT})`)
  const nodeArgs = ['--import', 'tsx', HOST_CHILD, JSON.stringify(plan)]
  const env = { ...process.env, ...opts.env }
  const child =
    opts.fileSizeLimitKiB === undefined
      ? spawn(process.execPath, nodeArgs, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(
          'bash',
          ['-c', `ulimit -f ${Math.floor(opts.fileSizeLimitKiB)} && exec "$@"`, 'bash', process.execPath, ...nodeArgs],
          { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
        )
  let exited = false
  t.teardown(() => {
    if (!exited) child.kill('SIGKILL')
  })
  return new Promise((resolve, reject) => {
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, opts.timeoutMs ?? 30_000)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code, signal) => {
      exited = true
      clearTimeout(timer)
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '))
      const results =
        line === undefined
          ? undefined
          : (JSON.parse(line.slice('RESULT '.length)) as { results: ChildResult[] }).results
      resolve({ code, signal, stdout, stderr, timedOut, results })
    })
  })
}

/** A one-line summary of a child run for assertion messages. */
export function describeChild(run: ChildRun): string {
  return `exit ${run.code} signal ${run.signal}${run.timedOut ? ' (timed out)' : ''}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`
}
