//! Giving memory back to the operating system after a burst.
//!
//! A burst (a whole LAN party joining at once: each welcome lists the room,
//! and every join is announced to everyone) queues megabytes of frames for
//! a moment.
//! Once they are written the memory is free, but glibc's allocator keeps
//! most of it mapped in its per-thread arenas, so the server's resident
//! size stays at its peak while the room sits idle. The hub counts what it
//! queues and, after a burst followed by a quiet moment, asks the allocator
//! to return its free pages.
//!
//! The server also tunes glibc at start ([`tune_allocator`]):
//!
//! - one arena instead of one per thread: frames are allocated by the hub
//!   and freed by the connections on other threads, which with several
//!   arenas leaves each arena with half-empty pages (measured: 4.1 instead
//!   of 4.6 kB per idle client, medians of 5, and no change in throughput;
//!   small allocations still go through each thread's cache without a
//!   lock);
//! - no automatic trimming of the heap's top below 16 MiB: under load the
//!   write batches come and go, and giving their pages back only to fault
//!   them in again cost about a tenth of the server's CPU (measured: 0.103
//!   to 0.115 instead of 0.116 to 0.127 µs per delivery, four interleaved
//!   pairs). The trim after a burst, below, still returns idle memory.
//!
//! And one setting glibc takes only from the environment, when a process
//! starts ([`GLIBC_TUNABLES`], which the `lanchat` binary sets for the
//! server by starting itself again in place): each thread's cache of freed
//! chunks keeps only chunks of up to 256 bytes. The bigger ones it kept
//! (up to 1 KiB, seven of each size per thread) pinned partly used pages:
//! with them, 1,000 idle clients cost 2.40 and 2.54 kB each; without,
//! 2.25 and 2.28, with fan-out and light load unchanged (9.70, 9.68 and
//! 9.74, 9.64 M deliveries/s; 3.1, 3.4 and 3.2, 3.4 µs per delivery).

use std::time::Duration;

/// The glibc tunables the server runs with (see the module's header), in
/// the syntax of the `GLIBC_TUNABLES` environment variable.
pub const GLIBC_TUNABLES: &str = "glibc.malloc.tcache_max=256";

/// Queued bytes (counted once per recipient) that make a burst worth
/// trimming after.
pub(crate) const BURST_BYTES: usize = 4 << 20;

/// How long the hub must have been idle before it trims.
pub(crate) const QUIET: Duration = Duration::from_millis(200);

/// Tunes glibc's allocator for the server (see the module's header). Call
/// it before any other thread starts (before the runtime is built).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; a refused value is
    // reported by its return value, which we may ignore (the defaults are
    // merely slower or less compact).
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 16 << 20);
    }
}

/// Returns free heap pages to the operating system. A no-op where the
/// allocator has no such call.
pub(crate) fn release_free_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it has
    // no preconditions and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
