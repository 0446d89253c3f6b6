// Child processes of the release scripts: inherited output for long builds, captured output for
// checks, a hard timeout on both, and an error that says what ran and how it ended.
import { spawn } from 'node:child_process'

export interface ExecOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Default 10 minutes: a cold cross build on two cores is the slowest step. */
  timeoutMs?: number
  /** Print the child's output as it comes instead of collecting it. */
  inherit?: boolean
  input?: string
}

export interface Executed {
  stdout: string
  stderr: string
}

export function exec(command: string, args: string[], opts: ExecOptions = {}): Promise<Executed> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', opts.inherit ? 'inherit' : 'pipe', opts.inherit ? 'inherit' : 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    if (opts.input !== undefined) child.stdin?.end(opts.input)
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(new Error(`${command}: ${error.message}`))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) return resolve({ stdout, stderr })
      const how = signal === null ? `exit code ${code}` : `signal ${signal}`
      const output = `${stdout}${stderr}`.trim().split('\n').slice(-40).join('\n')
      reject(new Error(`${command} ${args.join(' ')} failed (${how})${output ? `:\n${output}` : ''}`))
    })
  })
}

/** The path of a command on PATH, or undefined. */
export async function which(command: string): Promise<string | undefined> {
  try {
    return (await exec('sh', ['-c', `command -v ${command}`])).stdout.trim() || undefined
  } catch {
    return undefined
  }
}
