//! The history store's write throughput: batches of messages written in
//! one transaction each, to a file in WAL mode, as the history writer does;
//! and (printed first) how much the file grows per 100,000 messages. Run
//! with `cargo bench -p lanchat-server --bench store`.

use std::time::Duration;

use divan::Bencher;
use lanchat_core::{Event, Past, Stamp};
use lanchat_server::bench_api::store_write;
use lanchat_server::store::{Retention, Store};

const KEEP: Retention = Retention {
    max_age: Duration::from_secs(7 * 86_400),
    max_rows: u64::MAX,
};

fn main() {
    growth_per_100k();
    divan::main();
}

/// A fresh database file in the temporary directory.
fn fresh(name: &str) -> (Store, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!("lanchat-bench-{}-{name}", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = Store::open(&path.display().to_string(), KEEP).expect("a database");
    (store, path)
}

/// `n` messages of a typical length (60 bytes), from id `first`.
fn messages(first: u64, n: u64) -> Vec<Past> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    (first..first + n)
        .map(|id| Past {
            stamp: Stamp { id, ms: now },
            event: Event::Message {
                from: format!("member{}", id % 100),
                text: format!("{id:>10} the quick brown fox jumps over the lazy dog"),
            },
        })
        .collect()
}

fn growth_per_100k() {
    let (mut store, path) = fresh("growth.sqlite");
    for batch in 0..(100_000 / 500) {
        assert!(store_write(&mut store, &messages(batch * 500 + 1, 500)));
    }
    drop(store);
    let size = |p: String| std::fs::metadata(p).map_or(0, |m| m.len());
    let total = size(path.display().to_string()) + size(format!("{}-wal", path.display()));
    eprintln!(
        "history store: {:.1} MB per 100,000 messages of 60 bytes",
        total as f64 / 1e6
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// One transaction of `n` messages (the writer's batch is at most 512).
#[divan::bench(args = [1, 64, 512])]
fn write_batch(bencher: Bencher, n: u64) {
    let (mut store, _path) = fresh(&format!("batch-{n}.sqlite"));
    let mut next = 1;
    bencher
        .counter(divan::counter::ItemsCount::new(n))
        .bench_local(|| {
            let batch = messages(next, n);
            next += n;
            assert!(store_write(&mut store, &batch));
        });
}
