//! One running external engine: a child process written to and read from line by line, with a deadline on every read.

use crate::outcome::{Outcome, Resource};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Lines of the engine's standard error kept for the message when it dies.
const STDERR_TAIL: usize = 5;

/// A started engine process.
pub struct Process {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl Process {
    /// Starts `command` (program, then arguments) with piped standard streams.
    pub fn spawn(command: &[String]) -> Result<Process, String> {
        let (program, args) = command.split_first().ok_or("an empty engine command")?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start `{}`: {e}", command.join(" ")))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let stderr_pipe = child.stderr.take().expect("piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let tail = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                let mut tail = tail.lock().expect("stderr tail lock");
                if tail.len() == STDERR_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        Ok(Process {
            child,
            stdin,
            lines,
            stderr,
        })
    }

    /// Writes one line. A failure means the engine is gone: the outcome says how.
    pub fn send(&mut self, line: &str) -> Result<(), Outcome> {
        let written = writeln!(self.stdin, "{line}").and_then(|()| self.stdin.flush());
        written.map_err(|_| self.died())
    }

    /// The next line, by `deadline`. An engine that misses it is killed (the
    /// outcome is exhaustion of time); one that exits is reported as crashed.
    pub fn receive(&mut self, deadline: Instant) -> Result<String, Outcome> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(wait) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => {
                self.kill();
                Err(Outcome::Exhausted(Resource::Time))
            }
            Err(RecvTimeoutError::Disconnected) => Err(self.died()),
        }
    }

    /// Kills the engine for printing `line`, which is not the protocol.
    pub fn reject(&mut self, line: &str, error: &str) -> Outcome {
        self.kill();
        let shown: String = line.chars().take(200).collect();
        Outcome::Crashed(format!(
            "the engine printed something that is not the protocol ({error}): `{shown}`"
        ))
    }

    fn died(&mut self) -> Outcome {
        let status = self
            .child
            .wait()
            .map(describe)
            .unwrap_or_else(|e| e.to_string());
        // The stderr reader may still be draining what the engine wrote last.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let tail = self.stderr.lock().expect("stderr tail lock");
        let said = match tail.is_empty() {
            true => String::new(),
            false => format!("; its last words: {}", Vec::from(tail.clone()).join(" | ")),
        };
        Outcome::Crashed(format!("the engine process {status}{said}"))
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// "exited with status 3", "was killed by signal 11".
fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}
