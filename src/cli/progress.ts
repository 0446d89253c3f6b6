// A progress bar per download on a terminal; nothing at all when stderr is not a TTY, so
// piped output stays clean.
import { Presets, SingleBar } from 'cli-progress'
import type { ProgressUpdate } from '../types.js'
import { formatBytes } from './format.js'

export interface ProgressView {
  update(update: ProgressUpdate): void
  stop(): void
}

export function progressView(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressView {
  if (!stream.isTTY) return { update() {}, stop() {} }
  const bar = new SingleBar(
    {
      stream,
      format: `  ${label} {bar} {percentage}% | {bytes}`,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 30,
    },
    Presets.shades_classic,
  )
  // The bar runs on the library's own 0-100 `progress`, so an unknown length shows 0% until
  // the final event, exactly as a mini-program would see it.
  bar.start(100, 0, { bytes: '' })
  return {
    update({ progress, totalBytesWritten, totalBytesExpectedToWrite }) {
      const expected = totalBytesExpectedToWrite >= 0 ? formatBytes(totalBytesExpectedToWrite) : '?'
      bar.update(progress, { bytes: `${formatBytes(totalBytesWritten)} / ${expected}` })
    },
    stop() {
      bar.stop()
    },
  }
}
