// A progress bar per download on a terminal; nothing at all when stderr is not a TTY, so
// piped output stays clean.
import { Presets, SingleBar } from 'cli-progress'
import type { ProgressUpdate } from '../index.js'
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

export interface CountView {
  /** One more download finished. */
  increment(): void
  stop(): void
}

/** A bar of finished downloads out of `total` (bench); nothing when `stream` is not a TTY. */
export function countView(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): CountView {
  if (!stream.isTTY) return { increment() {}, stop() {} }
  const bar = new SingleBar(
    { stream, format: `  ${label} {bar} {value}/{total}`, hideCursor: true, clearOnComplete: true, barsize: 30 },
    Presets.shades_classic,
  )
  bar.start(total, 0)
  return {
    increment() {
      bar.increment()
    },
    stop() {
      bar.stop()
    },
  }
}
