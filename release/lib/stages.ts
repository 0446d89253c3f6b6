// Each stage of the release scripts says when it starts and how long it took, so a slow CI run
// shows where its minutes went.
export async function timed<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now()
  console.log(`[release] ${name} ...`)
  try {
    const result = await work()
    console.log(`[release] ${name}: done in ${seconds(started)}`)
    return result
  } catch (error) {
    console.log(`[release] ${name}: FAILED after ${seconds(started)}`)
    throw error
  }
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`
}
