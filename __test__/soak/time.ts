// Waiting in the soak: a plain sleep, and a bounded wait that leaves no timer behind (the end
// of the run checks that nothing keeps the process alive).

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** True if `promise` settles within `ms`; the timer is cleared either way (no handle lingers). */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  try {
    return await Promise.race([promise.then(() => true), late])
  } finally {
    clearTimeout(timer)
  }
}
