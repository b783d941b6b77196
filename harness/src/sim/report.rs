//! The trace of a run (printed with `--trace`, kept as a ring for violation
//! reports) and its digest (to check that a seed replays exactly).

use std::collections::VecDeque;
use std::hash::Hasher;

use raft::eraftpb::Message;

use super::checks::Fnv;

/// How many trace lines a violation report shows.
pub const REPORT_LINES: usize = 80;

/// The trace of one run.
pub struct Trace {
    print: bool,
    ring: Option<VecDeque<String>>,
    digest: Fnv,
}

impl Trace {
    /// A trace that prints every line (`print`), keeps the last lines for a
    /// report (`keep`), or only digests.
    pub fn new(print: bool, keep: bool) -> Trace {
        Trace {
            print,
            ring: keep.then(VecDeque::new),
            digest: Fnv(0xcbf2_9ce4_8422_2325),
        }
    }

    /// Whether lines are formatted at all.
    pub fn verbose(&self) -> bool {
        self.print || self.ring.is_some()
    }

    /// Records an event: `fields` go into the digest, `line` is formatted
    /// only when someone reads it.
    pub fn event(&mut self, fields: &[u64], line: impl FnOnce() -> String) {
        for f in fields {
            self.digest.write_u64(*f);
        }
        if !self.verbose() {
            return;
        }
        let line = line();
        if self.print {
            println!("{line}");
        }
        if let Some(ring) = self.ring.as_mut() {
            if ring.len() == REPORT_LINES {
                ring.pop_front();
            }
            ring.push_back(line);
        }
    }

    /// Records a message event.
    pub fn message(&mut self, step: u64, what: &str, m: &Message) {
        let fields = [
            step,
            m.get_msg_type() as u64,
            m.from,
            m.to,
            m.term,
            m.index,
            m.log_term,
            m.commit,
            m.entries.len() as u64,
            u64::from(m.reject),
        ];
        self.event(&fields, || {
            format!(
                "{step:>6} {what} {:?} {}->{} term={} index={} log_term={} commit={} \
                 entries={} reject={}{}",
                m.get_msg_type(),
                m.from,
                m.to,
                m.term,
                m.index,
                m.log_term,
                m.commit,
                m.entries.len(),
                m.reject,
                if m.snapshot.is_some() {
                    format!(" snapshot@{}", m.get_snapshot().get_metadata().index)
                } else {
                    String::new()
                }
            )
        });
    }

    /// The digest of every event so far.
    pub fn digest(&self) -> u64 {
        self.digest.finish()
    }

    /// The last lines kept.
    pub fn last_lines(&self) -> Vec<String> {
        self.ring.iter().flatten().cloned().collect()
    }
}
