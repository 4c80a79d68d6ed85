//! How the server's allocator (mimalloc, `main.rs`) gives memory back.
//!
//! mimalloc returns the pages a thread has freed to the system only after a
//! delay (10 ms by default), and only when that thread next allocates or
//! frees a whole span of pages: a thread that frees much and then idles (the
//! start-up thread once sled has read its page table, the thread that built
//! the search vocabulary, the worker between two requests after an
//! aggregation that read a million entities) keeps every page it freed. At
//! 10 million entities, after the scale queries, heaptrack (under the system
//! allocator) found 145 MB still allocated while mimalloc held 270 MB
//! resident. Purging at once took the server from 279.5 MB to 234 MB after
//! one pass of the scale queries (docs/performance.md has the runs); the few
//! hundred `madvise` calls it costs are spent when a whole span is free, not
//! per request (a request's allocations come and go within pages the worker
//! keeps using).

use std::ffi::{c_int, c_long};

/// `mi_option_purge_delay`: its place in `mi_option_e` (mimalloc 2.x,
/// `include/mimalloc.h`, the version `libmimalloc-sys` 0.1.49 builds).
/// The test below fails if it named another option.
const MI_OPTION_PURGE_DELAY: c_int = 15;

/// The environment variables mimalloc reads the purge delay from (the second
/// is its older name): an operator who sets one keeps their value.
pub const PURGE_DELAY_VARIABLES: [&str; 2] = ["MIMALLOC_PURGE_DELAY", "MIMALLOC_RESET_DELAY"];

extern "C" {
    // mimalloc's own interface (linked in by the `mimalloc` crate).
    fn mi_option_set(option: c_int, value: c_long);
    fn mi_option_get(option: c_int) -> c_long;
}

/// Makes mimalloc give freed pages back to the system as soon as they are
/// free, unless `MIMALLOC_PURGE_DELAY` (or `MIMALLOC_RESET_DELAY`) says
/// otherwise. Returns the delay in force, in milliseconds. Harmless when
/// mimalloc is linked but not the global allocator (`system-alloc`).
pub fn purge_promptly() -> c_long {
    if PURGE_DELAY_VARIABLES
        .iter()
        .all(|name| std::env::var_os(name).is_none())
    {
        // SAFETY: setting an option is a plain store mimalloc allows at any
        // time, from any thread.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
    // SAFETY: as above, a plain read.
    unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{GlobalAlloc, Layout};
    use std::sync::mpsc;

    /// The process's resident memory, in bytes.
    fn resident() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").expect("reading /proc/self/statm");
        let pages: usize = statm
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .expect("statm's resident pages");
        // SAFETY: sysconf has no preconditions.
        pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize
    }

    const MIB: usize = 1024 * 1024;

    #[test]
    fn memory_freed_by_a_thread_that_then_idles_goes_back_to_the_system() {
        if PURGE_DELAY_VARIABLES
            .iter()
            .any(|name| std::env::var_os(name).is_some())
        {
            // The delay is the operator's: nothing of ours to check.
            assert_ne!(purge_promptly(), 0, "a delay set in the environment was overridden");
            return;
        }
        assert_eq!(purge_promptly(), 0);
        let before = resident();
        let (freed, on_freed) = mpsc::channel();
        let (wake, on_wake) = mpsc::channel::<()>();
        // Like a worker: it allocates 128 MiB in small pieces through
        // mimalloc (here called directly: the test binary's global allocator
        // is the system's), frees them all, then idles.
        let worker = std::thread::spawn(move || {
            let layout = Layout::from_size_align(1024, 8).unwrap();
            let blocks: Vec<*mut u8> = (0..128 * 1024)
                .map(|_| {
                    // SAFETY: a non-zero layout; the block is written within it.
                    let block = unsafe { mimalloc::MiMalloc.alloc(layout) };
                    assert!(!block.is_null());
                    unsafe { block.write_bytes(7, layout.size()) };
                    block
                })
                .collect();
            let peak = resident();
            for block in blocks {
                // SAFETY: allocated above with this layout, freed once.
                unsafe { mimalloc::MiMalloc.dealloc(block, layout) };
            }
            freed.send(peak).unwrap();
            on_wake.recv().ok();
        });
        let peak = on_freed.recv().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let after = resident();
        wake.send(()).unwrap();
        worker.join().unwrap();
        assert!(
            peak >= before + 120 * MIB,
            "the worker's 128 MiB did not show: {before} bytes resident before, {peak} at its peak"
        );
        assert!(
            after < before + 24 * MIB,
            "an idle thread kept what it freed: {before} bytes resident before, {peak} at its peak, {after} after it freed them"
        );
    }
}
