//! A runner for data-driven scenario files: a small command language with
//! golden output, in the style of etcd's interaction tests.
//!
//! A file is a series of cases separated by blank lines; `#` lines are
//! comments. A case is a command line, optional input lines, a `----` line,
//! and the expected output up to the next blank line:
//!
//! ```text
//! # Add a voter.
//! simple v1
//! ----
//! voters=(1)
//! 1: StateProbe match=0 next=1
//! ```
//!
//! Arguments are bare words (`v1`), `key=value` or `key=(v1 v2 ...)` (list
//! items separated by spaces or commas). Run with `REWRITE=1` to replace
//! every expected output with the actual one; otherwise a difference fails
//! with the file and line of the first differing output line and the
//! expected and actual lines around it.
//!
//! The runner only handles text, so both the `raft` crate's unit tests
//! (configuration changes, quorum arithmetic) and the harness's interaction
//! tests use this one copy.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// Lines of context shown on each side of the first difference.
const DIFF_CONTEXT_LINES: usize = 3;

/// One argument of a command: `key`, `key=value` or `key=(v1 v2 ...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// The name before `=`, or the whole bare word.
    pub key: String,
    /// The values after `=`; empty for a bare word.
    pub vals: Vec<String>,
}

/// One command of a scenario file.
#[derive(Debug)]
pub struct TestCase {
    /// Where the command is, as `file:line`.
    pub pos: String,
    /// The command name, the first word of the line.
    pub cmd: String,
    /// The arguments after the command name, in the order written.
    pub args: Vec<Arg>,
    /// The lines between the command line and `----`, joined with `\n`.
    pub input: String,
}

impl TestCase {
    /// The values of argument `key`, if present.
    pub fn arg(&self, key: &str) -> Option<&[String]> {
        self.args
            .iter()
            .find(|a| a.key == key)
            .map(|a| a.vals.as_slice())
    }

    /// The single value of argument `key` parsed as `T`; `None` when
    /// absent.
    ///
    /// # Panics
    ///
    /// When the argument has several values or does not parse, naming the
    /// case's position.
    pub fn value<T: std::str::FromStr>(&self, key: &str) -> Option<T> {
        let vals = self.arg(key)?;
        match vals {
            [v] => Some(
                v.parse()
                    .unwrap_or_else(|_| panic!("{}: bad value {key}={v}", self.pos)),
            ),
            _ => panic!("{}: {key} takes exactly one value, got {vals:?}", self.pos),
        }
    }

    /// The values of argument `key` as node ids; none when absent.
    ///
    /// # Panics
    ///
    /// When a value is not a number, naming the case's position.
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

    /// The bare-word arguments (those without `=`) parsed as numbers, in
    /// order, such as the node ids of `process-ready 1 2 3`.
    ///
    /// # Panics
    ///
    /// When a bare word is not a number, naming the case's position.
    pub fn bare_ids(&self) -> Vec<u64> {
        self.bare_words()
            .map(|w| {
                w.parse()
                    .unwrap_or_else(|_| panic!("{}: bad id {w}", self.pos))
            })
            .collect()
    }

    /// The bare-word arguments (those without `=`), in order.
    pub fn bare_words(&self) -> impl Iterator<Item = &str> {
        self.args
            .iter()
            .filter(|a| a.vals.is_empty() && !a.key.is_empty())
            .map(|a| a.key.as_str())
    }
}

/// Splits a command line into the command and its arguments.
///
/// # Panics
///
/// On unbalanced parentheses or an empty line, naming `pos`.
pub fn parse_command(line: &str, pos: &str) -> (String, Vec<Arg>) {
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
                        .split(|c: char| c.is_whitespace() || c == ',')
                        .filter(|v| !v.is_empty())
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

/// Runs every `.txt` file of `dir` (in name order) through [`run_file`],
/// with a fresh `run` closure per file from `new_runner`.
///
/// # Panics
///
/// When the directory cannot be read, holds no `.txt` file, or a file's
/// output differs (see [`run_file`]).
pub fn run_dir<F: FnMut(&TestCase) -> String>(dir: &Path, mut new_runner: impl FnMut() -> F) {
    for file in scenario_files(dir) {
        run_file(&file, new_runner());
    }
}

/// The `.txt` files of `dir`, in name order.
///
/// # Panics
///
/// When the directory cannot be read or holds no `.txt` file.
pub fn scenario_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no test data in {}", dir.display());
    files
}

/// Whether `REWRITE=1` asks for expected outputs to be rewritten.
fn rewrite_requested() -> bool {
    std::env::var("REWRITE").is_ok_and(|v| v == "1")
}

/// Runs the commands of one scenario file in order through `run`, and
/// compares each output with the expected one. With `REWRITE=1`, rewrites
/// the file with the actual outputs instead.
///
/// # Panics
///
/// When an output differs from the expected one (listing every differing
/// case, each with the first differing line and its surroundings), when an
/// output holds a blank line (it would end the case), or when the file is
/// malformed.
pub fn run_file(path: &Path, mut run: impl FnMut(&TestCase) -> String) {
    let content =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let name = path.display().to_string();
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
        let input_start = i;
        while i < lines.len() && lines[i] != "----" {
            assert!(
                !lines[i].trim().is_empty(),
                "{pos}: expected a '----' line after the command"
            );
            i += 1;
        }
        assert!(
            i < lines.len(),
            "{pos}: expected a '----' line after the command"
        );
        let input_lines = &lines[input_start..i];
        i += 1;
        let expected_start = i;
        while i < lines.len() && !lines[i].trim().is_empty() {
            i += 1;
        }
        let expected = lines[expected_start..i].join("\n");
        // The blank line that ends the case belongs to it.
        if i < lines.len() {
            i += 1;
        }

        let case = TestCase {
            pos,
            cmd,
            args,
            input: input_lines.join("\n"),
        };
        let actual = run(&case);
        let actual = actual.trim_end();
        assert!(
            !actual.lines().any(|l| l.trim().is_empty()),
            "{}: output has a blank line:\n{actual}",
            case.pos
        );
        cases += 1;
        if actual != expected {
            // Line numbers are 1-based; the output starts after `----`.
            let first_line = expected_start + 1;
            mismatches.push_str(&describe_difference(
                &case.pos, line, &name, first_line, &expected, actual,
            ));
        }
        rewritten.push_str(line);
        rewritten.push('\n');
        for input in input_lines {
            rewritten.push_str(input);
            rewritten.push('\n');
        }
        let _ = write!(rewritten, "----\n{actual}\n\n");
    }
    assert!(cases > 0, "{name}: no test cases");

    if rewrite_requested() {
        let rewritten = format!("{}\n", rewritten.trim_end());
        fs::write(path, rewritten).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    } else if !mismatches.is_empty() {
        panic!("{name}: output differs (run with REWRITE=1 to accept the new output):{mismatches}");
    }
}

/// Describes how the output of the command at `pos` differs: the file line
/// of the first differing output line, then the expected (`-`) and actual
/// (`+`) lines around it. `first_line` is the file line of the first
/// expected output line.
fn describe_difference(
    pos: &str,
    command: &str,
    file: &str,
    first_line: usize,
    expected: &str,
    actual: &str,
) -> String {
    let expected: Vec<&str> = if expected.is_empty() {
        Vec::new()
    } else {
        expected.lines().collect()
    };
    let actual: Vec<&str> = actual.lines().collect();
    let first_diff = expected
        .iter()
        .zip(&actual)
        .position(|(e, a)| e != a)
        .unwrap_or(expected.len().min(actual.len()));
    let from = first_diff.saturating_sub(DIFF_CONTEXT_LINES);
    let mut text = String::new();
    let _ = writeln!(text, "\n{pos}: {command}");
    let _ = writeln!(
        text,
        "first difference at {file}:{} (output line {}, {} lines expected, {} produced)",
        first_line + first_diff,
        first_diff + 1,
        expected.len(),
        actual.len(),
    );
    for line in &expected[from..first_diff] {
        let _ = writeln!(text, "  {line}");
    }
    let window = |lines: &[&str]| {
        let to = (first_diff + DIFF_CONTEXT_LINES + 1).min(lines.len());
        lines[first_diff.min(to)..to]
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
    };
    for line in window(&expected) {
        let _ = writeln!(text, "- {line}");
    }
    for line in window(&actual) {
        let _ = writeln!(text, "+ {line}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_into_keys_and_lists() {
        let (cmd, args) = parse_command("vote cfg=(1 2  3) votes=(y,n,_) v1 x=7", "t:1");
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

    #[test]
    fn a_difference_names_the_file_line_and_shows_both_sides() {
        let text = describe_difference(
            "f.txt:4",
            "stabilize",
            "f.txt",
            6,
            "a\nb\nc\nd",
            "a\nb\nX\nd",
        );
        assert!(text.contains("f.txt:4: stabilize"), "{text}");
        assert!(
            text.contains("first difference at f.txt:8 (output line 3"),
            "{text}"
        );
        assert!(text.contains("- c\n- d\n+ X\n+ d\n"), "{text}");
        // A shorter output points just past its end.
        let text = describe_difference("f.txt:4", "x", "f.txt", 6, "a\nb", "a");
        assert!(text.contains("first difference at f.txt:7"), "{text}");
        assert!(text.contains("- b\n"), "{text}");
    }

    #[test]
    fn a_changed_output_fails_and_an_unchanged_one_passes() {
        let dir = std::env::temp_dir().join(format!("datadriven-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("echo.txt");
        fs::write(&file, "# Echoes.\necho a b\nin\n----\na b in\n").unwrap();
        let echo = |case: &TestCase| {
            let words: Vec<&str> = case.bare_words().collect();
            format!("{} {}", words.join(" "), case.input)
        };
        run_file(&file, echo);
        let failed = std::panic::catch_unwind(|| {
            run_file(&file, |_: &TestCase| "something else".to_owned())
        });
        let _ = fs::remove_dir_all(&dir);
        if !rewrite_requested() {
            assert!(failed.is_err());
        }
    }
}
