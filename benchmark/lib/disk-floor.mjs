import { fmt } from './report.mjs'

/** The disk floor measured at the start and end of a run (results.disk), in words. */
export function diskFloorText(disk) {
  if (!disk?.start) return 'not measured'
  const part = (x) =>
    `create + write 1 KiB + close ${fmt(x.createUs, 0)} µs per file, with a rename into another directory ${fmt(x.createRenameUs, 0)} µs`
  return `${part(disk.start)} (before the runs)${disk.end ? `; ${part(disk.end)} (after)` : ''}`
}
