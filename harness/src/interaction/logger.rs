//! Routes the nodes' log lines into a scenario's output.
//!
//! Every node of an [`Env`](super::Env) logs through a [`slog`] logger whose
//! drain writes into the same [`Output`] as the commands, so a scenario shows
//! state transitions ("became leader at term 1") where they happen. Lines
//! carry no timestamp: `LEVEL ID message (key: value, ...)`.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use slog::{Drain, Key, Level, Never, OwnedKVList, Record, Serializer, KV};

/// The text a scenario command produces, shared with the nodes' loggers.
#[derive(Debug)]
pub struct Output {
    /// The text written so far.
    pub text: String,
    /// Spaces before each line, for output nested under a heading.
    pub indent: usize,
    /// The least severe level written; `None` writes no log lines.
    pub level: Option<Level>,
}

impl Output {
    /// Appends one line at the current indentation.
    pub fn line(&mut self, line: impl fmt::Display) {
        for _ in 0..self.indent {
            self.text.push(' ');
        }
        use std::fmt::Write as _;
        let _ = writeln!(self.text, "{line}");
    }
}

/// An [`Output`] shared between the environment and its loggers.
#[derive(Clone, Debug)]
pub struct SharedOutput(Arc<Mutex<Output>>);

impl SharedOutput {
    /// An empty output logging at `level`.
    pub fn new(level: Option<Level>) -> SharedOutput {
        SharedOutput(Arc::new(Mutex::new(Output {
            text: String::new(),
            indent: 0,
            level,
        })))
    }

    /// Locks the output.
    pub fn lock(&self) -> MutexGuard<'_, Output> {
        // A test that panicked while writing has failed already; its text
        // is still worth reading.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A logger whose lines go into this output.
    pub fn logger(&self) -> slog::Logger {
        slog::Logger::root(OutputDrain(self.clone()), slog::o!())
    }
}

/// Parses a level name as the `log-level` command takes it.
pub fn parse_level(name: &str) -> Result<Option<Level>, String> {
    match name.to_ascii_lowercase().as_str() {
        "none" | "off" => Ok(None),
        "trace" => Ok(Some(Level::Trace)),
        "debug" => Ok(Some(Level::Debug)),
        "info" => Ok(Some(Level::Info)),
        "warn" | "warning" => Ok(Some(Level::Warning)),
        "error" => Ok(Some(Level::Error)),
        other => Err(format!(
            "unknown log level {other:?} (none, trace, debug, info, warn, error)"
        )),
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Critical => "CRITICAL",
        Level::Error => "ERROR",
        Level::Warning => "WARN",
        Level::Info => "INFO",
        Level::Debug => "DEBUG",
        Level::Trace => "TRACE",
    }
}

/// The drain writing log records as lines into a [`SharedOutput`].
struct OutputDrain(SharedOutput);

impl Drain for OutputDrain {
    type Ok = ();
    type Err = Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), Never> {
        let mut output = self.0.lock();
        match output.level {
            Some(least) if record.level().is_at_least(least) => {}
            _ => return Ok(()),
        }
        let mut fields = Fields::default();
        // The logger's own values (the node id) then the record's.
        let _ = values.serialize(record, &mut fields);
        let logger_pairs = fields.pairs.len();
        let _ = record.kv().serialize(record, &mut fields);
        // slog hands a record's pairs over last first.
        fields.pairs[logger_pairs..].reverse();
        let mut line = format!("{} ", level_name(record.level()));
        if let Some(id) = &fields.raft_id {
            line.push_str(id);
            line.push(' ');
        }
        line.push_str(&record.msg().to_string());
        if !fields.pairs.is_empty() {
            line.push_str(" (");
            line.push_str(&fields.pairs.join(", "));
            line.push(')');
        }
        output.line(line);
        Ok(())
    }
}

/// The key-values of one record, as text.
#[derive(Default)]
struct Fields {
    raft_id: Option<String>,
    pairs: Vec<String>,
}

impl Serializer for Fields {
    fn emit_arguments(&mut self, key: Key, val: &fmt::Arguments<'_>) -> slog::Result {
        if key == "raft_id" {
            self.raft_id = Some(val.to_string());
        } else {
            self.pairs.push(format!("{key}: {val}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_level_id_message_and_fields_and_honour_the_level() {
        let output = SharedOutput::new(Some(Level::Info));
        let logger = output.logger().new(slog::o!("raft_id" => 3));
        slog::info!(logger, "became leader at term {}", 2; "term" => 2, "from" => 1);
        slog::debug!(logger, "hidden");
        output.lock().indent = 2;
        slog::warn!(logger, "careful");
        assert_eq!(
            output.lock().text,
            "INFO 3 became leader at term 2 (term: 2, from: 1)\n  WARN 3 careful\n"
        );
        output.lock().level = None;
        slog::error!(logger, "silenced");
        assert!(!output.lock().text.contains("silenced"));
    }
}
