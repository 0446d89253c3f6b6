// node:http / node:https with a keep-alive Agent, the response piped to a file.
import http from 'node:http'
import https from 'node:https'
import { createWriteStream, readFileSync } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { join } from 'node:path'

export default async function setup(job) {
  const secure = job.url.startsWith('https:')
  const mod = secure ? https : http
  const agent = new mod.Agent({
    keepAlive: true,
    maxSockets: job.concurrency,
    ...(secure ? { ca: readFileSync(job.caFile, 'utf8') } : {}),
  })
  const one = (i) =>
    new Promise((resolve, reject) => {
      const req = mod.get(job.url, { agent }, (res) => {
        if (res.statusCode !== 200) {
          res.resume()
          reject(new Error(`status ${res.statusCode}`))
          return
        }
        pipeline(res, createWriteStream(join(job.outDir, `${i}.bin`))).then(resolve, reject)
      })
      req.on('error', reject)
    })
  return { one, close: async () => agent.destroy() }
}
