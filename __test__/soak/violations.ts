// Everything the soak found wrong, by kind; the run passes only when this stays empty.

export const violations = new Map<string, string[]>()

export function violation(kind: string, detail: string): void {
  const list = violations.get(kind) ?? []
  list.push(detail)
  violations.set(kind, list)
}
