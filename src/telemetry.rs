//! Structured logs with `tracing`; `RUST_LOG` picks the level (default `info`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

pub fn init() {
    // A second init is harmless: keep the first.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// Logs for tests: written through the test harness's output capture, so a
/// test's server logs are shown only when that test fails (`cargo test`
/// stays quiet when everything passes; `--nocapture` shows them all).
pub fn init_for_tests() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_ansi(false)
        .with_test_writer()
        .try_init();
}
