// `host.cookies` (SPEC 12): the host's one RFC 6265 jar, the one its downloads use, so the
// host's `tt.request` and `uploadFile` share it as the platform's cookie mechanism does.
// The jar lives in the engine (none when the store is off, SPEC 6); this checks arguments.
import { DownloadError, failOf } from './errors.js'
import type { BindingHost } from './native.js'
import type { CookieJar } from './types.js'

export function cookieJarOf(binding: BindingHost, isClosed: () => boolean): CookieJar {
  const open = (): void => {
    if (isClosed()) throw new DownloadError(failOf('abort'))
  }
  return Object.freeze({
    header(url: string): string {
      open()
      const href = httpUrl(url, 'header')
      return binding.cookieHeader(href)
    },
    store(url: string, setCookie: string[]): void {
      open()
      const href = httpUrl(url, 'store')
      if (!Array.isArray(setCookie) || !setCookie.every((value) => typeof value === 'string')) {
        throw new TypeError('cookies.store: setCookie must be an array of Set-Cookie strings')
      }
      binding.storeCookies(href, [...setCookie])
    },
    clear(): void {
      open()
      binding.clearCookies()
    },
  })
}

function httpUrl(url: unknown, method: string): string {
  const parsed = typeof url === 'string' && URL.canParse(url) ? new URL(url) : undefined
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new TypeError(`cookies.${method}: url must be an http(s) URL, got ${JSON.stringify(String(url))}`)
  }
  return parsed.href
}
