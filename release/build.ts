// npm run build:release -- --target <triple> [--target <triple> ...]
// Builds the release addon of each target (all of package.json's napi.targets when none is
// named) into npm/<platform>/, with the glibc baseline on gnu targets, and checks it.
import { parseArgs } from 'node:util'
import { buildRelease } from './lib/build.js'
import { checkAddon } from './lib/checks.js'
import { shippedTargets, targetOf } from './lib/targets.js'
import { timed } from './lib/stages.js'

const { values } = parseArgs({ options: { target: { type: 'string', multiple: true } } })
const targets = values.target?.map(targetOf) ?? shippedTargets()
for (const target of targets) {
  const addon = await timed(`build ${target.triple}`, () => buildRelease(target))
  console.log(`build:release: ${addon}: ${await checkAddon(target, addon)}`)
}
