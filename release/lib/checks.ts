// What every shipped addon must be: built for its target's CPU, and on gnu targets needing no
// glibc symbol newer than the baseline (the point of the zig link: an addon that needs 2.34
// cannot load on Ubuntu 20.04 or Amazon Linux 2).
import { compareVersions, highestGlibc, machineMatches, neededLibraries } from './elf.js'
import { GLIBC_BASELINE } from './targets.js'
import type { Target } from './targets.js'

/** A one-line description of the checked addon; throws when a rule is broken. */
export async function checkAddon(target: Target, file: string): Promise<string> {
  if (!(await machineMatches(file, target.arch))) throw new Error(`${file} is not an ${target.arch} ELF file`)
  const glibc = await highestGlibc(file)
  const needed = await neededLibraries(file)
  if (target.libc === 'glibc') {
    if (glibc === undefined) throw new Error(`${file} needs no glibc symbol: not a gnu build`)
    if (compareVersions(glibc, GLIBC_BASELINE) > 0) {
      throw new Error(`${file} needs GLIBC_${glibc}, above the ${GLIBC_BASELINE} baseline`)
    }
    return `${target.arch}, highest glibc symbol GLIBC_${glibc} (baseline ${GLIBC_BASELINE})`
  }
  if (glibc !== undefined || needed.some((lib) => /^libc\.so\.6$|^ld-linux/.test(lib))) {
    throw new Error(`${file} links against glibc (${needed.join(', ')}): not a musl build`)
  }
  return `${target.arch}, musl, needs ${needed.join(', ') || 'nothing'}`
}
