#!/usr/bin/env node
// The `tt-download` command. Exit status: 0 success, 1 a failed download, 2 bad usage.
import { parseArgs } from 'node:util'
import { DEMO_USAGE, runDemo } from './demo.js'

const USAGE = `Usage: tt-download <command> [options]

tt.downloadFile (the Douyin/Toutiao mini-program download API) for host backends.

Commands:
  demo      download a few files from an embedded local HTTPS server and print
            each result and its profile

Options:
  -h, --help  show this help (also: tt-download <command> --help)
`

interface Command {
  usage: string
  run(): Promise<number>
}

const COMMANDS: Record<string, Command> = {
  demo: { usage: DEMO_USAGE, run: runDemo },
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === '-h' || name === '--help') {
    process.stdout.write(USAGE)
    return 0
  }
  const command = name === undefined ? undefined : Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  if (command === undefined) {
    if (name !== undefined) process.stderr.write(`tt-download: unknown command '${name}'\n\n`)
    process.stderr.write(USAGE)
    return 2
  }
  let help: boolean | undefined
  try {
    const options = { help: { type: 'boolean', short: 'h' } } as const
    help = parseArgs({ args: rest, options, strict: true, allowPositionals: false }).values.help
  } catch (error) {
    process.stderr.write(`tt-download ${name}: ${(error as Error).message}\n\n${command.usage}`)
    return 2
  }
  if (help === true) {
    process.stdout.write(command.usage)
    return 0
  }
  return command.run()
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
