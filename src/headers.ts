// HTTP field syntax (RFC 9110 section 5) shared by request-header validation and the header
// objects handed to callbacks.
import type { BindingHeader } from './native.js'

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

/** Response headers as callbacks see them: names lower-case, repeats joined with `', '`. */
export function headerObject(headers: readonly BindingHeader[] | undefined): Record<string, string> {
  const result: Record<string, string> = {}
  for (const { name, value } of headers ?? []) {
    const key = name.toLowerCase()
    result[key] = Object.hasOwn(result, key) ? `${result[key]}, ${value}` : value
  }
  return result
}
