// Compile-only type test (SPEC 10, Typings): `npx tsc -p tsconfig.json --noEmit` checks it;
// ava does not run it (not a *.spec.ts), and importing it runs nothing (functions only).
//
// It imports the typings' API module rather than the package root: the root declares mini-
// program globals (`require`, `module`, `console`, `setTimeout`) that clash with @types/node.
import type * as API from '@douyin-microapp/typings/types/api'
import type { PageConstructor } from '@douyin-microapp/typings/types/page'
import type { DownloadSuccess, DownloadTask, Host, SavedFileSuccess, TempFileSuccess } from '../src/index.js'

/** `tt` as mini-program code sees it in @douyin-microapp/typings. */
type TT = typeof API

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
function assertType<T extends true>(): T | void {}

/** host.tt.downloadFile is assignable where the typings expect tt.downloadFile. */
export function typingsDownloadFile(host: Host): TT['downloadFile'] {
  return host.tt.downloadFile
}

/** host.tt serves as the typings' tt wherever only downloadFile is used. */
export function typingsTt(host: Host): Pick<TT, 'downloadFile'> {
  return host.tt
}

/** Its task is the typings' task, and tt.env has USER_DATA_PATH like the typings' env. */
export function typingsTask(host: Host): ReturnType<TT['downloadFile']> {
  const userDataPath: TT['env']['USER_DATA_PATH'] = host.tt.env.USER_DATA_PATH
  return host.tt.downloadFile({ url: `https://cdn.example.com/${userDataPath}` })
}

/** The seed page's example, verbatim, written against the typings' `tt` and `Page`. */
export function seedPage(tt: TT, Page: PageConstructor): void {
  Page({
    data: {
      imageSrc: '',
    },
    downloadImage() {
      tt.downloadFile({
        url: 'https://s3.pstatp.com/toutiao/static/img/logo.201f80d.png',
        header: {
          'content-type': 'application/json',
        },
        success: (res) => {
          console.log('downloadFile success', res)
          tt.showToast({
            title: res.errMsg,
            icon: 'success',
          })
          this.setData({
            imageSrc: res.tempFilePath,
          })
        },
        fail: (res) => {
          console.log('downloadFile fail', res)
          tt.showToast({
            title: res.errMsg,
            icon: 'none',
          })
        },
        complete: (res) => {
          console.log('downloadFile complete', res)
        },
      })
    },
  })
}

/** The same page compiles unchanged when its tt.downloadFile is the host's. */
export function seedPageOnHost(typingsTt: TT, host: Host, Page: PageConstructor): void {
  const tt = { ...typingsTt, downloadFile: host.tt.downloadFile }
  Page({
    data: {
      imageSrc: '',
    },
    downloadImage() {
      tt.downloadFile({
        url: 'https://s3.pstatp.com/toutiao/static/img/logo.201f80d.png',
        header: {
          'content-type': 'application/json',
        },
        success: (res) => {
          console.log('downloadFile success', res)
          tt.showToast({
            title: res.errMsg,
            icon: 'success',
          })
          this.setData({
            imageSrc: res.tempFilePath,
          })
        },
        fail: (res) => {
          console.log('downloadFile fail', res)
          tt.showToast({
            title: res.errMsg,
            icon: 'none',
          })
        },
        complete: (res) => {
          console.log('downloadFile complete', res)
        },
      })
    },
  })
}

/** The overloads: the result names the path the way the options asked for it. */
export function overloads(host: Host, maybeFilePath: string | undefined): DownloadTask[] {
  return [
    host.downloadFile({
      url: 'https://cdn.example.com/a.png',
      header: { 'x-count': 3 },
      timeout: 5000,
      success: (res) => {
        assertType<Equal<typeof res, TempFileSuccess>>()
        const path: string = res.tempFilePath
        const status: number = res.statusCode
        // @ts-expect-error without filePath there is no filePath in the result
        const none: string = res.filePath
        void [path, status, none]
      },
      fail: (res) => {
        const code: number = res.errNo
        const type: 'D' | 'U' | 'F' = res.errorType
        void [code, type]
      },
    }),
    host.downloadFile({
      url: 'https://cdn.example.com/a.png',
      filePath: `${host.tt.env.USER_DATA_PATH}/a.png`,
      success: (res) => {
        assertType<Equal<typeof res, SavedFileSuccess>>()
        const path: string = res.filePath
        // @ts-expect-error with filePath there is no tempFilePath in the result
        const none: string = res.tempFilePath
        void [path, none]
      },
      complete: (res) => {
        if ('errNo' in res) void res.errNo
        else void res.filePath
      },
    }),
    host.downloadFile({
      url: 'https://cdn.example.com/a.png',
      filePath: maybeFilePath,
      success: (res) => {
        assertType<Equal<typeof res, DownloadSuccess>>()
        const path: string | undefined = res.tempFilePath ?? res.filePath
        void path
      },
    }),
  ]
}

/** The Promise form follows the same overloads. */
export async function promiseForm(host: Host, signal: AbortSignal): Promise<string[]> {
  const temp = await host.download({ url: 'https://cdn.example.com/a.png', signal })
  const saved = await host.download({
    url: 'https://cdn.example.com/a.png',
    filePath: 'ttfile://user/a.png',
    onProgress: ({ progress }) => void progress,
    onHeaders: ({ header }) => void header['content-type'],
  })
  return [temp.tempFilePath, saved.filePath]
}
