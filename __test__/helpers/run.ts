// Child processes for the CLI and packaging tests: output collected, a hard timeout, and a kill
// in the test's teardown if the child is still running. At most one child per core runs at a
// time (a CLI process under tsx costs about a second of CPU to start), so a file of many
// short runs does not starve itself into timeouts on a small machine.
import type { ExecutionContext } from 'ava'
import { spawn } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'

/** The repository root: ava runs every test file with the project directory as cwd. */
export const ROOT = process.cwd()

/** The CLI from the sources, so a stale dist/ cannot hide a change. */
export const CLI = ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts')]

export interface Ran {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  timedOut: boolean
}

export interface RunOptions {
  cwd?: string
  /** The child's whole environment (default: this process's). */
  env?: NodeJS.ProcessEnv
  /** Default 30 s. */
  timeoutMs?: number
}

const slots = { free: Math.max(1, availableParallelism()), waiting: [] as Array<() => void> }

async function withSlot<T>(work: () => Promise<T>): Promise<T> {
  if (slots.free > 0) slots.free--
  else await new Promise<void>((resolve) => slots.waiting.push(resolve))
  try {
    return await work()
  } finally {
    const next = slots.waiting.shift()
    if (next !== undefined) next()
    else slots.free++
  }
}

/** Runs `command` once a slot is free; the timeout counts from the spawn. */
export function run(t: ExecutionContext, command: string, args: string[], opts: RunOptions = {}): Promise<Ran> {
  return withSlot(() => spawnAndWait(t, command, args, opts))
}

function spawnAndWait(t: ExecutionContext, command: string, args: string[], opts: RunOptions): Promise<Ran> {
  const child = spawn(command, args, {
    cwd: opts.cwd ?? ROOT,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
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
      exited = true
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code, signal) => {
      exited = true
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, timedOut })
    })
  })
}

/** `tt-download <args>` from src/ (node --import tsx). */
export function runCli(t: ExecutionContext, args: string[], opts: RunOptions = {}): Promise<Ran> {
  return run(t, process.execPath, [...CLI, ...args], opts)
}

/** Exit status and both streams, for assertion messages. */
export function describeRun(ran: Ran): string {
  return `exit ${ran.code} signal ${ran.signal}${ran.timedOut ? ' (timed out)' : ''}\nstdout: ${ran.stdout}\nstderr: ${ran.stderr}`
}
