//! The conversation on disk, so that history survives a restart: SQLite
//! (bundled, nothing to install), in WAL mode.
//!
//! The hub never waits on the disk. It hands each event to a [`Recorder`]
//! without blocking; a writer of its own (on the blocking pool, owned by
//! the server's task tracker) takes them in batches, one transaction each.
//! If the writer falls behind (a slow disk) or a write fails (a full
//! disk), history goes on in memory only and a warning is logged, once.
//! Old rows are pruned by age (`--keep`) and count (`--keep-rows`).
//!
//! A database that cannot be opened or read is an error naming the file;
//! it is never deleted or replaced.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lanchat_core::{Event, Past, Stamp};
use rusqlite::{params, Connection, OpenFlags};
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

/// The path that keeps the database in memory only.
pub const MEMORY: &str = ":memory:";

/// Events waiting for the writer before new ones are kept in memory only.
const QUEUE: usize = 8192;

/// The most events written in one transaction.
const BATCH: usize = 512;

/// How long the writer gathers events after the first, unless [`BATCH`]
/// are waiting sooner: one commit a second at most at a conversation's
/// pace. A commit (file writes, locks, two threads woken, a `stored`
/// frame) costs about as much CPU as a hundred deliveries here; with a
/// commit every 50 ms, light load cost 0.5 µs more per delivery than with
/// none (BENCHMARKS.md). A crash can lose at most this much more of the
/// newest history, none of which was acknowledged as stored.
const COMMIT_WAIT: Duration = Duration::from_secs(1);

/// Events written between two prunings.
const PRUNE_EVERY: usize = 10_000;

/// Why the history database cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("could not open the history database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error(
        "the history database {path} is unreadable ({why}); it was left as it is: \
         move it away, or choose another file with --db"
    )]
    Unreadable { path: String, why: String },
}

/// How long history is kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Rows older than this are deleted.
    pub max_age: Duration,
    /// At most this many rows are kept (the newest).
    pub max_rows: u64,
}

/// An open history database.
pub struct Store {
    conn: Connection,
    path: String,
    retention: Retention,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if need be) the database at `path`, or one in
    /// memory for [`MEMORY`], and checks that it can be read.
    pub fn open(path: &str, retention: Retention) -> Result<Store, StoreError> {
        let unreadable = |e: rusqlite::Error| StoreError::Unreadable {
            path: path.to_owned(),
            why: e.to_string(),
        };
        let conn = if path == MEMORY {
            Connection::open_in_memory()
        } else {
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            Connection::open_with_flags(path, flags)
        }
        .map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        // A file that is not a database fails here, at the first read.
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |row| row.get(0))
            .map_err(unreadable)?;
        if check != "ok" {
            return Err(StoreError::Unreadable {
                path: path.to_owned(),
                why: check,
            });
        }
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS events (
                 id INTEGER PRIMARY KEY,
                 ms INTEGER NOT NULL,
                 kind TEXT NOT NULL,
                 from_name TEXT NOT NULL,
                 to_name TEXT,
                 text TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS events_ms ON events (ms);
             CREATE TABLE IF NOT EXISTS last_event (
                 one INTEGER PRIMARY KEY CHECK (one = 1),
                 id INTEGER NOT NULL,
                 ms INTEGER NOT NULL
             );",
        )
        .map_err(unreadable)?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
            retention,
        };
        store.prune().map_err(unreadable)?;
        Ok(store)
    }

    /// Where the database is (or [`MEMORY`]).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The last `limit` events, oldest first, and the stamp of the last
    /// event ever stored (ids go on after it, even if its row was pruned).
    pub fn load(&self, limit: usize) -> Result<(Vec<Past>, Stamp), StoreError> {
        let unreadable = |e: rusqlite::Error| StoreError::Unreadable {
            path: self.path.clone(),
            why: e.to_string(),
        };
        let mut statement = self
            .conn
            .prepare(
                "SELECT id, ms, kind, from_name, to_name, text FROM events
                 ORDER BY id DESC LIMIT ?1",
            )
            .map_err(unreadable)?;
        let rows = statement
            .query_map(params![limit as i64], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, String>(5)?,
                ))
            })
            .map_err(unreadable)?;
        let mut pasts = Vec::new();
        for row in rows {
            let (id, ms, kind, from, to, text) = row.map_err(unreadable)?;
            let event = match (kind.as_str(), to) {
                ("message", _) => Event::Message { from, text },
                ("action", _) => Event::Action { from, text },
                ("whisper", Some(to)) => Event::Whisper { from, to, text },
                // A row of a kind this version does not know is skipped.
                _ => continue,
            };
            let stamp = Stamp {
                id: u64::try_from(id).unwrap_or(0),
                ms: u64::try_from(ms).unwrap_or(0),
            };
            pasts.push(Past { stamp, event });
        }
        pasts.reverse();
        // The last event ever stored, even if pruned since: ids never go
        // back.
        let (id, ms): (i64, i64) = self
            .conn
            .query_row(
                "SELECT MAX(COALESCE((SELECT id FROM last_event), 0), COALESCE(MAX(id), 0)),
                        MAX(COALESCE((SELECT ms FROM last_event), 0), COALESCE(MAX(ms), 0))
                 FROM events",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(unreadable)?;
        let last = Stamp {
            id: u64::try_from(id).unwrap_or(0),
            ms: u64::try_from(ms).unwrap_or(0),
        };
        Ok((pasts, last))
    }

    /// Deletes what is too old, then all but the newest rows, after noting
    /// the last event: ids go on after it even if every row goes. (Only
    /// here: between two prunings the newest row says it, so a commit
    /// writes no page for it.)
    fn prune(&mut self) -> rusqlite::Result<()> {
        let now = now_ms();
        let age = i64::try_from(self.retention.max_age.as_millis()).unwrap_or(i64::MAX);
        let rows = i64::try_from(self.retention.max_rows).unwrap_or(i64::MAX);
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO last_event (one, id, ms)
             SELECT 1, id, ms FROM events WHERE id = (SELECT MAX(id) FROM events)
             ON CONFLICT (one) DO UPDATE SET id = MAX(id, excluded.id), ms = MAX(ms, excluded.ms)",
            [],
        )?;
        tx.execute(
            "DELETE FROM events WHERE ms < ?1",
            params![now.saturating_sub(age)],
        )?;
        tx.execute(
            "DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?1",
            params![rows],
        )?;
        tx.commit()
    }

    /// Starts the writer on `tracker`; it ends once every [`Recorder`] is
    /// dropped, after writing what it was given. The receiver tells the
    /// id of the last event committed (0 until the first commit).
    pub fn start(self, tracker: &TaskTracker) -> (Recorder, watch::Receiver<u64>) {
        self.start_with(tracker, COMMIT_WAIT)
    }

    /// [`Store::start`], gathering each commit for `wait`.
    fn start_with(self, tracker: &TaskTracker, wait: Duration) -> (Recorder, watch::Receiver<u64>) {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let (stored_tx, stored_rx) = watch::channel(0);
        let warned = Arc::new(AtomicBool::new(false));
        let nudge = Arc::new(Nudge::default());
        let (writer_warned, writer_nudge) = (warned.clone(), nudge.clone());
        tracker.spawn_blocking(move || {
            let _ = writer_nudge.writer.set(std::thread::current());
            self.write(rx, wait, &writer_nudge, &writer_warned, &stored_tx);
        });
        let recorder = Recorder {
            tx,
            warned,
            nudge: NudgeOnDrop(nudge),
        };
        (recorder, stored_rx)
    }

    /// The writer: batches of events, one transaction each, until the
    /// recorders are gone; after each commit, says how far it got.
    fn write(
        mut self,
        rx: Receiver<Past>,
        wait: Duration,
        nudge: &Nudge,
        warned: &AtomicBool,
        stored: &watch::Sender<u64>,
    ) {
        let mut since_prune = 0;
        let mut failed = false;
        while let Ok(first) = rx.recv() {
            let batch = gather(&rx, first, wait, nudge);
            if failed {
                continue;
            }
            if let Err(error) = self.insert(&batch) {
                // A full or failing disk: history goes on in memory only.
                failed = true;
                warned.store(true, Ordering::Relaxed);
                tracing::warn!(path = %self.path, %error, "could not write the history database; keeping history in memory only");
                continue;
            }
            if let Some(last) = batch.iter().map(|p| p.stamp.id).max() {
                stored.send_replace(last);
            }
            since_prune += batch.len();
            if since_prune >= PRUNE_EVERY {
                since_prune = 0;
                if let Err(error) = self.prune() {
                    tracing::warn!(path = %self.path, %error, "could not prune the history database");
                }
            }
        }
    }

    pub(crate) fn insert(&mut self, batch: &[Past]) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO events (id, ms, kind, from_name, to_name, text)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for past in batch {
                let (kind, from, to, text) = match &past.event {
                    Event::Message { from, text } => ("message", from, None, text),
                    Event::Action { from, text } => ("action", from, None, text),
                    Event::Whisper { from, to, text } => ("whisper", from, Some(to), text),
                    _ => continue,
                };
                let id = i64::try_from(past.stamp.id).unwrap_or(i64::MAX);
                let ms = i64::try_from(past.stamp.ms).unwrap_or(i64::MAX);
                insert.execute(params![id, ms, kind, from, to, text])?;
            }
        }
        tx.commit()
    }
}

/// `first` and the events that follow it within `wait`, at most [`BATCH`]:
/// one transaction. The writer sleeps meanwhile, and is woken early only
/// when a whole batch is waiting or the recorders are gone (see
/// [`Nudge`]): the events in between never wake it. Once the recorders
/// are gone it never waits: a shutdown is not delayed.
fn gather(rx: &Receiver<Past>, first: Past, wait: Duration, nudge: &Nudge) -> Vec<Past> {
    let mut batch = vec![first];
    let deadline = Instant::now() + wait;
    while take_waiting(rx, &mut batch) && batch.len() < BATCH {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        #[cfg(test)]
        nudge.sleeps.fetch_add(1, Ordering::Relaxed);
        // Woken early (or spuriously), it looks again.
        std::thread::park_timeout(left);
    }
    nudge.taken(batch.len());
    batch
}

/// Moves what is waiting into `batch`, up to [`BATCH`]; false once the
/// recorders are gone.
fn take_waiting(rx: &Receiver<Past>, batch: &mut Vec<Past>) -> bool {
    while batch.len() < BATCH {
        match rx.try_recv() {
            Ok(past) => batch.push(past),
            Err(TryRecvError::Empty) => return true,
            Err(TryRecvError::Disconnected) => return false,
        }
    }
    true
}

/// How the hub wakes the writer from its commit wait, which no single
/// event does: when a whole batch is waiting, and when the recorders are
/// gone.
#[derive(Debug, Default)]
struct Nudge {
    /// The writer's thread, once it has started.
    writer: OnceLock<Thread>,
    /// Events handed over that the writer has not taken yet.
    waiting: AtomicUsize,
    /// Times the writer went to sleep, so that a test can wake it from
    /// its sleep, not before.
    #[cfg(test)]
    sleeps: AtomicUsize,
}

impl Nudge {
    fn wake(&self) {
        if let Some(writer) = self.writer.get() {
            writer.unpark();
        }
    }

    /// Counts one more event before it is handed over, so that the
    /// writer never takes an event not counted yet (the count would
    /// drift up, past the batch, and never wake it again); returns
    /// whether it makes a whole batch, to wake the writer once handed.
    fn handing(&self) -> bool {
        self.waiting.fetch_add(1, Ordering::Relaxed) + 1 == BATCH
    }

    /// The writer took `n` events (or `n` were never handed).
    fn taken(&self, n: usize) {
        let _ = self
            .waiting
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                Some(w.saturating_sub(n))
            });
    }
}

/// Wakes the writer once the recorder is gone. A field after the sender,
/// so that it is dropped after it: the writer, woken, finds the queue
/// closed and commits at once.
#[derive(Debug)]
struct NudgeOnDrop(Arc<Nudge>);

impl Drop for NudgeOnDrop {
    fn drop(&mut self) {
        self.0.wake();
    }
}

/// The hub's way to hand events to the writer, without ever waiting.
#[derive(Debug)]
pub struct Recorder {
    tx: SyncSender<Past>,
    /// A warning about falling behind was logged already.
    warned: Arc<AtomicBool>,
    nudge: NudgeOnDrop,
}

impl Recorder {
    /// Hands `past` to the writer; when it is behind (or gone), the event
    /// stays in memory only.
    pub fn record(&self, past: Past) {
        let nudge = &self.nudge.0;
        let whole_batch = nudge.handing();
        let handed = self.tx.try_send(past);
        if handed.is_err() {
            nudge.taken(1);
        }
        match handed {
            Ok(()) if whole_batch => nudge.wake(),
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!("the history database is not keeping up; new messages are kept in memory only until it does");
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "the history writer has stopped; history is kept in memory only"
                    );
                }
            }
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEEK: Retention = Retention {
        max_age: Duration::from_secs(7 * 86_400),
        max_rows: 100_000,
    };

    fn past(id: u64, event: Event) -> Past {
        Past {
            stamp: Stamp {
                id,
                ms: now_ms() as u64 - 1000 + id,
            },
            event,
        }
    }

    /// Alice's line `id`.
    fn said(id: u64) -> Past {
        past(
            id,
            Event::Message {
                from: "alice".into(),
                text: format!("line {id}"),
            },
        )
    }

    /// A test's own directory, removed with what is in it when the test
    /// ends, pass or fail.
    struct TempDir(std::path::PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A fresh database path, in a directory of its own.
    fn file(name: &str) -> (TempDir, String) {
        let dir = std::env::temp_dir().join(format!("lanchat-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(name).display().to_string();
        (TempDir(dir), path)
    }

    #[tokio::test]
    async fn what_is_written_is_read_back_after_a_restart() {
        let (_dir, path) = file("restart.sqlite");
        let written = vec![
            past(
                5,
                Event::Message {
                    from: "alice".into(),
                    text: "hi".into(),
                },
            ),
            past(
                6,
                Event::Whisper {
                    from: "bob".into(),
                    to: "alice".into(),
                    text: "psst".into(),
                },
            ),
            past(
                7,
                Event::Action {
                    from: "bob".into(),
                    text: "waves".into(),
                },
            ),
        ];
        let tracker = TaskTracker::new();
        let (recorder, mut stored) = Store::open(&path, WEEK).unwrap().start(&tracker);
        for p in &written {
            recorder.record(p.clone());
        }
        // The writer says how far it has committed.
        while *stored.borrow_and_update() < 7 {
            stored.changed().await.unwrap();
        }
        drop(recorder);
        tracker.close();
        tracker.wait().await;

        let store = Store::open(&path, WEEK).unwrap();
        let (pasts, last) = store.load(100).unwrap();
        assert_eq!(pasts, written);
        assert_eq!(last.id, 7);
        let (pasts, _) = store.load(2).unwrap();
        assert_eq!(pasts, written[1..]);
    }

    #[test]
    fn what_waits_is_committed_together_and_nothing_past_the_cap() {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        for id in 2..=BATCH as u64 + 10 {
            tx.try_send(said(id)).unwrap();
        }
        // Whatever is already queued joins the first event, up to the cap,
        // without waiting for more.
        let batch = gather(&rx, said(1), Duration::ZERO, &Nudge::default());
        let ids: Vec<u64> = batch.iter().map(|p| p.stamp.id).collect();
        assert_eq!(ids, (1..=BATCH as u64).collect::<Vec<_>>());
        // The recorders gone, the rest is committed at once: a shutdown
        // does not wait out the commit wait.
        drop(tx);
        let first = rx.recv().unwrap();
        let batch = gather(&rx, first, Duration::from_secs(3600), &Nudge::default());
        let ids: Vec<u64> = batch.iter().map(|p| p.stamp.id).collect();
        assert_eq!(
            ids,
            (BATCH as u64 + 1..=BATCH as u64 + 10).collect::<Vec<_>>()
        );
    }

    /// The writer, gathering for an hour, commits at once when a whole
    /// batch is waiting, and again when the recorder is dropped: neither
    /// a busy room nor a shutdown waits out the commit wait. (The
    /// timeouts only keep a broken build from hanging for the hour.)
    #[test]
    fn a_full_batch_or_the_recorder_gone_ends_the_commit_wait() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let tracker = TaskTracker::new();
        let store = Store::open(MEMORY, WEEK).unwrap();
        let (recorder, mut stored) = {
            let _inside = runtime.enter();
            store.start_with(&tracker, Duration::from_secs(3600))
        };
        let nudge = recorder.nudge.0.clone();
        let counted = nudge.clone();
        let outcome = runtime.block_on(async move {
            let hang = Duration::from_secs(60);
            let asleep = |times| {
                let nudge = nudge.clone();
                let sleeping = async move {
                    while nudge.sleeps.load(Ordering::Relaxed) < times {
                        tokio::task::yield_now().await;
                    }
                };
                tokio::time::timeout(hang, sleeping)
            };
            recorder.record(said(1));
            asleep(1).await.map_err(|_| "the writer never slept")?;
            for id in 2..=BATCH as u64 {
                recorder.record(said(id));
            }
            let full = BATCH as u64;
            tokio::time::timeout(hang, stored.wait_for(|&id| id == full))
                .await
                .map_err(|_| "a whole batch waited for the commit wait")?
                .map_err(|_| "the writer stopped")?;
            recorder.record(said(full + 1));
            asleep(2)
                .await
                .map_err(|_| "the writer never slept again")?;
            drop(recorder);
            tracker.close();
            tokio::time::timeout(hang, tracker.wait())
                .await
                .map_err(|_| "a shutdown waited for the commit wait")?;
            if counted.waiting.load(Ordering::Relaxed) != 0 {
                return Err("the count of events waiting drifted");
            }
            let last = *stored.borrow();
            Ok::<_, &str>(last)
        });
        // A writer left asleep by a failure must not hold the test.
        runtime.shutdown_timeout(Duration::from_secs(1));
        assert_eq!(outcome, Ok(BATCH as u64 + 1));
    }

    #[test]
    fn old_and_surplus_rows_are_pruned() {
        let (_dir, path) = file("prune.sqlite");
        let mut store = Store::open(&path, WEEK).unwrap();
        let old = Past {
            stamp: Stamp { id: 1, ms: 1000 },
            event: Event::Message {
                from: "a".into(),
                text: "ancient".into(),
            },
        };
        let recent: Vec<Past> = (2..=6)
            .map(|id| {
                let text = format!("m{id}");
                past(
                    id,
                    Event::Message {
                        from: "a".into(),
                        text,
                    },
                )
            })
            .collect();
        store.insert(&[old]).unwrap();
        store.insert(&recent).unwrap();
        store.retention.max_rows = 3;
        store.prune().unwrap();
        let (pasts, last) = store.load(100).unwrap();
        assert_eq!(pasts, recent[2..]);
        assert_eq!(last.id, 6);
        // Everything too old: nothing is shown, and ids still go on.
        store.retention.max_age = Duration::ZERO;
        store.prune().unwrap();
        let (pasts, last) = store.load(100).unwrap();
        assert!(pasts.is_empty());
        assert_eq!(last.id, 6);
        // And again, for what was said since.
        store
            .insert(&[past(
                7,
                Event::Message {
                    from: "a".into(),
                    text: "m7".into(),
                },
            )])
            .unwrap();
        assert_eq!(store.load(100).unwrap().1.id, 7);
        store.prune().unwrap();
        let (pasts, last) = store.load(100).unwrap();
        assert!(pasts.is_empty());
        assert_eq!(last.id, 7);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
        let (_dir, path) = file("garbage.sqlite");
        let garbage = b"this is not a database, but somebody's notes\n".repeat(200);
        std::fs::write(&path, &garbage).unwrap();
        let error = Store::open(&path, WEEK).unwrap_err().to_string();
        assert!(
            error.contains(&path) && error.contains("unreadable"),
            "{error}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }

    #[test]
    fn memory_only_works_too() {
        let store = Store::open(MEMORY, WEEK).unwrap();
        let (pasts, last) = store.load(10).unwrap();
        assert!(pasts.is_empty() && last.id == 0);
    }
}
