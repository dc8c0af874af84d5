//! What a program may leave behind, the same on every tier: bytes on each standard stream, the size of
//! each file and the number of entries in its scratch directory. Reaching one ends the run as
//! `exhausted Output`, which is inconclusive, never a divergence.
//!
//! Rationale: a program from a stranger can write without end. Each tier stopping it at a different
//! point (or never) would show as a false difference in stdout, and holding it all would exhaust the
//! host, so every tier captures streams through [`CappedStream`] and the scratch snapshot stops at
//! the same bounds.

use std::io;
use std::sync::{Arc, Mutex};

/// The bounds a run's output must stay within.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimits {
    pub stdout_bytes: usize,
    pub stderr_bytes: usize,
    /// All files' sizes together, sparse or not.
    pub files_bytes: u64,
    /// Files, folders and links in the scratch directory together.
    pub entries: usize,
    /// Bytes of each stream a run that reached a limit keeps, to show: its output is not compared.
    pub kept_when_reached: usize,
}

/// The limits of every run: generous for real programs, small enough that seven tiers' output fits in
/// memory together.
pub const OUTPUT_LIMITS: OutputLimits = OutputLimits {
    stdout_bytes: 8 << 20,
    stderr_bytes: 8 << 20,
    files_bytes: 64 << 20,
    entries: 10_000,
    kept_when_reached: 64 << 10,
};

impl OutputLimits {
    /// Whether standard output or error reached its limit.
    pub fn streams_reached(&self, stdout: &[u8], stderr: &[u8]) -> bool {
        stdout.len() >= self.stdout_bytes || stderr.len() >= self.stderr_bytes
    }
}

/// A standard stream as every tier captures it: the bytes written, up to a limit. A write that does
/// not fit keeps what does, so a stream that reached its limit holds exactly that many bytes, and
/// fails. Clones share the bytes.
#[derive(Clone, Debug)]
pub struct CappedStream {
    bytes: Arc<Mutex<Vec<u8>>>,
    limit: usize,
}

impl CappedStream {
    pub fn new(limit: usize) -> CappedStream {
        CappedStream {
            bytes: Arc::default(),
            limit,
        }
    }

    /// Everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.bytes.lock().expect("stream lock").clone()
    }
}

impl io::Write for CappedStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut bytes = self.bytes.lock().expect("stream lock");
        let room = self.limit - bytes.len();
        if room == 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "the output limit is reached",
            ));
        }
        let fits = buf.len().min(room);
        bytes.extend_from_slice(&buf[..fits]);
        Ok(fits)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_stream_keeps_what_fits_then_refuses() {
        let mut stream = CappedStream::new(4);
        assert!(stream.write_all(b"abcdef").is_err());
        assert_eq!(stream.contents(), b"abcd");
        assert!(OUTPUT_LIMITS.streams_reached(&vec![0; OUTPUT_LIMITS.stdout_bytes], b""));
    }
}
