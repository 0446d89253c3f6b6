// The life of a test server: every socket it accepted (or dialled) and every timer it set are
// tracked, so close() can end them all. server.close() alone waits for keep-alive connections
// and pending timers, which would hold a test's teardown until the client gives up.
import type { ExecutionContext } from 'ava'
import type { Server, Socket } from 'node:net'

export interface Tracked {
  /** True once close() was called: writes and timers stop there. */
  readonly closed: boolean
  /**
   * Adds a socket the server did not accept itself (a proxy's upstream): destroyed by close()
   * and dropConnections(), forgotten once it closes.
   */
  track(socket: Socket): void
  /** setTimeout that close() cancels; `fn` never runs after close(). */
  later(ms: number, fn: () => void): void
  /** Destroys every open connection; the server keeps listening. */
  dropConnections(): void
  /** Stops listening, cancels the timers and destroys the connections; every call gets the same promise. */
  close(): Promise<void>
}

/**
 * Tracks `server`'s connections from now on ('connection' gives the TCP socket under TLS too,
 * the one to destroy).
 */
export function trackServer(server: Server): Tracked {
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let closing: Promise<void> | undefined
  const track = (socket: Socket): void => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  }
  const dropConnections = (): void => {
    for (const socket of sockets) socket.destroy()
  }
  server.on('connection', track)
  return {
    get closed() {
      return closing !== undefined
    },
    track,
    later(ms, fn) {
      if (closing !== undefined) return
      const timer = setTimeout(() => {
        timers.delete(timer)
        if (closing === undefined) fn()
      }, ms)
      timers.add(timer)
    },
    dropConnections,
    close() {
      closing ??= (() => {
        for (const timer of timers) clearTimeout(timer)
        timers.clear()
        const done = new Promise<void>((resolve) => server.close(() => resolve()))
        dropConnections()
        return done
      })()
      return closing
    },
  }
}

/** Registers `server.close()` for the test's teardown and returns the server. */
export function closeAfter<T extends { close(): Promise<void> }>(t: ExecutionContext, server: T): T {
  t.teardown(() => server.close())
  return server
}

/** `scheme://hostname:port`, and the absolute URL of a path there. */
export function originOf(scheme: string, hostname: string, port: number): { origin: string; url(path?: string): string } {
  const origin = `${scheme}://${hostname}:${port}`
  return { origin, url: (path = '/') => origin + path }
}

/** Largest request head the test servers buffer before they give up on a connection. */
export const MAX_HEAD = 64 * 1024

/**
 * Buffers what `socket` sends until the blank line that ends a request head, then calls
 * `onHead` once with the head (latin1, without the blank line) and the bytes after it. A
 * connection that sends more than MAX_HEAD without one is destroyed.
 */
export function readHead(socket: Socket, onHead: (head: string, rest: Buffer) => void): void {
  let buffered = Buffer.alloc(0)
  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk])
    const end = buffered.indexOf('\r\n\r\n')
    if (end === -1) {
      if (buffered.length > MAX_HEAD) socket.destroy()
      return
    }
    socket.off('data', onData)
    onHead(buffered.subarray(0, end).toString('latin1'), buffered.subarray(end + 4))
  }
  socket.on('data', onData)
}
