//! A small runner for data-driven scenario files (test only).
//!
//! A file is a series of cases separated by blank lines; `#` lines are
//! comments. A case is a command line, a `----` line, and the expected
//! output up to the next blank line:
//!
//! ```text
//! # Add a voter.
//! simple v1
//! ----
//! voters=(1)
//! 1: StateProbe match=0 next=1
//! ```
//!
//! Arguments are bare words (`v1`), `key=value` or `key=(a b c)`. Run with
//! `REWRITE=1` to replace every expected output with the actual one.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// One argument of a command: `key`, `key=value` or `key=(v1 v2 ...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Arg {
    pub key: String,
    pub vals: Vec<String>,
}

/// One command of a scenario file.
#[derive(Debug)]
pub(crate) struct TestCase {
    /// Where the command is, as `file:line`.
    pub pos: String,
    pub cmd: String,
    pub args: Vec<Arg>,
}

impl TestCase {
    /// The values of argument `key`, if present.
    pub fn arg(&self, key: &str) -> Option<&[String]> {
        self.args
            .iter()
            .find(|a| a.key == key)
            .map(|a| a.vals.as_slice())
    }

    /// The values of argument `key` as node ids; none when absent.
    pub fn ids(&self, key: &str) -> Vec<u64> {
        self.arg(key)
            .unwrap_or_default()
            .iter()
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{}: bad id {v}", self.pos))
            })
            .collect()
    }
}

/// Splits a command line into the command and its arguments.
fn parse_command(line: &str, pos: &str) -> (String, Vec<Arg>) {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut depth = 0;
    for c in line.chars() {
        match c {
            '(' => {
                depth += 1;
                current.push(c);
            }
            ')' => {
                assert!(depth > 0, "{pos}: unbalanced ')' in {line:?}");
                depth -= 1;
                current.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    assert!(depth == 0, "{pos}: unbalanced '(' in {line:?}");
    if !current.is_empty() {
        tokens.push(current);
    }
    let mut tokens = tokens.into_iter();
    let cmd = tokens
        .next()
        .unwrap_or_else(|| panic!("{pos}: empty command"));
    let args = tokens
        .map(|token| match token.split_once('=') {
            None => Arg {
                key: token,
                vals: vec![],
            },
            Some((key, value)) => {
                let vals = match value.strip_prefix('(') {
                    Some(inner) => inner
                        .strip_suffix(')')
                        .unwrap_or_else(|| panic!("{pos}: bad list in {token:?}"))
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect(),
                    None => vec![value.to_owned()],
                };
                Arg {
                    key: key.to_owned(),
                    vals,
                }
            }
        })
        .collect();
    (cmd, args)
}

/// The directory of test data files for a module of this crate.
pub(crate) fn testdata_dir(module: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(module)
        .join("testdata")
}

/// Runs every `.txt` file of `dir` (in name order) through [`run_file`],
/// with a fresh `run` closure per file from `new_runner`.
pub(crate) fn run_dir<F: FnMut(&TestCase) -> String>(
    dir: &Path,
    mut new_runner: impl FnMut() -> F,
) {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no test data in {}", dir.display());
    for file in files {
        run_file(&file, new_runner());
    }
}

/// Runs the commands of one scenario file in order through `run`, and
/// compares each output with the expected one. Panics listing every
/// mismatch; with `REWRITE=1` rewrites the file with the actual outputs
/// instead.
pub(crate) fn run_file(path: &Path, mut run: impl FnMut(&TestCase) -> String) {
    let content =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let lines: Vec<&str> = content.lines().collect();
    let mut rewritten = String::new();
    let mut mismatches = String::new();
    let mut cases = 0;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() || line.starts_with('#') {
            rewritten.push_str(line);
            rewritten.push('\n');
            i += 1;
            continue;
        }
        let pos = format!("{name}:{}", i + 1);
        let (cmd, args) = parse_command(line, &pos);
        i += 1;
        assert!(
            lines.get(i) == Some(&"----"),
            "{pos}: expected a '----' line after the command"
        );
        i += 1;
        let start = i;
        while i < lines.len() && !lines[i].trim().is_empty() {
            i += 1;
        }
        let expected = lines[start..i].join("\n");
        // The blank line that ends the case belongs to it.
        if i < lines.len() {
            i += 1;
        }

        let case = TestCase { pos, cmd, args };
        let actual = run(&case);
        let actual = actual.trim_end();
        assert!(
            !actual.lines().any(|l| l.trim().is_empty()),
            "{}: output has a blank line:\n{actual}",
            case.pos
        );
        cases += 1;
        if actual != expected {
            let _ = write!(
                mismatches,
                "\n{}: {line}\n--- expected\n{expected}\n--- actual\n{actual}\n",
                case.pos
            );
        }
        let _ = write!(rewritten, "{line}\n----\n{actual}\n\n");
    }
    assert!(cases > 0, "{name}: no test cases");

    if std::env::var("REWRITE").is_ok_and(|v| v == "1") {
        let rewritten = format!("{}\n", rewritten.trim_end());
        fs::write(path, rewritten).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    } else if !mismatches.is_empty() {
        panic!("{name}: output differs (REWRITE=1 to update):{mismatches}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_into_keys_and_lists() {
        let (cmd, args) = parse_command("vote cfg=(1 2  3) votes=(y n _) v1 x=7", "t:1");
        assert_eq!(cmd, "vote");
        let arg = |key: &str, vals: &[&str]| Arg {
            key: key.into(),
            vals: vals.iter().map(|v| v.to_string()).collect(),
        };
        assert_eq!(
            args,
            vec![
                arg("cfg", &["1", "2", "3"]),
                arg("votes", &["y", "n", "_"]),
                arg("v1", &[]),
                arg("x", &["7"]),
            ]
        );
        let (_, args) = parse_command("committed cfg=()", "t:1");
        assert_eq!(args, vec![arg("cfg", &[])]);
    }

    #[test]
    #[should_panic(expected = "t:3: unbalanced '('")]
    fn unbalanced_parens_are_reported_with_position() {
        parse_command("vote cfg=(1 2", "t:3");
    }
}
