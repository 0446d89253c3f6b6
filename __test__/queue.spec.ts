// The host queue (SPEC 2, issue 6): at most `maxConcurrent` downloads of a host run at once,
// counted on the server side; the rest wait and start in FIFO order; they are never rejected
// for being over the limit; abort() takes a waiting task out of the queue with 121522 before it
// ever reaches the server. Release-mode hosts against the TLS hold server.
import test from 'ava'
import { assertFailedRun, assertSucceededRun } from './helpers/assert.js'
import { releaseHost } from './helpers/hosts.js'
import { record } from './helpers/record.js'
import type { Run } from './helpers/record.js'
import { closeAfter } from './helpers/server.js'
import { sleep, startHoldServer, waitFor } from './helpers/policy-servers.js'

test.serial('at most maxConcurrent downloads are in flight at the server at once', async (t) => {
  const server = closeAfter(t, await startHoldServer())
  const { host } = await releaseHost(t, { domains: [server.url('')], maxConcurrent: 2 })
  const runs = Array.from({ length: 6 }, (_, i) => record(host, { url: server.url(`/hold/${i}?ms=250`) }))
  await Promise.all(runs.map((run) => run.done))
  for (const run of runs) assertSucceededRun(t, run)
  t.is(server.arrivals.length, 6)
  t.is(server.maxInFlight(), 2, 'the server saw two requests at once, never more')
})

test.serial('more downloads than maxConcurrent are queued, never rejected', async (t) => {
  const server = closeAfter(t, await startHoldServer())
  const { host } = await releaseHost(t, { domains: [server.url('')], maxConcurrent: 1 })
  const runs = Array.from({ length: 25 }, (_, i) => record(host, { url: server.url(`/hold/${i}?ms=5`) }))
  await Promise.all(runs.map((run) => run.done))
  for (const run of runs) assertSucceededRun(t, run)
  t.is(server.arrivals.length, 25)
  t.is(server.maxInFlight(), 1)
})

test.serial('queued downloads start in the order downloadFile was called', async (t) => {
  const server = closeAfter(t, await startHoldServer())
  const { host } = await releaseHost(t, { domains: [server.url('')], maxConcurrent: 1 })
  const names = ['a', 'b', 'c', 'd', 'e', 'f']
  const completed: string[] = []
  const runs = names.map((name) => {
    const run = record(host, { url: server.url(`/hold/${name}?ms=20`) })
    void run.done.then(() => completed.push(name))
    return run
  })
  await Promise.all(runs.map((run) => run.done))
  for (const run of runs) assertSucceededRun(t, run)
  t.deepEqual(
    server.paths(),
    names.map((name) => `/hold/${name}`),
    'the server saw them in call order',
  )
  t.deepEqual(completed, names)
  // The profile's queue times say the same: each waited until the previous one was done.
  const queueEnds = runs.map((run) => run.success?.profile?.queueEnd as number)
  for (let i = 1; i < queueEnds.length; i++) t.true(queueEnds[i - 1]! < queueEnds[i]!, `queueEnd ${i}`)
})

test.serial('abort() removes a waiting task with 121522 at once; it never reaches the server and the queue moves on', async (t) => {
  const server = closeAfter(t, await startHoldServer())
  const { host } = await releaseHost(t, { domains: [server.url('')], maxConcurrent: 1 })
  const running = record(host, { url: server.url('/hold/running?ms=400') })
  const waiting = record(host, { url: server.url('/hold/waiting?ms=10') })
  const next = record(host, { url: server.url('/hold/next?ms=10') })
  await waitFor(() => server.arrivals.length === 1, 'the first download to reach the server')
  const seen = waiting.events.length
  waiting.task.abort()
  t.is(waiting.events.length, seen, 'abort() calls nothing synchronously')
  await waiting.done
  assertFailedRun(t, waiting, 121522, 'download file abort', 'U')
  t.is(running.complete, undefined, 'the waiting task failed while the running one still ran')
  await Promise.all([running.done, next.done])
  assertSucceededRun(t, running)
  assertSucceededRun(t, next)
  t.deepEqual(server.paths(), ['/hold/running', '/hold/next'], 'the aborted task never reached the server')
  // Aborting it again, now that it has ended, does nothing.
  waiting.task.abort()
  await sleep(20)
  t.is(waiting.events.filter((e) => e.type === 'complete').length, 1)
})

test.serial('a host with maxConcurrent 3 runs three at once, not two and not four', async (t) => {
  const server = closeAfter(t, await startHoldServer())
  const { host } = await releaseHost(t, { domains: [server.url('')], maxConcurrent: 3 })
  const runs: Run[] = Array.from({ length: 7 }, (_, i) => record(host, { url: server.url(`/hold/${i}?ms=400`) }))
  await waitFor(() => server.arrivals.length >= 3, 'three requests at the server')
  await sleep(60)
  t.is(server.inFlight(), 3, 'three in flight while the others wait')
  await Promise.all(runs.map((run) => run.done))
  for (const run of runs) assertSucceededRun(t, run)
  t.is(server.maxInFlight(), 3)
})
