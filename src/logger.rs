//! The terminal logger used when the caller brings none.

use std::sync::{Mutex, OnceLock};

use slog::{o, Drain, Logger};

/// Returns the process's default logger: a terminal logger filtered by the
/// `RUST_LOG` environment variable (for example `RUST_LOG=raft=debug`).
///
/// One logger is built per process and shared. When called from a test
/// thread, the returned logger carries the thread's name (the test's name)
/// as the `test` key, so interleaved output of parallel tests stays legible.
pub fn default_logger() -> Logger {
    static LOGGER: OnceLock<Logger> = OnceLock::new();
    let logger = LOGGER.get_or_init(|| {
        let decorator = slog_term::TermDecorator::new().stderr().build();
        let drain = slog_term::FullFormat::new(decorator).build();
        let drain = slog_envlogger::new(drain);
        Logger::root(Mutex::new(drain).fuse(), o!())
    });
    match std::thread::current().name() {
        Some(name) if name != "main" => logger.new(o!("test" => name.to_owned())),
        _ => logger.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_logger_is_shared_and_usable() {
        let a = default_logger();
        let b = default_logger();
        slog::debug!(a, "first"; "k" => 1);
        slog::debug!(b, "second");
        // Tagged with this test's thread name.
        assert!(format!("{:?}", a.list()).contains("test"));
    }
}
