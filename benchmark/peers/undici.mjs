// undici 7 `stream()` through an Agent, the body written to a file stream.
import { Agent, stream } from 'undici'
import { createWriteStream, readFileSync } from 'node:fs'
import { once } from 'node:events'
import { join } from 'node:path'

export default async function setup(job) {
  const secure = job.url.startsWith('https:')
  const dispatcher = new Agent({
    connections: job.concurrency,
    ...(secure ? { connect: { ca: readFileSync(job.caFile, 'utf8') } } : {}),
  })
  const one = async (i) => {
    let file
    await stream(job.url, { method: 'GET', dispatcher }, ({ statusCode }) => {
      if (statusCode !== 200) throw new Error(`status ${statusCode}`)
      file = createWriteStream(join(job.outDir, `${i}.bin`))
      return file
    })
    // stream() resolves once the writable finished; wait for the descriptor to be closed too.
    if (!file.closed) await once(file, 'close')
  }
  return { one, close: () => dispatcher.close() }
}
