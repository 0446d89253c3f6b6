// Bad usage: main prints the message and the command's usage on stderr and exits with 2. In a
// module of its own so every option parser can throw it without importing args.ts.
export class UsageError extends Error {
  override name = 'UsageError'
}
