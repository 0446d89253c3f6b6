// got 14 `got.stream()` piped to a file (keep-alive agents, no retries, no decompression).
import got from 'got'
import http from 'node:http'
import https from 'node:https'
import { createWriteStream, readFileSync } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { join } from 'node:path'

export default async function setup(job) {
  const secure = job.url.startsWith('https:')
  const agent = secure
    ? { https: new https.Agent({ keepAlive: true, maxSockets: job.concurrency }) }
    : { http: new http.Agent({ keepAlive: true, maxSockets: job.concurrency }) }
  const client = got.extend({
    agent,
    retry: { limit: 0 },
    decompress: false,
    ...(secure ? { https: { certificateAuthority: readFileSync(job.caFile, 'utf8') } } : {}),
  })
  const one = (i) => pipeline(client.stream(job.url), createWriteStream(join(job.outDir, `${i}.bin`)))
  return {
    one,
    close: async () => {
      agent.http?.destroy()
      agent.https?.destroy()
    },
  }
}
