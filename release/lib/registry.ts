// A private npm registry for one run: verdaccio on 127.0.0.1 with no uplink, so every package a
// fresh project installs (tt-download, its platform packages and its runtime dependencies) comes
// from what this run published, and nothing is fetched from the network during the checks.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { ROOT } from './targets.js'

export interface Registry {
  url: string
  /** An npmrc that points at the registry and holds the publishing token. */
  npmrc: string
  /** Stops verdaccio by its PID and waits for it to exit. */
  stop(): Promise<void>
}

const VERDACCIO = join(ROOT, 'release', 'node_modules', 'verdaccio', 'bin', 'verdaccio')
const START_TIMEOUT_MS = 60_000

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

function config(dir: string): string {
  // JSON is YAML: no YAML writer needed.
  return JSON.stringify({
    storage: join(dir, 'storage'),
    auth: { htpasswd: { file: join(dir, 'htpasswd'), max_users: 1 } },
    uplinks: {},
    packages: { '**': { access: '$all', publish: '$authenticated' } },
    log: { type: 'stdout', format: 'pretty', level: 'warn' },
    // The platform packages carry a release addon of about 10 MiB each.
    max_body_size: '200mb',
  })
}

export async function startRegistry(dir: string): Promise<Registry> {
  await mkdir(join(dir, 'storage'), { recursive: true })
  const configFile = join(dir, 'config.yaml')
  await writeFile(configFile, config(dir))
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/`
  const child = spawn(process.execPath, [VERDACCIO, '--config', configFile, '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: dir },
  })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const stop = () => stopChild(child)
  try {
    await waitUntilUp(url, child, () => output)
    const token = await addUser(url)
    const npmrc = join(dir, 'npmrc')
    await writeFile(npmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`)
    return { url, npmrc, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

async function waitUntilUp(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited (${child.exitCode}): ${output()}`)
    try {
      if ((await fetch(new URL('-/ping', url))).ok) return
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`verdaccio did not answer on ${url} within ${START_TIMEOUT_MS} ms: ${output()}`)
}

/** Registers the one publishing user (what `npm adduser` does) and returns its token. */
async function addUser(url: string): Promise<string> {
  const name = 'release'
  const response = await fetch(new URL(`-/user/org.couchdb.user:${name}`, url), {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password: 'release-test', type: 'user', roles: [], date: new Date().toISOString() }),
  })
  const body = (await response.json()) as { token?: string }
  if (!response.ok || body.token === undefined) throw new Error(`verdaccio refused the user: ${JSON.stringify(body)}`)
  return body.token
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000)
    child.once('exit', () => {
      clearTimeout(kill)
      resolve()
    })
    child.kill('SIGTERM')
  })
}
