// Everything the release scripts download or build is kept here between runs on one machine, so
// a second `npm run test:release` fetches nothing and rebuilds only what changed.
import { homedir } from 'node:os'
import { join } from 'node:path'

export const CACHE = process.env.TT_DOWNLOAD_CACHE ?? join(homedir(), '.cache', 'tt-download')

export const cachePath = (...parts: string[]): string => join(CACHE, ...parts)
