//! Streaming a body to disk safely: a staging file beside the target (same file system, so
//! the final rename is atomic), removed by a guard on any failure or cancellation, and
//! renamed onto the target only once every byte is written and flushed.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::AsyncWriteExt;

use crate::error::{io_error, Error, Kind};

pub struct Staging {
    path: PathBuf,
    file: Option<tokio::fs::File>,
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
            .map(tokio::fs::File::from_std)
            .map_err(|e| io_error(&format!("create {}", path.display()), &e))?;
        Ok(Staging {
            path,
            file: Some(file),
            written: 0,
            armed: true,
        })
    }

    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| Error::new(Kind::Internal, "staging file closed"))?;
        file.write_all(bytes)
            .await
            .map_err(|e| io_error("write", &e))?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Flushes (and with `fsync`, syncs) the staging file, checks its size, and renames it
    /// onto `target`, replacing any file there. Returns the size of the file it replaced.
    pub async fn commit(mut self, target: &Path, fsync: bool) -> Result<u64, Error> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| Error::new(Kind::Internal, "staging file closed"))?;
        // tokio's File may report a write done before it reached the OS; flush surfaces
        // deferred errors such as ENOSPC (tokio#4296).
        file.flush().await.map_err(|e| io_error("write", &e))?;
        if fsync {
            file.sync_all().await.map_err(|e| io_error("fsync", &e))?;
        }
        let on_disk = file
            .metadata()
            .await
            .map_err(|e| io_error("stat", &e))?
            .len();
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
        let replaced = replaced_size(target);
        std::fs::rename(&self.path, target).map_err(|e| rename_error(target, &e))?;
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
