//! Streaming a body to disk safely: a staging file beside the target (same file system, so
//! the final rename is atomic), removed by a guard on any failure or cancellation, and
//! renamed onto the target only once every byte is written and flushed.
//!
//! A body that arrives whole before the download ever waits for the network is still only in
//! memory; with a fresh target name it is written to an unnamed file on the staging
//! directory's file system (`O_TMPFILE`) and linked into place, which skips the staging
//! directory's entry and the cross-directory rename (a third of a small download's storage
//! cost with two engine threads, which contend on both directories' locks). A download that
//! waits has its named staging file from then on.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use std::io::Write;

use crate::error::{io_error, Error, Kind, PathRole};

/// Bytes gathered before one write to the file: large enough that a big body costs few
/// syscalls, small enough to stay cheap per download.
const WRITE_BUFFER: usize = 256 * 1024;

/// How a finished body is put in place.
#[derive(Clone, Copy, Debug, Default)]
pub struct Commit {
    /// The data and the new directory entry are durable before success is reported.
    pub fsync: bool,
    /// Measure the file the rename replaces (a quota counts it as freed); 0 without.
    pub measure_replaced: bool,
    /// A generated name no file has: the body may be linked there from an unnamed file.
    pub fresh_target: bool,
}

pub struct Staging {
    dir: PathBuf,
    prefix: String,
    /// The named staging file, once the download waited or filled the buffer.
    named: Option<Named>,
    buffer: Vec<u8>,
    written: u64,
}

struct Named {
    path: PathBuf,
    file: Option<std::fs::File>,
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
    /// Nothing touches the disk yet: see `materialize`.
    pub fn new(dir: &Path, prefix: &str) -> Self {
        Staging {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            named: None,
            buffer: Vec::new(),
            written: 0,
        }
    }

    /// Creates the named staging file unless it exists: called before the download waits
    /// for the network, so a running download is always visible in the staging directory.
    /// Synchronous on purpose: an open on tokio's blocking pool would finish after a
    /// cancellation dropped this future, before any guard existed to remove the file.
    pub fn materialize(&mut self) -> Result<(), Error> {
        if self.named.is_some() {
            return Ok(());
        }
        let path = self
            .dir
            .join(format!("{}{}.part", self.prefix, unique_suffix()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_error(PathRole::Staging, "create the staging file", &e))?;
        self.named = Some(Named {
            path,
            file: Some(file),
            armed: true,
        });
        Ok(())
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
            self.materialize()?;
            self.drain()?;
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<(), Error> {
        let file = self
            .named
            .as_mut()
            .and_then(|named| named.file.as_mut())
            .ok_or_else(|| Error::new(Kind::Internal, "staging file closed"))?;
        file.write_all(&self.buffer)
            .map_err(|e| io_error(PathRole::Staging, "write", &e))?;
        self.buffer.clear();
        Ok(())
    }

    /// Writes what is buffered (and with `fsync`, syncs the file), checks its size, and
    /// puts it at `target`, replacing any file there. `fresh_target`: nothing is expected
    /// at `target` (a generated name), so a body still in memory may be linked into place.
    /// With `measure_replaced`, returns the size of the file it replaced (else 0: nobody
    /// counts it).
    pub async fn commit(mut self, target: &Path, how: Commit) -> Result<u64, Error> {
        let Commit {
            fsync,
            measure_replaced,
            fresh_target,
        } = how;
        // A body still in memory that cannot take the unnamed way goes the named way below.
        if self.named.is_none()
            && fresh_target
            && matches!(
                anonymous::store(&self.dir, &self.buffer, target, fsync).await?,
                anonymous::Stored::Linked
            )
        {
            return Ok(0);
        }
        self.materialize()?;
        self.drain()?;
        let named = self
            .named
            .as_mut()
            .ok_or_else(|| Error::new(Kind::Internal, "staging file closed"))?;
        let file = named
            .file
            .take()
            .ok_or_else(|| Error::new(Kind::Internal, "staging file closed"))?;
        let file = if fsync { sync_file(file).await? } else { file };
        check_size(&file, self.written)?;
        drop(file);
        // Synchronous on purpose: no await between the rename and the success it reports,
        // so a cancellation either happens before it (nothing stored) or not at all.
        let replaced = if measure_replaced {
            replaced_size(target)
        } else {
            0
        };
        rename_without_symlinks(&named.path, target).map_err(|e| rename_error(&e))?;
        named.armed = false;
        if fsync {
            sync_parent(target);
        }
        Ok(replaced)
    }
}

/// fsync waits for the device: kept off the runtime's workers.
async fn sync_file(file: std::fs::File) -> Result<std::fs::File, Error> {
    tokio::task::spawn_blocking(move || file.sync_all().map(|_| file))
        .await
        .map_err(|e| Error::new(Kind::Internal, format!("fsync task: {e}")))?
        .map_err(|e| io_error(PathRole::Staging, "fsync", &e))
}

fn check_size(file: &std::fs::File, written: u64) -> Result<(), Error> {
    let on_disk = file
        .metadata()
        .map_err(|e| io_error(PathRole::Staging, "stat", &e))?
        .len();
    if on_disk != written {
        return Err(Error::new(
            Kind::Io,
            format!("staging file holds {on_disk} bytes, {written} were written"),
        ));
    }
    Ok(())
}

/// Makes a new directory entry durable too.
fn sync_parent(target: &Path) {
    if let Some(parent) = target.parent() {
        if let Ok(dir) = std::fs::File::open(parent) {
            let _ = dir.sync_all();
        }
    }
}

/// A body wholly in memory, stored through an unnamed file linked into place (Linux).
mod anonymous {
    use std::path::Path;

    use crate::error::Error;

    pub enum Stored {
        Linked,
        /// This system, file system or target cannot take it this way; nothing was stored.
        NotPossible,
    }

    #[cfg(target_os = "linux")]
    pub async fn store(
        staging_dir: &Path,
        body: &[u8],
        target: &Path,
        fsync: bool,
    ) -> Result<Stored, Error> {
        use std::io::Write;
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::OpenOptionsExt;

        use super::{c_string, open_dir_without_symlinks, sync_parent};
        use crate::error::{io_error, PathRole};

        let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
            return Ok(Stored::NotPossible);
        };
        // O_TMPFILE needs support from the file system; without it the named path is used.
        let Ok(mut file) = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_TMPFILE)
            .open(staging_dir)
        else {
            return Ok(Stored::NotPossible);
        };
        // No size check as on the named path: nothing but this descriptor reaches the file.
        file.write_all(body)
            .map_err(|e| io_error(PathRole::Staging, "write", &e))?;
        let file = if fsync {
            super::sync_file(file).await?
        } else {
            file
        };
        let dir = open_dir_without_symlinks(parent).map_err(|e| super::rename_error(&e))?;
        let Ok(to) = c_string(name.as_bytes()) else {
            return Ok(Stored::NotPossible);
        };
        if !link_fd(&file, &dir, &to) {
            // Taken (never replaced), no /proc, another file system: the named path handles
            // each as it always did.
            return Ok(Stored::NotPossible);
        }
        if fsync {
            sync_parent(target);
        }
        Ok(Stored::Linked)
    }

    /// Links the unnamed `file` as `to` in `dir`. `AT_EMPTY_PATH` names the descriptor itself
    /// but needs CAP_DAC_READ_SEARCH; without it, `/proc/self/fd/<n>` leads to the same inode
    /// (a path walk through procfs, a few µs more).
    #[cfg(target_os = "linux")]
    fn link_fd(file: &std::fs::File, dir: &std::os::fd::OwnedFd, to: &std::ffi::CStr) -> bool {
        use std::os::fd::AsRawFd;
        use std::sync::atomic::{AtomicBool, Ordering};

        static EMPTY_PATH_REFUSED: AtomicBool = AtomicBool::new(false);
        if !EMPTY_PATH_REFUSED.load(Ordering::Relaxed) {
            // SAFETY: an open file, an empty C string, an open directory fd, a C string.
            let linked = unsafe {
                libc::linkat(
                    file.as_raw_fd(),
                    c"".as_ptr(),
                    dir.as_raw_fd(),
                    to.as_ptr(),
                    libc::AT_EMPTY_PATH,
                )
            };
            if linked == 0 {
                return true;
            }
            match std::io::Error::last_os_error().raw_os_error() {
                // How the kernel refuses AT_EMPTY_PATH to a caller without the capability.
                Some(libc::ENOENT) | Some(libc::EPERM) | Some(libc::EINVAL) => {}
                _ => return false,
            }
        }
        let linked = link_through_proc(file, dir, to);
        if linked {
            // The same link through /proc worked: AT_EMPTY_PATH was refused, not the link.
            EMPTY_PATH_REFUSED.store(true, Ordering::Relaxed);
        }
        linked
    }

    #[cfg(target_os = "linux")]
    pub(super) fn link_through_proc(
        file: &std::fs::File,
        dir: &std::os::fd::OwnedFd,
        to: &std::ffi::CStr,
    ) -> bool {
        use std::os::fd::AsRawFd;

        let Ok(from) = super::c_string(format!("/proc/self/fd/{}", file.as_raw_fd()).as_bytes())
        else {
            return false;
        };
        // SAFETY: valid C strings and an open directory fd.
        unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                from.as_ptr(),
                dir.as_raw_fd(),
                to.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            ) == 0
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub async fn store(
        _staging_dir: &Path,
        _body: &[u8],
        _target: &Path,
        _fsync: bool,
    ) -> Result<Stored, Error> {
        Ok(Stored::NotPossible)
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

fn rename_error(err: &io::Error) -> Error {
    io_error(PathRole::Target, "store at the destination", err)
}

impl Drop for Named {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A generated name, no fsync, nothing replaced to measure.
    const FRESH: Commit = Commit {
        fsync: false,
        measure_replaced: false,
        fresh_target: true,
    };

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

    fn staged(dir: &Path, bytes: &[u8]) -> Staging {
        let mut staging = Staging::new(dir, "1-test-");
        staging.write(bytes).unwrap();
        staging
    }

    /// The names in `dir`, sorted.
    fn entries(dir: &Path) -> Vec<String> {
        let names = std::fs::read_dir(dir).unwrap();
        let sorted: std::collections::BTreeSet<String> = names
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        sorted.into_iter().collect()
    }

    #[tokio::test]
    async fn a_body_in_memory_goes_to_a_fresh_name_without_a_staging_entry() {
        let tmp = tree();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let staging_dir = root.join("real");
        let target = root.join("real/inner/fresh.bin");
        let staging = staged(&staging_dir, b"body");
        staging.commit(&target, FRESH).await.unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"body");
        assert_eq!(entries(&staging_dir), ["inner"]);
        // On Linux it went the unnamed way, not through the staging directory.
        #[cfg(target_os = "linux")]
        {
            let second = root.join("real/inner/second.bin");
            let stored = anonymous::store(&staging_dir, b"12345", &second, false).await;
            assert!(matches!(stored, Ok(anonymous::Stored::Linked)));
            assert_eq!(std::fs::read(&second).unwrap(), b"12345");
            let durable = root.join("real/inner/durable.bin");
            let stored = anonymous::store(&staging_dir, b"synced", &durable, true).await;
            assert!(matches!(stored, Ok(anonymous::Stored::Linked)));
            assert_eq!(std::fs::read(&durable).unwrap(), b"synced");
            let taken = anonymous::store(&staging_dir, b"123", &second, false).await;
            assert!(matches!(taken, Ok(anonymous::Stored::NotPossible)));
            assert_eq!(std::fs::read(&second).unwrap(), b"12345");

            // Without CAP_DAC_READ_SEARCH the link goes through /proc.
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut unnamed = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_TMPFILE)
                .open(&staging_dir)
                .unwrap();
            unnamed.write_all(b"via proc").unwrap();
            let dir = open_dir_without_symlinks(&root.join("real/inner")).unwrap();
            assert!(anonymous::link_through_proc(&unnamed, &dir, c"third.bin"));
            assert_eq!(
                std::fs::read(root.join("real/inner/third.bin")).unwrap(),
                b"via proc"
            );
        }
    }

    #[tokio::test]
    async fn a_taken_fresh_name_is_replaced_as_a_rename_would() {
        let tmp = tree();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let target = root.join("real/inner/taken.bin");
        std::fs::write(&target, b"old").unwrap();
        let staging = staged(&root.join("real"), b"new body");
        staging
            .commit(
                &target,
                Commit {
                    fsync: true,
                    ..FRESH
                },
            )
            .await
            .unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new body");
        assert_eq!(entries(&root.join("real")), ["inner"]);
    }

    #[tokio::test]
    async fn a_fresh_name_behind_a_symlink_is_refused_and_nothing_is_left() {
        let tmp = tree();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let staging = staged(&root.join("real"), b"body");
        assert!(staging
            .commit(&root.join("link/inner/x.bin"), FRESH)
            .await
            .is_err());
        assert_eq!(entries(&root.join("real")), ["inner"]);
        assert!(entries(&root.join("real/inner")).is_empty());
    }

    #[tokio::test]
    async fn a_download_that_waited_is_a_named_staging_file_until_its_rename() {
        let tmp = tree();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let staging_dir = root.join("real");
        let mut staging = staged(&staging_dir, b"part one, ");
        staging.materialize().unwrap();
        staging.write(b"part two").unwrap();
        let names = entries(&staging_dir);
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names
            .iter()
            .any(|n| n.starts_with("1-test-") && n.ends_with(".part")));
        let target = root.join("real/inner/waited.bin");
        staging.commit(&target, FRESH).await.unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"part one, part two");
        assert_eq!(entries(&staging_dir), ["inner"]);
    }

    #[tokio::test]
    async fn a_dropped_download_leaves_no_staging_file() {
        let tmp = tree();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let mut staging = staged(&root.join("real"), b"body");
        staging.materialize().unwrap();
        assert_eq!(entries(&root.join("real")).len(), 2);
        drop(staging);
        assert_eq!(entries(&root.join("real")), ["inner"]);
    }
}
