#!/usr/bin/env node
// The `tt-download` command. Exit status: 0 success, 1 a failed download, 2 bad usage.
import { HELP_OPTION, parse, UsageError } from './args.js'
import { BENCH_USAGE, runBench } from './bench.js'
import { DEMO_USAGE, runDemo } from './demo.js'
import { GET_USAGE, runGet } from './get.js'

const USAGE = `Usage: tt-download <command> [options]

tt.downloadFile (the Douyin/Toutiao mini-program download API) for host backends.

Commands:
  demo      download a few files from an embedded local HTTPS server and print
            each result and its profile
  get       download one URL; print the success or fail object and the stored file
  bench     download one URL many times; print throughput, latency and phase medians

Options:
  -h, --help  show this help (also: tt-download <command> --help)

Exit status: 0 success, 1 a failed download, 2 bad usage.
`

interface Command {
  usage: string
  /** Resolves to the exit status; throws UsageError for bad usage. */
  run(args: string[]): Promise<number>
}

const COMMANDS: Record<string, Command> = {
  demo: {
    usage: DEMO_USAGE,
    async run(args) {
      const { values, positionals } = parse(args, HELP_OPTION)
      if (values.help === true) {
        process.stdout.write(DEMO_USAGE)
        return 0
      }
      if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`)
      return runDemo()
    },
  },
  get: { usage: GET_USAGE, run: runGet },
  bench: { usage: BENCH_USAGE, run: runBench },
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === '-h' || name === '--help') {
    process.stdout.write(USAGE)
    return 0
  }
  const command = name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  if (command === undefined) {
    process.stderr.write(name === undefined ? 'tt-download: missing <command>\n\n' : `tt-download: unknown command '${name}'\n\n`)
    process.stderr.write(USAGE)
    return 2
  }
  try {
    return await command.run(rest)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`tt-download ${name}: ${error.message}\n\n${command.usage}`)
    return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    console.error('tt-download:', error)
    process.exitCode = 1
  },
)
