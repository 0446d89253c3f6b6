//! The host's `temp/` directory under a byte budget (SPEC 12): downloads into it reserve
//! bytes as they arrive, and when a reservation would pass the budget the oldest files are
//! removed to make room. A file whose `success` has not been delivered yet is pinned and
//! never removed; when running downloads alone would pass the budget, the one asking for
//! more fails (`Kind::TempQuota`) and stores nothing.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Kind};

/// Eviction order: oldest modification time first, then the one stored first.
type Age = (u128, u64);

#[derive(Debug)]
struct Stored {
    size: u64,
    age: Age,
    /// Stored by a download whose success has not been delivered.
    pinned: bool,
}

#[derive(Debug)]
struct State {
    dir: PathBuf,
    limit: u64,
    files: HashMap<PathBuf, Stored>,
    by_age: BTreeMap<Age, PathBuf>,
    used: u64,
    pinned: u64,
    reserved: u64,
    next_seq: u64,
    evicted: u64,
}

#[derive(Debug, Clone)]
pub struct TempStore {
    /// Outside the lock: every download to a generated name reads it.
    dir: Arc<PathBuf>,
    state: Arc<Mutex<State>>,
}

fn nanos(time: SystemTime) -> u128 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// Bytes of every regular file below `dir` (symlinks are not files of the app's).
pub fn measure(dir: &Path) -> io::Result<u64> {
    let mut found = Vec::new();
    scan(dir, &mut found)?;
    Ok(found.iter().map(|(_, size, _)| size).sum())
}

/// Every regular file below `dir` (symlinks are not files of the app's), with size and mtime.
fn scan(dir: &Path, found: &mut Vec<(PathBuf, u64, u128)>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            scan(&entry.path(), found)?;
        } else if kind.is_file() {
            let meta = entry.metadata()?;
            found.push((entry.path(), meta.len(), meta.modified().map_or(0, nanos)));
        }
    }
    Ok(())
}

impl State {
    fn insert(&mut self, path: PathBuf, size: u64, mtime: u128, pinned: bool) {
        self.forget(&path);
        let age = (mtime, self.next_seq);
        self.next_seq += 1;
        self.used += size;
        if pinned {
            self.pinned += size;
        }
        self.by_age.insert(age, path.clone());
        self.files.insert(path, Stored { size, age, pinned });
    }

    fn forget(&mut self, path: &Path) -> Option<Stored> {
        let stored = self.files.remove(path)?;
        self.by_age.remove(&stored.age);
        self.used -= stored.size;
        if stored.pinned {
            self.pinned -= stored.size;
        }
        Some(stored)
    }

    /// Removes the oldest file that may be removed; false when none is left.
    fn evict_oldest(&mut self) -> bool {
        let victim = self
            .by_age
            .values()
            .find(|path| self.files.get(*path).is_some_and(|f| !f.pinned))
            .cloned();
        let Some(path) = victim else {
            return false;
        };
        // A file already gone counts as freed; one that cannot be removed is no longer
        // ours to count on either way (the next refresh measures it again).
        let _ = std::fs::remove_file(&path);
        self.forget(&path);
        self.evicted += 1;
        true
    }

    fn rescan(&mut self, under: &Path) -> io::Result<()> {
        let mut found = Vec::new();
        match std::fs::symlink_metadata(under) {
            Ok(meta) if meta.is_dir() => scan(under, &mut found)?,
            Ok(meta) if meta.is_file() => found.push((
                under.to_path_buf(),
                meta.len(),
                meta.modified().map_or(0, nanos),
            )),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let gone: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|path| path.starts_with(under))
            .cloned()
            .collect();
        let mut pinned = HashMap::new();
        for path in gone {
            if let Some(stored) = self.forget(&path) {
                pinned.insert(path, stored.pinned);
            }
        }
        found.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
        for (path, size, mtime) in found {
            let was_pinned = pinned.get(&path).copied().unwrap_or(false);
            self.insert(path, size, mtime, was_pinned);
        }
        Ok(())
    }
}

impl TempStore {
    /// Measures `dir` now; its files count from the start.
    pub fn open(dir: PathBuf, limit: u64) -> io::Result<TempStore> {
        let mut state = State {
            dir: dir.clone(),
            limit,
            files: HashMap::new(),
            by_age: BTreeMap::new(),
            used: 0,
            pinned: 0,
            reserved: 0,
            next_seq: 0,
            evicted: 0,
        };
        state.rescan(&dir)?;
        Ok(TempStore {
            dir: Arc::new(dir),
            state: Arc::new(Mutex::new(state)),
        })
    }

    /// The directory generated names go in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes of the stored files (reservations not included).
    pub fn used(&self) -> u64 {
        self.lock().used
    }

    /// Files removed to make room since the store was opened.
    pub fn evicted(&self) -> u64 {
        self.lock().evicted
    }

    pub fn reservation(&self) -> TempReservation {
        TempReservation {
            store: self.clone(),
            held: 0,
        }
    }

    /// The success of the download that stored `path` was delivered: it may be evicted.
    pub fn delivered(&self, path: &Path) {
        let mut state = self.lock();
        if let Some(stored) = state.files.get_mut(path) {
            if std::mem::replace(&mut stored.pinned, false) {
                let size = stored.size;
                state.pinned -= size;
            }
        }
    }

    /// Measures again on disk: everything, or only `path` (a file or a directory below).
    pub fn refresh(&self, path: Option<&Path>) -> io::Result<()> {
        let mut state = self.lock();
        let under = path.map_or_else(|| state.dir.clone(), Path::to_path_buf);
        state.rescan(&under)
    }

    /// Removes every file stored before this call, but those whose success is undelivered.
    pub fn clear(&self) -> io::Result<()> {
        let mut state = self.lock();
        let removable: Vec<PathBuf> = state
            .files
            .iter()
            .filter(|(_, f)| !f.pinned)
            .map(|(path, _)| path.clone())
            .collect();
        for path in removable {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            state.forget(&path);
        }
        Ok(())
    }
}

/// The bytes one download into `temp/` holds. Dropped uncommitted, it gives them back.
#[derive(Debug)]
pub struct TempReservation {
    store: TempStore,
    held: u64,
}

impl TempReservation {
    /// Holds at least `total` bytes, removing the oldest files as needed; fails (giving back
    /// everything it held) when running downloads and undelivered files alone would pass
    /// the budget.
    pub fn grow_to(&mut self, total: u64) -> Result<(), Error> {
        if total <= self.held {
            return Ok(());
        }
        let extra = total - self.held;
        let mut state = self.store.lock();
        loop {
            if state.used + state.reserved + extra <= state.limit {
                state.reserved += extra;
                self.held = total;
                return Ok(());
            }
            if state.pinned + state.reserved + extra > state.limit || !state.evict_oldest() {
                state.reserved -= self.held;
                self.held = 0;
                return Err(Error::new(Kind::TempQuota, "temp quota exceeded"));
            }
        }
    }

    /// The file at `path` holds `stored` bytes now: the reservation becomes a pinned file.
    pub fn commit(mut self, path: &Path, stored: u64) {
        let mtime = std::fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .map_or(0, nanos);
        let mut state = self.store.lock();
        state.reserved -= self.held;
        self.held = 0;
        state.insert(path.to_path_buf(), stored, mtime, true);
    }
}

impl Drop for TempReservation {
    fn drop(&mut self) {
        if self.held > 0 {
            self.store.lock().reserved -= self.held;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, size: usize) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, vec![7u8; size]).unwrap();
        path
    }

    #[test]
    fn the_oldest_delivered_files_make_room_and_undelivered_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = TempStore::open(dir.path().to_path_buf(), 100).unwrap();
        let mut stored = Vec::new();
        for name in ["a", "b", "c"] {
            let mut r = store.reservation();
            r.grow_to(30).unwrap();
            let path = file(dir.path(), name, 30);
            r.commit(&path, 30);
            stored.push(path);
        }
        store.delivered(&stored[1]);
        store.delivered(&stored[2]);
        // a is pinned (its success not delivered): b goes first.
        let mut r = store.reservation();
        r.grow_to(40).unwrap();
        assert!(stored[0].exists());
        assert!(!stored[1].exists());
        assert!(stored[2].exists());
        assert_eq!(store.evicted(), 1);
        drop(r);
        assert_eq!(store.used(), 60);
    }

    #[test]
    fn running_downloads_alone_over_the_budget_fail_and_give_back_what_they_held() {
        let dir = tempfile::tempdir().unwrap();
        let store = TempStore::open(dir.path().to_path_buf(), 100).unwrap();
        let mut a = store.reservation();
        let mut b = store.reservation();
        a.grow_to(60).unwrap();
        b.grow_to(30).unwrap();
        assert_eq!(b.grow_to(50).unwrap_err().kind(), Kind::TempQuota);
        a.grow_to(100).unwrap();
    }

    #[test]
    fn files_present_at_open_count_and_refresh_measures_again() {
        let dir = tempfile::tempdir().unwrap();
        file(dir.path(), "old", 70);
        let store = TempStore::open(dir.path().to_path_buf(), 100).unwrap();
        assert_eq!(store.used(), 70);
        let mut r = store.reservation();
        r.grow_to(50).unwrap();
        assert!(!dir.path().join("old").exists(), "the old file made room");
        drop(r);
        file(dir.path(), "new", 10);
        store.refresh(None).unwrap();
        assert_eq!(store.used(), 10);
        store.clear().unwrap();
        assert_eq!(store.used(), 0);
        assert!(!dir.path().join("new").exists());
    }
}
