// Real servers from Debian's packages for the tests (tinyproxy, apache2, nginx): found or
// installed (as root with apt-get, never skipped), started in the foreground from a config of
// the test's own on 127.0.0.1, and stopped by their own PID.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import * as net from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { connectsWithin, listenLocal } from './listen.js'

const START_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 3_000
const MAX_LOG = 256 * 1024
const INSTALL_TIMEOUT_MS = 5 * 60_000

export interface DebianBinary {
  /** The Debian package that ships it. */
  pkg: string
  /** The binary's file name, looked up on PATH. */
  name: string
  /** Where the package puts it when PATH does not have it (sbin is not always on PATH). */
  candidates: string[]
  /** What needs it, for the error message. */
  neededBy: string
}

const installing = new Map<string, Promise<string>>()

function findBinary(binary: DebianBinary): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    const candidate = join(dir, binary.name)
    if (existsSync(candidate)) return candidate
  }
  return binary.candidates.find((path) => existsSync(path))
}

export function exec(file: string, args: string[], timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        timeout: timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      },
      (error, stdout, stderr) => resolve({ ok: error === null, output: `${stdout}${stderr}` }),
    )
  })
}

/**
 * The path of the binary. When it is missing: as root with apt-get, installs Debian's package
 * (once per test process, `apt-get update` first only if the plain install fails); otherwise
 * throws an error naming the package. Never skips.
 */
export function ensureBinary(binary: DebianBinary): Promise<string> {
  let found = installing.get(binary.pkg)
  if (found !== undefined) return found
  found = (async () => {
    const present = findBinary(binary)
    if (present !== undefined) return present
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
    const aptGet = ['/usr/bin/apt-get', '/bin/apt-get'].find((path) => existsSync(path))
    if (!isRoot || aptGet === undefined) {
      throw new Error(
        `${binary.neededBy} need Debian's "${binary.pkg}" package, which is not installed: ` +
          `run \`apt-get install -y --no-install-recommends ${binary.pkg}\` as root` +
          (isRoot ? ' (apt-get was not found)' : ' (this test process is not root)'),
      )
    }
    const install = ['install', '-y', '--no-install-recommends', binary.pkg]
    let attempt = await exec(aptGet, install, INSTALL_TIMEOUT_MS)
    if (!attempt.ok) {
      const update = await exec(aptGet, ['update'], INSTALL_TIMEOUT_MS)
      if (!update.ok) throw new Error(`apt-get update failed while installing ${binary.pkg}:\n${update.output}`)
      attempt = await exec(aptGet, install, INSTALL_TIMEOUT_MS)
    }
    const installed = findBinary(binary)
    if (!attempt.ok || installed === undefined) {
      throw new Error(`could not install Debian's "${binary.pkg}" package:\n${attempt.output}`)
    }
    return installed
  })()
  // A failed install is reported to every caller of this process, never retried in a loop.
  installing.set(binary.pkg, found)
  return found
}

/** A port that was free a moment ago (a daemon binds it itself: a start retries on a clash). */
export async function freePort(): Promise<number> {
  const server = net.createServer()
  await listenLocal(server)
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export interface Daemon {
  /** The process id of the server itself. */
  pid: number
  /** What it printed so far (stdout and stderr, bounded). */
  log(): string
  /** Signals the PID (SIGTERM, then SIGKILL) and waits for it to exit; removes `dir` unless kept. */
  stop(keepDir?: boolean): Promise<void>
}

export interface DaemonSpec {
  /** A label for messages and the PID line. */
  label: string
  binary: string
  args: string[]
  env?: NodeJS.ProcessEnv
  /** Every port it must accept connections on before it counts as started. */
  ports: number[]
  /** Its own directory (config, logs), removed when it stops. */
  dir: string
}

/**
 * Starts the daemon (in the foreground, supervised: see spawnSupervised), waits until each of
 * `ports` accepts a connection, and returns it. Throws with its output when it exited first or
 * did not listen in time; the caller decides whether a port clash deserves another attempt.
 */
export async function startDaemon(spec: DaemonSpec): Promise<Daemon> {
  const { child, direct } = spawnSupervised(spec)
  let log = ''
  let pid: number | undefined = direct ? child.pid : undefined
  const pidLine = new RegExp(`^${spec.label}-pid (\\d+)$`, 'm')
  const append = (chunk: Buffer) => {
    if (log.length < MAX_LOG) log += chunk.toString('utf8')
    pid ??= Number(pidLine.exec(log)?.[1]) || undefined
  }
  child.stdout!.on('data', append)
  child.stderr!.on('data', append)
  let exited = false
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true
      resolve()
    })
    child.once('error', (error) => {
      exited = true
      log += `\nspawn error: ${error.message}`
      resolve()
    })
  })
  const stop = stopper(
    child,
    () => pid,
    exit,
    () => exited,
    spec.dir,
  )

  const deadline = performance.now() + START_TIMEOUT_MS
  const pending = [...spec.ports]
  while (!exited && performance.now() < deadline && pending.length > 0) {
    if (pid !== undefined && (await connectsWithin('127.0.0.1', pending[0]!, 200))) {
      pending.shift()
      continue
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  if (pending.length === 0 && !exited && pid !== undefined) {
    return { pid, log: () => log, stop }
  }
  const where = spec.ports.map((port) => `127.0.0.1:${port}`).join(', ')
  const reason = exited
    ? `${spec.label} exited before it listened on ${where}:\n${log}`
    : `${spec.label} did not listen on ${where} within ${START_TIMEOUT_MS} ms:\n${log}`
  await stop(true)
  throw new DaemonStartError(reason, log)
}

export class DaemonStartError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message)
  }

  /** The port was taken between freePort() and the daemon's bind: worth another attempt. */
  get portClash(): boolean {
    return /already in use|could not bind/i.test(this.output)
  }
}

/**
 * The daemon under a small supervisor: `/bin/sh` starts it in the background, prints its PID
 * (`<label>-pid N`) and waits for it. The shell runs under `setpriv --pdeathsig SIGTERM`, so if
 * the test process dies without its teardown (a crash, a kill), the kernel signals the shell,
 * whose trap stops the daemon: no server outlives its test process. (The death signal cannot be
 * put on the daemon itself: the kernel clears it when the daemon switches user.) Without
 * setpriv, the daemon is spawned directly.
 */
function spawnSupervised(spec: DaemonSpec): { child: ChildProcess; direct: boolean } {
  const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe']
  const env = spec.env ?? process.env
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path))
  if (setpriv === undefined || !existsSync('/bin/sh')) {
    return { child: spawn(spec.binary, spec.args, { stdio, env }), direct: true }
  }
  const script =
    `"$0" "$@" & p=$!; echo "${spec.label}-pid $p"; ` + 'trap \'kill -TERM "$p" 2>/dev/null; wait "$p"; exit 0\' TERM INT HUP; wait "$p"'
  const args = ['--pdeathsig', 'SIGTERM', '--', '/bin/sh', '-c', script, spec.binary, ...spec.args]
  return { child: spawn(setpriv, args, { stdio, env }), direct: false }
}

function stopper(
  supervisor: ChildProcess,
  daemonPid: () => number | undefined,
  exit: Promise<void>,
  exited: () => boolean,
  dir: string,
): (keepDir?: boolean) => Promise<void> {
  let stopping: Promise<void> | undefined
  // By their own PIDs only, never by name.
  const signal = (pid: number | undefined, name: NodeJS.Signals) => {
    if (pid === undefined) return
    try {
      process.kill(pid, name)
    } catch {
      // already gone
    }
  }
  return (keepDir = false) => {
    stopping ??= (async () => {
      if (!exited()) {
        // The daemon first (the supervisor exits once it has); the supervisor too if it is
        // still starting and printed no PID yet.
        if (daemonPid() !== undefined) signal(daemonPid(), 'SIGTERM')
        else signal(supervisor.pid, 'SIGTERM')
        const timer = setTimeout(() => {
          if (exited()) return
          signal(daemonPid(), 'SIGKILL')
          signal(supervisor.pid, 'SIGKILL')
        }, STOP_TIMEOUT_MS)
        await exit
        clearTimeout(timer)
      }
      if (!keepDir) await rm(dir, { recursive: true, force: true })
    })()
    return stopping
  }
}
