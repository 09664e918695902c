//! Running external programs from argument vectors (never a shell): streamed to the terminal,
//! into a log file, or captured. Every child is tracked so an interrupt can stop it, and every
//! command prints the same way in errors and `--dry-run`, with secrets masked.

use std::ffi::OsString;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::secrets::{self, redact};

/// Lines of a failed command's log shown in its error.
const LOG_TAIL_LINES: usize = 25;

/// How often a child that has not exited yet is looked at again: the first look comes at once,
/// then the pause doubles from the first value up to the second. A child is seen at most 2 ms
/// after it exits; a long build costs 500 non-blocking `waitpid`s a second, microseconds each.
const REAP_PAUSES: (Duration, Duration) = (Duration::from_micros(50), Duration::from_millis(2));

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// A program and its arguments. Shown (also by `{:?}`) with secrets masked.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    pub program: OsString,
    pub args: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{step} failed: `{command}` {status}{detail}")]
    Failed {
        step: String,
        command: String,
        status: ExitStatus,
        /// The end of the command's output when it did not go to the terminal.
        detail: String,
    },
    #[error("{step} failed: could not run `{program}`")]
    Spawn {
        step: String,
        program: String,
        source: std::io::Error,
    },
    #[error("{step} failed")]
    Io {
        step: String,
        source: std::io::Error,
    },
    #[error("interrupted")]
    Interrupted,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn kind(&self) -> crate::exit::Kind {
        match self {
            Error::Interrupted => crate::exit::Kind::Interrupted,
            _ => crate::exit::Kind::Failed,
        }
    }
}

/// Stops every running child and makes every later spawn fail; called from the signal handler.
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    for &pid in running.iter() {
        // A child we spawned and have not reaped yet (it is reaped only while RUNNING is locked,
        // and leaves it then), so the pid is still its own; one that exited already is no
        // error worth a word.
        let _ = kill(child_pid(pid), Signal::SIGTERM);
    }
}

pub fn is_interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

impl Command {
    pub fn new(
        program: impl Into<OsString>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
        }
    }

    /// Runs with its output on our stderr (stdout carries only data, e.g. `list`); a program
    /// given secrets has its output pass through here, each secret replaced.
    pub fn run(&self, step: &str) -> Result<()> {
        let secrets = self.secret_values();
        if !secrets.is_empty() {
            return self.run_redacted(step, &secrets);
        }
        let mut command = self.std();
        command.stdin(Stdio::null()).stdout(std::io::stderr());
        let status = self.wait_piped(step, command, |_| Ok(()))?;
        self.check(step, status, String::new())
    }

    /// Runs like `run`, its stdout and stderr merged and each line shown with `secrets` replaced.
    fn run_redacted(&self, step: &str, secrets: &[String]) -> Result<()> {
        let io = |source| Error::Io {
            step: step.to_owned(),
            source,
        };
        let (reader, writer) = std::io::pipe().map_err(io)?;
        let mut command = self.std();
        command
            .stdin(Stdio::null())
            .stdout(writer.try_clone().map_err(io)?)
            .stderr(writer);
        let show_lines = move |_: &mut std::process::Child| -> std::io::Result<()> {
            for line in BufReader::new(reader).split(b'\n') {
                say!("{}", String::from_utf8_lossy(&redact(&line?, secrets)));
            }
            Ok(())
        };
        let status = self.wait_piped(step, command, show_lines)?;
        self.check(step, status, String::new())
    }

    /// Runs like `run`, and also returns what the program wrote on stderr (shown as it came),
    /// for a caller that reads why it failed.
    pub fn run_teeing_stderr(&self, step: &str) -> (Result<()>, String) {
        let mut command = self.std();
        command
            .stdin(Stdio::null())
            .stdout(std::io::stderr())
            .stderr(Stdio::piped());
        let mut stderr = String::new();
        let status = self.wait_piped(step, command, |child| {
            let Some(pipe) = child.stderr.take() else {
                return Ok(());
            };
            for line in BufReader::new(pipe).lines() {
                let line = line?;
                say!("{line}");
                stderr.push_str(&line);
                stderr.push('\n');
            }
            Ok(())
        });
        let result = status.and_then(|status| self.check(step, status, String::new()));
        (result, stderr)
    }

    /// Runs with stdout and stderr, merged, appended to `log` and handed line by line to
    /// `on_line`; on failure the error shows the log's last lines.
    pub fn run_logged(&self, step: &str, log: &Path, on_line: &mut dyn FnMut(&str)) -> Result<()> {
        let io = |source| Error::Io {
            step: step.to_owned(),
            source,
        };
        let mut file = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(io)?;
        let (reader, writer) = std::io::pipe().map_err(io)?;
        let mut command = self.std();
        command
            .stdin(Stdio::null())
            .stdout(writer.try_clone().map_err(io)?)
            .stderr(writer);
        // The program may print a secret it was given (`RUN echo $TOKEN`, a failing `git clone`
        // of `https://$TOKEN@...`): it is replaced before it reaches the log or the terminal.
        let secrets = self.secret_values();
        let mut copy_lines = |reader: std::io::PipeReader| -> std::io::Result<()> {
            for line in BufReader::new(reader).split(b'\n') {
                let line = redact(&line?, &secrets);
                file.write_all(&line)?;
                file.write_all(b"\n")?;
                on_line(&String::from_utf8_lossy(&line));
            }
            Ok(())
        };
        let status = self.wait_piped(step, command, move |_| copy_lines(reader))?;
        self.check(step, status, log_tail(log))
    }

    /// Runs and returns stdout; stderr is kept for the error. `input` is written to stdin
    /// (a secret, typically) and never shown.
    pub fn output(&self, step: &str, input: Option<&str>) -> Result<String> {
        let (status, captured) = self.capture(step, input)?;
        self.check(step, status, stderr_detail(&captured.stderr))?;
        Ok(captured.stdout)
    }

    /// Runs and returns stdout, also when the command fails in a way `tolerated` accepts: its
    /// stderr says why, and every line of it passes (e.g. `No such image` for a lookup of several
    /// images). A failure that says nothing is a failure: it may be a broken engine.
    pub fn output_tolerating(
        &self,
        step: &str,
        tolerated: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let (status, captured) = self.capture(step, None)?;
        if !explained_by(&captured.stderr, tolerated) {
            self.check(step, status, stderr_detail(&captured.stderr))?;
        }
        Ok(captured.stdout)
    }

    fn capture(&self, step: &str, input: Option<&str>) -> Result<(ExitStatus, Captured)> {
        let mut command = self.std();
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        command.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut captured = Captured::default();
        let status = self.wait_piped(step, command, |child| {
            if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
                // A child that stops reading early (`docker login` once in a while) breaks the
                // pipe: its exit status, not the write, says whether it worked.
                match stdin.write_all(input.as_bytes()) {
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e),
                    _ => {}
                }
            }
            captured.read_from(child)
        })?;
        Ok((status, captured))
    }

    fn std(&self) -> std::process::Command {
        let mut command = std::process::Command::new(&self.program);
        command.args(&self.args);
        command
    }

    /// Spawns `command`, tracked for interrupts, runs `talk` on it (feeding and draining its
    /// pipes, which must be dropped before `command` returns so the child sees EOF), and waits.
    fn wait_piped(
        &self,
        step: &str,
        mut command: std::process::Command,
        talk: impl FnOnce(&mut std::process::Child) -> std::io::Result<()>,
    ) -> Result<ExitStatus> {
        if is_interrupted() {
            return Err(Error::Interrupted);
        }
        let mut child = command.spawn().map_err(|source| Error::Spawn {
            step: step.to_owned(),
            program: self.program.to_string_lossy().into_owned(),
            source,
        })?;
        // Close our copies of the pipe ends given to the child, so readers see its EOF.
        drop(command);
        let tracked = Tracked::new(child.id());
        if is_interrupted() {
            let _ = child.kill();
        }
        let io = |source| Error::Io {
            step: step.to_owned(),
            source,
        };
        let talked = talk(&mut child);
        let status = tracked.reap(&mut child).map_err(io)?;
        if is_interrupted() {
            return Err(Error::Interrupted);
        }
        talked.map_err(io)?;
        Ok(status)
    }

    fn check(&self, step: &str, status: ExitStatus, detail: String) -> Result<()> {
        if status.success() {
            return Ok(());
        }
        let detail = redact(detail.as_bytes(), &self.secret_values());
        Err(Error::Failed {
            step: step.to_owned(),
            command: self.to_string(),
            status,
            detail: String::from_utf8_lossy(&detail).into_owned(),
        })
    }

    /// The values of the secret-looking build arguments (and of their lines, and the passwords
    /// of URLs in any of them), long enough to be replaced in output.
    /// The values of the build secrets it is given (`--secret id=...,env=...` or `src=...`) too.
    fn secret_values(&self) -> Vec<String> {
        let build_args = self
            .args
            .windows(2)
            .filter(|pair| pair[0] == "--build-arg")
            .filter_map(|pair| pair[1].split_once('='));
        let given: Vec<String> = self
            .args
            .windows(2)
            .filter(|pair| pair[0] == "--secret")
            .filter_map(|pair| secrets::build_secret_value(&pair[1]))
            .collect();
        let given = given.iter().map(|value| ("SECRET", value.as_str()));
        secrets::secret_values(build_args.chain(given))
    }
}

/// A child's pid as nix takes it; pids fit in `pid_t` on every platform we spawn on.
fn child_pid(pid: u32) -> Pid {
    Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX))
}

/// A running child's pid in RUNNING, removed in the same moment as the child is reaped.
struct Tracked(u32);

impl Tracked {
    fn new(pid: u32) -> Self {
        RUNNING.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
        Self(pid)
    }

    /// Waits for `child` to exit and reaps it. The reaping and the removal from RUNNING happen
    /// under RUNNING's lock, so `interrupt` never signals a pid that is free again and may be
    /// another program's. Portable (std's `try_wait`, a non-blocking `waitpid`), where Linux
    /// alone could wait without reaping (`waitid` with `WNOWAIT`).
    fn reap(self, child: &mut std::process::Child) -> std::io::Result<ExitStatus> {
        let (mut pause, longest) = REAP_PAUSES;
        loop {
            let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(status) = child.try_wait()? {
                running.retain(|pid| *pid != self.0);
                return Ok(status);
            }
            drop(running);
            std::thread::sleep(pause);
            pause = (pause * 2).min(longest);
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        RUNNING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|pid| *pid != self.0);
    }
}

#[derive(Default)]
struct Captured {
    stdout: String,
    stderr: String,
}

impl Captured {
    /// Reads both pipes to the end; stderr on its own thread so neither pipe can fill and block.
    fn read_from(&mut self, child: &mut std::process::Child) -> std::io::Result<()> {
        let mut stderr_pipe = child.stderr.take();
        let stderr_reader = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(pipe) = stderr_pipe.as_mut() {
                pipe.read_to_string(&mut text)?;
            }
            Ok::<_, std::io::Error>(text)
        });
        if let Some(mut pipe) = child.stdout.take() {
            pipe.read_to_string(&mut self.stdout)?;
        }
        self.stderr = stderr_reader.join().unwrap_or_else(|_| Ok(String::new()))?;
        Ok(())
    }
}

/// Whether `stderr` has something to say and all of it is `tolerated`.
fn explained_by(stderr: &str, tolerated: impl Fn(&str) -> bool) -> bool {
    let mut lines = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .peekable();
    lines.peek().is_some() && lines.all(tolerated)
}

fn stderr_detail(stderr: &str) -> String {
    match stderr.trim() {
        "" => String::new(),
        stderr => format!(":\n{stderr}"),
    }
}

fn log_tail(log: &Path) -> String {
    let text = fs_err::read(log)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
    format!(":\n{tail}\n(full log: {})", log.display())
}

/// Shows the command as a shell would read it, with the values of build arguments named like
/// secrets (`secrets::is_secret_name`) and every URL password replaced by `***`.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", shell_quote(&self.program.to_string_lossy()))?;
        let mut after_build_arg = false;
        for arg in &self.args {
            let shown = if after_build_arg {
                secrets::mask_assignment(arg)
            } else {
                secrets::mask_url_passwords(arg)
            };
            write!(f, " {}", shell_quote(&shown))?;
            after_build_arg = arg == "--build-arg";
        }
        Ok(())
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Command({self})")
    }
}

fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_explained_only_by_tolerated_words() {
        let missing = |line: &str| line.contains("No such image");
        assert!(explained_by(
            "Error: No such image: a\nError: No such image: b\n",
            missing
        ));
        assert!(!explained_by("", missing), "silence explains nothing");
        assert!(!explained_by("\n  \n", missing));
        assert!(!explained_by(
            "Error: No such image: a\npermission denied\n",
            missing
        ));
    }

    #[test]
    fn displays_as_a_shell_would_read_it() {
        let command = Command::new("docker", ["build", "--build-arg", "A=b c", "it's"]);
        assert_eq!(
            command.to_string(),
            r#"docker build --build-arg 'A=b c' 'it'\''s'"#
        );
    }

    #[test]
    fn masks_secret_looking_build_args_only() {
        let command = Command::new(
            "docker",
            [
                "build",
                "--build-arg",
                "GITHUB_TOKEN=abc",
                "--build-arg",
                "PY=3.10",
                "API_KEY=x",
            ],
        );
        assert_eq!(
            command.to_string(),
            "docker build --build-arg 'GITHUB_TOKEN=***' --build-arg PY=3.10 API_KEY=x"
        );
    }

    #[test]
    fn debug_output_masks_secrets_too() {
        let command = Command::new("docker", ["build", "--build-arg", "GITHUB_TOKEN=abc"]);
        assert_eq!(
            format!("{command:?}"),
            "Command(docker build --build-arg 'GITHUB_TOKEN=***')"
        );
    }

    #[test]
    fn secret_build_arg_values_printed_by_the_program_are_replaced_in_log_and_error() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("build.log");
        // $1 and $3 are the build arguments below; the script prints their values.
        let script = "echo \"token: ${1#*=}, short: ${3#*=}\"; exit 1";
        let command = Command::new(
            "sh",
            [
                "-c",
                script,
                "--build-arg",
                "GITHUB_TOKEN=s3cr3t-value",
                "--build-arg",
                "CACHE_KEY=abc",
            ],
        );
        let mut shown = Vec::new();
        let error = command
            .run_logged("build", &log, &mut |line| shown.push(line.to_owned()))
            .unwrap_err()
            .to_string();
        let expected = "token: ***, short: abc";
        assert_eq!(
            fs_err::read_to_string(&log).unwrap(),
            format!("{expected}\n")
        );
        assert_eq!(shown, [expected]);
        assert!(!error.contains("s3cr3t"), "{error}");
        let error = command.output("probe", None).unwrap_err().to_string();
        assert!(!error.contains("s3cr3t"), "{error}");
    }

    #[test]
    fn captures_output_and_reports_failures_with_stderr() {
        let ok = Command::new("sh", ["-c", "echo out; echo err >&2"])
            .output("probe", None)
            .unwrap();
        assert_eq!(ok, "out\n");
        let error = Command::new("sh", ["-c", "echo boom >&2; exit 3"])
            .output("probe", None)
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("probe failed: `sh -c 'echo boom >&2; exit 3'` exit status: 3"),
            "{text}"
        );
        assert!(text.ends_with("boom"), "{text}");
    }

    #[test]
    fn logged_runs_merge_stdout_and_stderr_into_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ok.log");
        let command = Command::new("sh", ["-c", "echo one; echo two >&2"]);
        command.run_logged("x", &log, &mut |_| {}).unwrap();
        assert_eq!(fs_err::read_to_string(&log).unwrap(), "one\ntwo\n");
    }

    #[test]
    fn teeing_stderr_returns_it_with_the_failure() {
        let command = Command::new("sh", ["-c", "echo out; echo why >&2; exit 2"]);
        let (result, stderr) = command.run_teeing_stderr("probe");
        assert!(matches!(result, Err(Error::Failed { .. })), "{result:?}");
        assert_eq!(stderr, "why\n");
    }

    #[test]
    fn feeds_input_on_stdin() {
        let out = Command::new("cat", Vec::<String>::new())
            .output("cat", Some("secret"))
            .unwrap();
        assert_eq!(out, "secret");
    }

    #[test]
    fn logged_failures_show_the_log_tail() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        let script = "for i in $(seq 1 40); do echo line$i; done; exit 1";
        let mut seen = Vec::new();
        let error = Command::new("sh", ["-c", script])
            .run_logged("build", &log, &mut |line| seen.push(line.to_owned()));
        let text = error.unwrap_err().to_string();
        assert_eq!(seen.len(), 40, "every line is handed to the caller");
        assert!(
            text.contains("line40") && text.contains("line16") && !text.contains("line15\n"),
            "{text}"
        );
        assert!(text.ends_with(&format!("(full log: {})", log.display())));
    }
}
