// HTTP field syntax (RFC 9110 section 5) shared by request-header validation and the header
// objects handed to callbacks.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** A field name must be a token. */
export function isFieldName(name: string): boolean {
  return TOKEN.test(name)
}

/**
 * A field value may hold HTAB, SP, visible ASCII and obs-text (0x80-0xFF); CR, LF, NUL, the
 * other controls, DEL and characters beyond Latin-1 are refused (the same set as Node's own
 * `checkInvalidHeaderChar`).
 */
export function isFieldValue(value: string): boolean {
  return !/[^\t\x20-\x7e\x80-\xff]/.test(value)
}

/**
 * Response headers as callbacks see them: names lower-case, repeats joined with `', '`.
 * `flat` is the engine's list: name, value, name, value...
 */
export function headerObject(flat: readonly string[] | undefined): Record<string, string> {
  const result: Record<string, string> = {}
  if (flat === undefined) return result
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const key = (flat[i] as string).toLowerCase()
    const value = flat[i + 1] as string
    const joined = Object.hasOwn(result, key) ? `${result[key]}, ${value}` : value
    if (key === '__proto__') {
      // A plain assignment would try to set the prototype and drop the header.
      Object.defineProperty(result, key, { value: joined, enumerable: true, writable: true, configurable: true })
    } else {
      result[key] = joined
    }
  }
  return result
}
