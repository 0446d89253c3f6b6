// `tt-download get <url>`: one tt.downloadFile through a host, the success or fail object on
// stdout, a progress bar on stderr when it is a terminal.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { createHost, DownloadError, now, phasesOf } from '../index.js'
import type { DownloadSuccess, Host } from '../index.js'
import { CLI_APP_ID, HELP_OPTION, HOST_OPTIONS, HOST_OPTIONS_USAGE, hostConfigOf, intOption, oneUrl, parse, UsageError } from './args.js'
import { watchRefusals } from './egress.js'
import { fields, formatBytes, formatMs, profileFields } from './format.js'
import { progressView } from './progress.js'
import { proxyInUse, proxyNotice } from './proxy.js'

export const GET_USAGE = `Usage: tt-download get <url> [options]

Downloads <url> with tt.downloadFile through a host and prints the success or fail object
and, on success, the real path of the stored file. A progress bar goes to stderr when it
is a terminal. A download the egress policy refused names the refused address on stderr,
with the --allow that would allow it.

Options:
  --file-path P        save to this ttfile:// path (ttfile://user/...), the filePath
                       option; default: a generated ttfile://temp/... name
  --data-dir D         the host's dataDir (its sandbox root); default: a new directory
                       under the OS temp dir, kept when the download succeeds (the file is
                       in it) and removed when it fails
${HOST_OPTIONS_USAGE}  --timeout MS         the download's timeout, ms (default 60000)
  --json               print the result as one JSON document: the success object plus
                       realPath (the stored file on disk), or the fail object
  -h, --help           show this help

Exit status: 0 success, 1 the download failed, 2 bad usage.
`

const OPTIONS = {
  ...HELP_OPTION,
  ...HOST_OPTIONS,
  'file-path': { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
} as const

/** The default timeout of a host (networkTimeout, maxTimeout), ms. */
const DEFAULT_TIMEOUT = 60_000

export async function runGet(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, OPTIONS)
  if (values.help === true) {
    process.stdout.write(GET_USAGE)
    return 0
  }
  const url = oneUrl(positionals)
  const hostConfig = hostConfigOf(values)
  // Read now, as the host reads `proxy: 'env'` when it is created just below.
  const proxyUse = proxyInUse(url, hostConfig.proxy, process.env)
  const timeout = intOption('timeout', values.timeout, DEFAULT_TIMEOUT, 1, 2_147_483_647)
  const json = values.json === true

  const tempDir = values['data-dir'] === undefined
  const dataDir = values['data-dir'] ?? mkdtempSync(join(tmpdir(), 'tt-download-get-'))
  let host: Host
  try {
    // A timeout over the host's default cap is what the user asked for: raise the cap.
    host = createHost({ appId: CLI_APP_ID, dataDir, ...hostConfig, maxTimeout: Math.max(timeout, DEFAULT_TIMEOUT) })
  } catch (error) {
    if (tempDir) rmSync(dataDir, { recursive: true, force: true })
    // createHost's TypeErrors are about the options given here (a malformed --domain...).
    if (error instanceof TypeError) throw new UsageError(error.message)
    throw error
  }

  if (proxyUse !== undefined) process.stderr.write(proxyNotice('get', proxyUse))
  const refusals = watchRefusals(CLI_APP_ID)
  // Ctrl-C aborts the download the way the API does (fail 121522, nothing left behind).
  const abort = new AbortController()
  const onSigint = () => abort.abort()
  process.once('SIGINT', onSigint)
  const bar = progressView(labelOf(url))
  try {
    const filePath = values['file-path']
    const result: DownloadSuccess = await host.download({
      url,
      timeout,
      signal: abort.signal,
      onProgress: (update) => bar.update(update),
      ...(filePath === undefined ? {} : { filePath }),
    })
    const finishedAt = now()
    bar.stop()
    const stored = result.tempFilePath ?? result.filePath
    const realPath = host.realPath(stored)
    if (json) {
      process.stdout.write(JSON.stringify({ ...result, realPath }) + '\n')
    } else {
      printSuccess(result, stored, realPath, finishedAt, tempDir ? dataDir : undefined)
    }
    return 0
  } catch (error) {
    bar.stop()
    if (!(error instanceof DownloadError)) throw error
    if (tempDir) rmSync(dataDir, { recursive: true, force: true })
    const fail = error.toJSON()
    const hint = refusals.hint('get')
    if (hint !== undefined) process.stderr.write(hint)
    if (json) {
      process.stdout.write(JSON.stringify(fail) + '\n')
    } else {
      process.stdout.write('fail\n' + fields(Object.entries(fail).map(([key, value]) => [key, String(value)])) + '\n')
    }
    return 1
  } finally {
    refusals.stop()
    process.off('SIGINT', onSigint)
    await host.close()
  }
}

function printSuccess(
  result: DownloadSuccess,
  stored: string,
  realPath: string,
  finishedAt: number,
  tempDataDir: string | undefined,
): void {
  const p = result.profile
  const entries: Array<[string, string]> = [
    ['errMsg', result.errMsg],
    ['statusCode', String(result.statusCode)],
    [result.tempFilePath !== undefined ? 'tempFilePath' : 'filePath', stored],
    ['dataLength', `${result.dataLength} (${formatBytes(result.dataLength)})`],
    ...Object.entries(result.header).map(([name, value]): [string, string] => [`header ${name}`, value]),
  ]
  if (p !== undefined) {
    const phases = phasesOf(p)
    entries.push(...profileFields(p, finishedAt), [
      'phases',
      `dns ${formatMs(phases.dns)}, connect ${formatMs(phases.connect)}, tls ${formatMs(phases.tls)}, ` +
        `first byte ${formatMs(phases.firstByte)}, transfer ${formatMs(phases.transfer)} (ms)`,
    ])
  }
  if (tempDataDir !== undefined) entries.push(['dataDir', `${tempDataDir} (temporary, kept)`])
  process.stdout.write('success\n' + fields(entries) + '\n')
  // Last and alone on its line, so `tail -n 1` gives the path.
  process.stdout.write(`${realPath}\n`)
}

/** The progress bar's label: the URL's last path segment. */
function labelOf(url: string): string {
  try {
    return basename(new URL(url).pathname) || 'download'
  } catch {
    return 'download'
  }
}
