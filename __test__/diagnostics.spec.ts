// SPEC 12 diagnostics: the messages each download publishes on node:diagnostics_channel, their
// fields, and where they fall among the app's own callbacks and listeners. Channels are
// process-wide and ava runs a file's tests concurrently, so every test gives its host an appId
// of its own and watches only that appId.
import test from 'ava'
import type { ExecutionContext } from 'ava'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type {
  DownloadFail,
  DownloadFailMessage,
  DownloadHeadersMessage,
  DownloadStartMessage,
  DownloadSuccessMessage,
  Host,
} from '../src/index.js'
import { startContentServer } from './helpers/content-server.js'
import { makeHost } from './helpers/hosts.js'
import { closeAfter } from './helpers/server.js'
import type { DownloadOptions, RecordOptions, Success } from './helpers/record.js'

type MessageName = 'start' | 'headers' | 'success' | 'fail'
type Message = DownloadStartMessage | DownloadHeadersMessage | DownloadSuccessMessage | DownloadFailMessage

/** One thing that happened: a diagnostics message, or a call into the app. */
type Entry =
  | { kind: 'message'; name: MessageName; message: Message; inCall: boolean }
  | { kind: 'app'; name: 'headers' | 'progress' | 'success' | 'fail' | 'complete'; arg: unknown; inCall: boolean }

interface Timeline {
  entries: Entry[]
  /** Set while `downloadFile`/`download` is running, so entries can tell they came inside it. */
  inCall: boolean
  messages(name?: MessageName): Message[]
  /** Names in order, `message:<name>` or `app:<name>`, runs of progress collapsed. */
  order(): string[]
}

let nextAppId = 0

/** A host with an appId of its own, and a timeline of its messages (unsubscribed at teardown). */
async function observedHost(t: ExecutionContext, overrides: Parameters<typeof makeHost>[1] = {}) {
  const appId = `ttdiag${process.pid}x${nextAppId++}`
  const { host } = await makeHost(t, { appId, ...overrides })
  return { host, appId, timeline: watch(t, appId) }
}

function watch(t: ExecutionContext, appId: string): Timeline {
  const timeline: Timeline = {
    entries: [],
    inCall: false,
    messages: (name) =>
      timeline.entries.flatMap((e) => (e.kind === 'message' && (name === undefined || e.name === name) ? [e.message] : [])),
    order: () => {
      const out: string[] = []
      for (const e of timeline.entries) {
        const label = `${e.kind}:${e.name}`
        if (label === 'app:progress' && out.at(-1) === label) continue
        out.push(label)
      }
      return out
    },
  }
  for (const name of ['start', 'headers', 'success', 'fail'] as const) {
    const channel = `tt-download:download:${name}`
    const onMessage = (message: unknown): void => {
      if ((message as Message).appId !== appId) return
      timeline.entries.push({ kind: 'message', name, message: message as Message, inCall: timeline.inCall })
    }
    subscribe(channel, onMessage)
    t.teardown(() => unsubscribe(channel, onMessage))
  }
  return timeline
}

/** downloadFile with every callback and both listeners writing into the timeline. */
function downloadInto(
  timeline: Timeline,
  host: Host,
  options: RecordOptions,
  { listen = true }: { listen?: boolean } = {},
): { task: ReturnType<Host['downloadFile']>; done: Promise<Success | DownloadFail> } {
  let resolve!: (result: Success | DownloadFail) => void
  const done = new Promise<Success | DownloadFail>((r) => (resolve = r))
  const app = (name: Extract<Entry, { kind: 'app' }>['name']) => (arg: unknown) => {
    timeline.entries.push({ kind: 'app', name, arg, inCall: timeline.inCall })
    if (name === 'complete') resolve(arg as Success | DownloadFail)
  }
  timeline.inCall = true
  const task = host.downloadFile({ ...options, success: app('success'), fail: app('fail'), complete: app('complete') } as DownloadOptions)
  timeline.inCall = false
  if (listen) {
    task.onHeadersReceived(app('headers'))
    task.onProgressUpdate(app('progress'))
  }
  return { task, done }
}

/** What the app's `success` or `fail` received. */
function appArg(timeline: Timeline, name: 'success' | 'fail'): unknown {
  const entry = timeline.entries.find((e): e is Extract<Entry, { kind: 'app' }> => e.kind === 'app' && e.name === name)
  return entry?.arg
}

test("a success publishes start (inside the call), headers, then success right before the app's success", async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host, appId, timeline } = await observedHost(t)
  const url = server.url('/bytes/3000')
  await downloadInto(timeline, host, { url }).done
  t.deepEqual(timeline.order(), [
    'message:start',
    'message:headers',
    'app:headers',
    'app:progress',
    'message:success',
    'app:success',
    'app:complete',
  ])
  const [start, headers, success] = timeline.messages() as [DownloadStartMessage, DownloadHeadersMessage, DownloadSuccessMessage]
  t.true(timeline.entries[0]!.inCall, 'start is published inside downloadFile')
  t.false(
    timeline.entries.slice(1).some((e) => e.inCall),
    'nothing else is',
  )
  const taskId = start.taskId
  t.true(Number.isSafeInteger(taskId) && taskId > 0, `taskId ${taskId}`)
  t.deepEqual(start, { appId, taskId, url })
  t.deepEqual(headers, { appId, taskId, statusCode: 200 })
  const result = appArg(timeline, 'success') as Success
  t.deepEqual(Object.keys(success).sort(), ['appId', 'dataLength', 'profile', 'statusCode', 'taskId', 'url'])
  t.like(success, { appId, taskId, url, statusCode: 200, dataLength: 3000 })
  t.is(success.profile as unknown, result.profile, "the success result's own profile")
})

test('the headers message is published when the app has no listener: before success, from the outcome', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host, appId, timeline } = await observedHost(t)
  await downloadInto(timeline, host, { url: server.url('/status/404') }, { listen: false }).done
  t.deepEqual(timeline.order(), ['message:start', 'message:headers', 'message:success', 'app:success', 'app:complete'])
  const [start, headers, success] = timeline.messages() as [DownloadStartMessage, DownloadHeadersMessage, DownloadSuccessMessage]
  t.deepEqual(headers, { appId, taskId: start.taskId, statusCode: 404 })
  t.is(success.statusCode, 404)
})

test('enableProfile: false leaves profile out of the success message', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host, timeline } = await observedHost(t)
  await downloadInto(timeline, host, { url: server.url('/bytes/10'), enableProfile: false }).done
  const success = timeline.messages('success')[0] as DownloadSuccessMessage
  t.false(Object.hasOwn(success, 'profile'), JSON.stringify(Object.keys(success)))
  t.deepEqual(Object.keys(success).sort(), ['appId', 'dataLength', 'statusCode', 'taskId', 'url'])
})

test("a validation failure publishes start inside the call, then fail right before the app's fail; url as given", async (t) => {
  const { host, appId, timeline } = await observedHost(t)
  for (const url of ['not a url', 42]) {
    timeline.entries.length = 0
    await downloadInto(timeline, host, { url } as unknown as RecordOptions).done
    t.deepEqual(timeline.order(), ['message:start', 'message:fail', 'app:fail', 'app:complete'])
    t.deepEqual(
      timeline.entries.map((e) => e.inCall),
      [true, false, false, false],
      'start inside the call; fail later, with the callback',
    )
    const [start, fail] = timeline.messages() as [DownloadStartMessage, DownloadFailMessage]
    const appFail = appArg(timeline, 'fail') as DownloadFail
    t.deepEqual(start, { appId, taskId: start.taskId, url })
    t.deepEqual(fail, { appId, taskId: start.taskId, url, errNo: 121599, errMsg: `downloadFile:fail url is invalid, url == ${url}` })
    t.is(fail.errMsg, appFail.errMsg)
  }
})

test('download() publishes the same messages; a bad signal is a validation failure published inside the call', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host, appId, timeline } = await observedHost(t)
  const url = server.url('/bytes/10')
  await host.download({ url })
  t.deepEqual(timeline.order(), ['message:start', 'message:headers', 'message:success'])

  timeline.entries.length = 0
  timeline.inCall = true
  const rejected = host.download({ url, signal: 'stop' as unknown as AbortSignal })
  timeline.inCall = false
  await t.throwsAsync(rejected, { message: /parameter\.signal should be AbortSignal/ })
  t.deepEqual(timeline.order(), ['message:start', 'message:fail'])
  t.true(timeline.entries.every((e) => e.inCall))
  const [start, fail] = timeline.messages() as [DownloadStartMessage, DownloadFailMessage]
  t.like(fail, { appId, taskId: start.taskId, url, errNo: 121599 })
})

test("an abort publishes fail 121522 right before the app's fail, after the head that had arrived", async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host, appId, timeline } = await observedHost(t)
  const url = server.url('/slow/100000?delayMs=5000&chunks=2')
  const { task, done } = downloadInto(timeline, host, { url })
  task.onHeadersReceived(() => task.abort())
  await done
  t.deepEqual(timeline.order(), ['message:start', 'message:headers', 'app:headers', 'message:fail', 'app:fail', 'app:complete'])
  const [start, , fail] = timeline.messages() as [DownloadStartMessage, DownloadHeadersMessage, DownloadFailMessage]
  t.deepEqual(fail, { appId, taskId: start.taskId, url, errNo: 121522, errMsg: 'downloadFile:fail download file abort' })
})

test('an abort before any head publishes start then fail, no headers', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host, timeline } = await observedHost(t)
  const { task, done } = downloadInto(timeline, host, { url: server.url('/hang') })
  setTimeout(() => task.abort(), 100)
  await done
  t.deepEqual(timeline.order(), ['message:start', 'message:fail', 'app:fail', 'app:complete'])
  t.is((timeline.messages('fail')[0] as DownloadFailMessage).errNo, 121522)
})

test('a fail after the head (121521) publishes headers, then fail', async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host, timeline } = await observedHost(t, { maxFileSize: 1000 })
  await downloadInto(timeline, host, { url: server.url('/bytes/5000') }, { listen: false }).done
  t.deepEqual(timeline.order(), ['message:start', 'message:headers', 'message:fail', 'app:fail', 'app:complete'])
  t.is((timeline.messages('headers')[0] as DownloadHeadersMessage).statusCode, 200)
  t.is((timeline.messages('fail')[0] as DownloadFailMessage).errNo, 121521)
})

test('options that are not an object publish nothing, from downloadFile or download', async (t) => {
  const { host, timeline } = await observedHost(t)
  for (const options of [undefined, null, 'https://files.test/a', 42]) {
    host.downloadFile(options as unknown as DownloadOptions)
    await t.throwsAsync(host.download(options as unknown as DownloadOptions))
  }
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.deepEqual(timeline.entries, [])
})

test('taskIds are unique in the process, across hosts', async (t) => {
  const a = await observedHost(t)
  const b = await observedHost(t)
  const runs = []
  for (let i = 0; i < 5; i++) {
    for (const { host, timeline } of [a, b]) runs.push(downloadInto(timeline, host, { url: `bad url ${i}` }).done)
  }
  await Promise.all(runs)
  const ids = [a, b].flatMap(({ timeline }) => timeline.messages('start').map((m) => m.taskId))
  t.is(ids.length, 10)
  t.is(new Set(ids).size, 10, `taskIds ${ids.join(', ')}`)
  for (const { timeline } of [a, b]) {
    const starts = timeline.messages('start').map((m) => m.taskId)
    const fails = timeline.messages('fail').map((m) => m.taskId)
    t.deepEqual([...fails].sort(), [...starts].sort(), "each fail carries its start's taskId")
  }
})

test("a download the egress policy refused: the fail message lists the refused addresses, the app's fail object does not", async (t) => {
  const server = closeAfter(t, await startContentServer({ mode: 'http' }))
  const { host, timeline } = await observedHost(t, { egress: {} })
  await downloadInto(timeline, host, { url: server.url('/bytes/10') }).done
  const fail = timeline.messages('fail')[0] as DownloadFailMessage
  t.is(fail.errNo, 121526)
  t.is(fail.errMsg, 'downloadFile:fail connection error: address not allowed')
  t.deepEqual(fail.refused, ['127.0.0.1'])
  const appFail = appArg(timeline, 'fail') as DownloadFail
  t.deepEqual(Object.keys(appFail).sort(), ['errMsg', 'errNo', 'errorCode', 'errorType'])
  t.is(server.connections, 0)
})

test('other failures carry no refused field', async (t) => {
  const { host, timeline } = await observedHost(t)
  await downloadInto(timeline, host, { url: 'ftp://files.test/x' }).done
  t.false(Object.hasOwn(timeline.messages('fail')[0]!, 'refused'))
})
