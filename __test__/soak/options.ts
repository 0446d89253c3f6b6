// The soak's command line: how long, how many, how wide, and with which seed.

export interface Options {
  seconds: number
  count: number
  seed: number
  concurrency: number
  hosts: number
}

export function parseArgs(argv: string[]): Options & { report?: string } {
  const opts: Options = {
    seconds: 180,
    count: 100_000,
    seed: Math.floor(Math.random() * 2 ** 31),
    concurrency: 32,
    hosts: 8,
  }
  let report: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!
    const value = argv[i + 1]
    const key = name.replace(/^--/, '') as keyof Options
    if (name === '--report' && value !== undefined) {
      report = value
      i++
      continue
    }
    if (!name.startsWith('--') || !(key in opts) || value === undefined) {
      console.error(`soak: bad argument ${name}; use --seconds N --count N --seed S --concurrency C --hosts H --report FILE`)
      process.exit(2)
    }
    const n = Number(value)
    if (!Number.isInteger(n) || n < (key === 'seed' ? 0 : 1)) {
      console.error(`soak: ${name} needs a positive integer, got ${value}`)
      process.exit(2)
    }
    opts[key] = n
    i++
  }
  return report === undefined ? opts : { ...opts, report }
}
