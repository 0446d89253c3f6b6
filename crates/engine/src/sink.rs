//! Streaming a body to disk safely: a staging file beside the target (same file system, so
//! the final rename is atomic), removed by a guard on any failure or cancellation, and
//! renamed onto the target only once every byte is written and flushed.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use std::io::Write;

use crate::error::{io_error, Error, Kind};

/// Bytes gathered before one write to the file: large enough that a big body costs few
/// syscalls, small enough to stay cheap per download.
const WRITE_BUFFER: usize = 256 * 1024;

pub struct Staging {
    path: PathBuf,
    file: Option<std::fs::File>,
    buffer: Vec<u8>,
    written: u64,
    /// Until the rename, dropping the staging file removes it. Cancellation can stop the
    /// download at any `.await`; only `Drop` runs reliably then.
    armed: bool,
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{:x}-{:08x}",
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

impl Staging {
    /// Synchronous on purpose: an open on tokio's blocking pool would finish after a
    /// cancellation dropped this future, before any guard existed to remove the file.
    pub fn create(dir: &Path, prefix: &str) -> Result<Self, Error> {
        let path = dir.join(format!("{prefix}{}.part", unique_suffix()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_error(&format!("create {}", path.display()), &e))?;
        Ok(Staging {
            path,
            file: Some(file),
            buffer: Vec::new(),
            written: 0,
            armed: true,
        })
    }

    /// Buffers `bytes`, writing to the file whenever the buffer fills. Writes are plain
    /// synchronous writes into the page cache: a hop to tokio's blocking pool per chunk cost
    /// more than the write itself (and small downloads need one write in all).
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if self.buffer.capacity() == 0 {
            self.buffer
                .reserve(WRITE_BUFFER.min(bytes.len().max(16 * 1024)));
        }
        self.buffer.extend_from_slice(bytes);
        self.written += bytes.len() as u64;
        if self.buffer.len() >= WRITE_BUFFER {
            self.drain()?;
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<(), Error> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| Error::new(Kind::Internal, "staging file closed"))?;
        file.write_all(&self.buffer)
            .map_err(|e| io_error("write", &e))?;
        self.buffer.clear();
        Ok(())
    }

    /// Writes what is buffered (and with `fsync`, syncs the file), checks its size, and
    /// renames it onto `target`, replacing any file there. With `measure_replaced`, returns
    /// the size of the file it replaced (else 0: nobody counts it).
    pub async fn commit(
        mut self,
        target: &Path,
        fsync: bool,
        measure_replaced: bool,
    ) -> Result<u64, Error> {
        self.drain()?;
        let file = self
            .file
            .take()
            .ok_or_else(|| Error::new(Kind::Internal, "staging file closed"))?;
        let file = if fsync {
            // fsync waits for the device: keep it off the runtime's workers.
            tokio::task::spawn_blocking(move || file.sync_all().map(|_| file))
                .await
                .map_err(|e| Error::new(Kind::Internal, format!("fsync task: {e}")))?
                .map_err(|e| io_error("fsync", &e))?
        } else {
            file
        };
        let on_disk = file.metadata().map_err(|e| io_error("stat", &e))?.len();
        drop(file);
        if on_disk != self.written {
            return Err(Error::new(
                Kind::Io,
                format!(
                    "staging file holds {on_disk} bytes, {} were written",
                    self.written
                ),
            ));
        }
        // Synchronous on purpose: no await between the rename and the success it reports,
        // so a cancellation either happens before it (nothing stored) or not at all.
        let replaced = if measure_replaced {
            replaced_size(target)
        } else {
            0
        };
        rename_without_symlinks(&self.path, target).map_err(|e| rename_error(target, &e))?;
        self.armed = false;
        if fsync {
            if let Some(parent) = target.parent() {
                if let Ok(dir) = std::fs::File::open(parent) {
                    let _ = dir.sync_all();
                }
            }
        }
        Ok(replaced)
    }
}

/// Bytes a rename onto `target` frees: a regular file's size. A symlink there is replaced,
/// not written through, so the file it points to stays and frees nothing.
pub fn replaced_size(target: &Path) -> u64 {
    std::fs::symlink_metadata(target)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .unwrap_or(0)
}

/// Renames `from` onto `target` without following a symlink in any directory of `target`'s
/// path. The caller resolved that path when the download started; a directory swapped for a
/// symlink since then must not lead the file out of the sandbox. The parent directory is
/// opened refusing symlinks at every step, and the rename happens relative to that handle, so
/// no later swap can redirect it.
#[cfg(unix)]
fn rename_without_symlinks(from: &Path, target: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;

    let name = target
        .file_name()
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    let parent = target
        .parent()
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    if !parent.is_absolute() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "target path must be absolute",
        ));
    }
    let dir = open_dir_without_symlinks(parent)?;
    let from = c_string(from.as_os_str().as_bytes())?;
    let to = c_string(name.as_bytes())?;
    // SAFETY: valid C strings and an open directory fd.
    match unsafe { libc::renameat(libc::AT_FDCWD, from.as_ptr(), dir.as_raw_fd(), to.as_ptr()) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

#[cfg(unix)]
fn c_string(bytes: &[u8]) -> io::Result<std::ffi::CString> {
    std::ffi::CString::new(bytes).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

#[cfg(unix)]
const DIR_FLAGS: libc::c_int =
    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;

#[cfg(unix)]
fn swapped(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("{what} is no longer a directory inside the sandbox"),
    )
}

/// One `openat2(RESOLVE_NO_SYMLINKS)` where the kernel has it (Linux 5.6+), else a walk from
/// `/` opening each directory with `O_NOFOLLOW` relative to the previous one.
#[cfg(unix)]
fn open_dir_without_symlinks(dir: &Path) -> io::Result<std::os::fd::OwnedFd> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::{FromRawFd, OwnedFd};
        use std::os::unix::ffi::OsStrExt;

        let path = c_string(dir.as_os_str().as_bytes())?;
        // SAFETY: open_how is plain data; all-zero is its documented default.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = (libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64;
        how.resolve = libc::RESOLVE_NO_SYMLINKS;
        // SAFETY: a valid C string and a valid open_how of the size passed.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                libc::AT_FDCWD,
                path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            // SAFETY: the kernel returned a new descriptor that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) });
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ELOOP) | Some(libc::ENOTDIR) => return Err(swapped(&dir.to_string_lossy())),
            // Old kernels and seccomp filters that do not know openat2: walk instead.
            Some(libc::ENOSYS) | Some(libc::EPERM) | Some(libc::E2BIG) | Some(libc::EINVAL) => {}
            _ => return Err(err),
        }
    }
    open_dir_walking(dir)
}

#[cfg(unix)]
fn open_dir_walking(dir: &Path) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;

    let root = c_string(b"/")?;
    // SAFETY: a valid NUL-terminated path; the returned fd is owned below.
    let mut handle = match unsafe { libc::open(root.as_ptr(), DIR_FLAGS) } {
        -1 => return Err(io::Error::last_os_error()),
        fd => unsafe { OwnedFd::from_raw_fd(fd) },
    };
    for component in dir.components().skip(1) {
        let part = c_string(component.as_os_str().as_bytes())?;
        // SAFETY: handle is an open directory fd and part a valid C string.
        handle = match unsafe { libc::openat(handle.as_raw_fd(), part.as_ptr(), DIR_FLAGS) } {
            -1 => {
                let err = io::Error::last_os_error();
                return Err(match err.raw_os_error() {
                    Some(libc::ELOOP) | Some(libc::ENOTDIR) => {
                        swapped(&component.as_os_str().to_string_lossy())
                    }
                    _ => err,
                });
            }
            fd => unsafe { OwnedFd::from_raw_fd(fd) },
        };
    }
    Ok(handle)
}

#[cfg(not(unix))]
fn rename_without_symlinks(from: &Path, target: &Path) -> io::Result<()> {
    std::fs::rename(from, target)
}

fn rename_error(target: &Path, err: &io::Error) -> Error {
    io_error(&format!("rename to {}", target.display()), err)
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// `<tmp>/real/inner`, and `<tmp>/link` -> `real`.
    fn tree() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("real/inner")).unwrap();
        std::os::unix::fs::symlink("real", tmp.path().join("link")).unwrap();
        tmp
    }

    #[test]
    fn both_ways_of_opening_refuse_a_symlink_anywhere_in_the_path() {
        let tmp = tree();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        for open in [open_dir_without_symlinks, open_dir_walking] {
            assert!(open(&root.join("real/inner")).is_ok());
            let err = open(&root.join("link/inner")).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
            let err = open(&root.join("link")).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
            assert_eq!(
                open(&root.join("missing")).unwrap_err().kind(),
                io::ErrorKind::NotFound
            );
        }
    }

    #[test]
    fn rename_lands_in_the_directory_opened_and_never_through_a_symlink() {
        let tmp = tree();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let staged = root.join("staged");
        std::fs::write(&staged, b"body").unwrap();
        assert!(rename_without_symlinks(&staged, &root.join("link/inner/file")).is_err());
        assert!(staged.exists());
        rename_without_symlinks(&staged, &root.join("real/inner/file")).unwrap();
        assert_eq!(
            std::fs::read(root.join("real/inner/file")).unwrap(),
            b"body"
        );
    }
}
