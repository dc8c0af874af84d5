//! Progress while trials run: a bar that redraws on a terminal, a plain line now and then in CI.

use std::io::{IsTerminal, Write};
use std::time::Instant;
use suites::runner::{TrialResult, TrialState};

pub struct Progress {
    total: usize,
    done: usize,
    failed: usize,
    started: Instant,
    terminal: bool,
    last_line: Instant,
}

impl Progress {
    pub fn new(total: usize) -> Progress {
        Progress {
            total,
            done: 0,
            failed: 0,
            started: Instant::now(),
            terminal: std::io::stderr().is_terminal() && std::env::var_os("CI").is_none(),
            last_line: Instant::now(),
        }
    }

    pub fn trial(&mut self, result: &TrialResult) {
        self.done += 1;
        let failed = result.state() == TrialState::Fail;
        self.failed += usize::from(failed);
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let width = 30;
            let filled = width * self.done / self.total.max(1);
            let _ = write!(
                err,
                "\r[{}{}] {}/{} trials, {} failing  {:<50.50}",
                "#".repeat(filled),
                " ".repeat(width - filled),
                self.done,
                self.total,
                self.failed,
                result.name()
            );
            if self.done == self.total {
                let _ = writeln!(err);
            }
        } else if failed || self.last_line.elapsed().as_secs() >= 5 || self.done == self.total {
            self.last_line = Instant::now();
            let _ = writeln!(
                err,
                "[{:>6.1}s] {}/{} trials, {} failing{}",
                self.started.elapsed().as_secs_f64(),
                self.done,
                self.total,
                self.failed,
                if failed {
                    format!(" (new: {})", result.name())
                } else {
                    String::new()
                }
            );
        }
    }
}
