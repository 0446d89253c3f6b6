// The report's sections in order, each with its tables and the charts it shows.
import { peerOrder } from './rounds.mjs'
import { largeFilesReport } from './sections/large.mjs'
import { smallFilesReport } from './sections/small.mjs'
import { smallCpuReport } from './sections/small-cpu.mjs'
import { smallH2Report } from './sections/small-h2.mjs'
import { smallWarmReport } from './sections/small-warm.mjs'
import { whereTimeGoesReport } from './sections/where-time-goes.mjs'
import { idleReport } from './sections/idle.mjs'
import { pairsReport } from './sections/pairs.mjs'

/**
 * Sections ({ title, text, tables, charts: file names }) and charts ({ file, svg }) for the
 * scenarios `results` holds; `pairScenarios` is run.mjs's PAIR_SCENARIOS.
 */
export function tablesAndCharts({ opts, results, pairScenarios }) {
  const peers = peerOrder(opts.peers)
  const input = { opts, results, peers }
  const parts = []
  if (Object.keys(results.large).length) parts.push(largeFilesReport(input))
  if (Object.keys(results.small).length) {
    parts.push(smallFilesReport(input), smallCpuReport(input))
    if (peers.includes('tt')) parts.push(whereTimeGoesReport(input))
  }
  if (Object.keys(results.smallH2 ?? {}).length) parts.push(smallH2Report(input))
  parts.push(smallWarmReport(input))
  if (results.idle) parts.push(idleReport(input))
  parts.push(pairsReport({ ...input, pairScenarios }))
  return { sections: parts.flatMap((p) => p.sections), charts: parts.flatMap((p) => p.charts) }
}
