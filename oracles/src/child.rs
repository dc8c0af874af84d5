//! Child processes lockstep talks to line by line (worker processes, external engines, binaryen.js):
//! each in its own process group, read as bytes with a line-size limit, every read and wait under a
//! deadline, the whole group killed when lockstep is done with the child, and one wording of how a
//! process ended.

use std::collections::VecDeque;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::process::{ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines of standard error kept for the description of how the process ended.
const STDERR_LINES: usize = 5;

/// Bytes of one standard-error line kept: a child printing megabytes without a newline costs no more.
const STDERR_LINE_BYTES: usize = 1024;

/// How long a process that closed its standard output gets to exit by itself before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// How long the standard-error tail gets to take in what a dead process wrote last.
const STDERR_GRACE: Duration = Duration::from_millis(200);

/// The capacity asked for the standard input and output pipes (Linux's default
/// limit for unprivileged processes). A request or reply larger than a pipe
/// holds crosses in pieces, each waiting for the other side to be scheduled:
/// at 64 KiB, a spec script of a few hundred kilobytes took a dozen hand-overs,
/// and on a busy machine every hand-over costs a time slice.
const PIPE_BYTES: libc::c_int = 1 << 20;

/// A running child process with piped standard streams.
pub struct Child {
    process: std::process::Child,
    stdin: Option<ChildStdin>,
    input_capacity: usize,
    lines: Lines,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// Closed by the standard-error reader when the pipe reaches its end.
    stderr_done: Receiver<()>,
    /// How the process ended, once it is reaped.
    reaped: Option<ExitStatus>,
}

/// What reading the next standard-output line gave.
enum Line {
    Complete(Vec<u8>),
    /// A line longer than the limit.
    TooLong,
    /// The deadline passed first.
    Late,
    /// Standard output reached its end.
    End,
}

/// Why no line came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Silence {
    /// The deadline passed; the process group was killed.
    TimedOut,
    /// The process wrote a line longer than this many bytes; the process group was killed.
    TooLong(usize),
    /// The process closed its standard output; how it ended.
    Ended(Ending),
}

impl fmt::Display for Silence {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Silence::TimedOut => write!(f, "did not answer in time and was killed"),
            Silence::TooLong(limit) => {
                write!(f, "wrote a line longer than {limit} bytes and was killed")
            }
            Silence::Ended(ending) => ending.fmt(f),
        }
    }
}

/// How a process ended, and the last lines it wrote to standard error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ending {
    pub status: Status,
    pub last_words: Vec<String>,
}

/// A process's exit, as the operating system tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Exited(i32),
    Signaled(i32),
    /// It kept running after closing its output and was killed.
    Lingered,
    /// Waiting for it failed.
    Unknown,
}

impl From<ExitStatus> for Status {
    fn from(status: ExitStatus) -> Status {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Status::Exited(code),
            (None, Some(signal)) => Status::Signaled(signal),
            (None, None) => Status::Unknown,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match *self {
            Status::Exited(code) => write!(f, "exited with status {code}"),
            Status::Signaled(signal) => {
                let name = match signal {
                    4 => "SIGILL",
                    6 => "SIGABRT",
                    7 => "SIGBUS",
                    9 => "SIGKILL, perhaps out of memory",
                    11 => "SIGSEGV",
                    _ => "signal",
                };
                write!(f, "killed by signal {signal} ({name})")
            }
            Status::Lingered => write!(f, "closed its output but did not exit, and was killed"),
            Status::Unknown => write!(f, "ended in a way the system did not tell"),
        }
    }
}

/// "exited with status 3; its last words: panicked at … | note: …".
impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.status)?;
        if !self.last_words.is_empty() {
            write!(f, "; its last words: {}", self.last_words.join(" | "))?;
        }
        Ok(())
    }
}

impl Child {
    /// Starts `command` in a process group of its own, with piped standard
    /// streams; standard-output lines longer than `line_limit` bytes are refused.
    pub fn spawn(command: &mut Command, line_limit: usize) -> std::io::Result<Child> {
        use std::os::unix::process::CommandExt;
        let mut process = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()?;
        let stdout = process.stdout.take().expect("piped");
        enlarge_pipe(&stdout);
        let input_capacity = process.stdin.as_ref().map_or(0, enlarge_pipe);
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let (done, stderr_done) = mpsc::channel();
        let pipe = process.stderr.take().expect("piped");
        let tail = stderr.clone();
        std::thread::spawn(move || {
            keep_tail(pipe, &tail);
            drop(done);
        });
        Ok(Child {
            stdin: process.stdin.take(),
            input_capacity,
            process,
            lines: Lines::new(stdout, line_limit),
            stderr,
            stderr_done,
            reaped: None,
        })
    }

    /// Bytes the standard input pipe holds: as many can be sent ahead of what
    /// the process has read without [`Child::send`] waiting for it.
    pub fn input_capacity(&self) -> usize {
        self.input_capacity
    }

    /// Writes `line` and a newline. A failure means the process is gone (or closed its input).
    pub fn send(&mut self, line: &[u8]) -> std::io::Result<()> {
        let stdin = self.stdin.as_mut().ok_or(std::io::ErrorKind::BrokenPipe)?;
        stdin
            .write_all(line)
            .and_then(|()| stdin.write_all(b"\n"))
            .and_then(|()| stdin.flush())
    }

    /// The next line of standard output (without its newline), by `deadline`.
    /// A process that misses it or writes too long a line is killed.
    pub fn receive(&mut self, deadline: Instant) -> Result<Vec<u8>, Silence> {
        match self.lines.next(deadline) {
            Line::Complete(line) => Ok(line),
            Line::TooLong => {
                self.kill();
                Err(Silence::TooLong(self.lines.limit))
            }
            Line::Late => {
                self.kill();
                Err(Silence::TimedOut)
            }
            Line::End => Err(Silence::Ended(self.ending())),
        }
    }

    /// How the process ended: given a moment to exit once its input is closed,
    /// then killed with its group either way, so that nothing it started stays behind.
    pub fn ending(&mut self) -> Ending {
        self.stdin = None;
        let deadline = Instant::now() + EXIT_GRACE;
        while !self.exited() && Instant::now() < deadline {
            // A process still writing would block on a full pipe and never exit:
            // what it writes now nobody asked for, and is dropped.
            self.lines.discard(Duration::from_millis(10));
        }
        let lingered = !self.exited();
        let status = match (self.kill(), lingered) {
            (_, true) => Status::Lingered,
            (Some(status), false) => Status::from(status),
            (None, false) => Status::Unknown,
        };
        // Killing the group closed the last copies of the pipe: the tail is
        // complete once the reader sees its end (or the grace runs out).
        let _ = self.stderr_done.recv_timeout(STDERR_GRACE);
        let last_words = self.stderr.lock().expect("stderr tail lock").clone();
        Ending {
            status,
            last_words: last_words.into(),
        }
    }

    /// Whether the process has exited; it stays unreaped (a zombie holding its
    /// pid and so its group's id) until [`Child::kill`].
    fn exited(&self) -> bool {
        if self.reaped.is_some() {
            return true;
        }
        // SAFETY: waitid(2) writes only into `info`, a plain C struct zeroed here.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
            let found = libc::waitid(libc::P_PID, self.process.id(), &mut info, flags);
            found == 0 && info.si_pid() != 0
        }
    }

    /// Kills the process and everything in its group, reaps it, and returns how it ended.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        self.stdin = None;
        if self.reaped.is_none() {
            // Before the process is reaped its pid (the group's id) cannot be reused.
            let group = -(self.process.id() as libc::pid_t);
            // SAFETY: kill(2) with a negative pid signals a process group; it touches no memory.
            unsafe { libc::kill(group, libc::SIGKILL) };
            self.reaped = self.process.wait().ok();
        }
        self.reaped
    }
}

/// A child still running is asked to leave (its input closes) and given
/// [`EXIT_GRACE`] to tidy up (a worker stops its own children), then its group is killed.
impl Drop for Child {
    fn drop(&mut self) {
        if self.reaped.is_none() {
            self.ending();
        }
    }
}

/// Asks for a pipe of [`PIPE_BYTES`]; a system that refuses keeps its smaller
/// pipe, which costs only time.
/// Asks for a pipe of [`PIPE_BYTES`]; returns the capacity the pipe has.
fn enlarge_pipe(pipe: &impl std::os::fd::AsRawFd) -> usize {
    let fd = pipe.as_raw_fd();
    // SAFETY: fcntl(2) with F_SETPIPE_SZ or F_GETPIPE_SZ changes or reads a pipe's capacity; it
    // touches no memory.
    let capacity = unsafe {
        match libc::fcntl(fd, libc::F_SETPIPE_SZ, PIPE_BYTES) {
            refused if refused < 0 => libc::fcntl(fd, libc::F_GETPIPE_SZ),
            granted => granted,
        }
    };
    usize::try_from(capacity).unwrap_or(0)
}

/// Standard output, read by the thread that waits for it.
///
/// Rationale: a reader thread handing lines over woke two threads for every
/// line, and a fuzzing worker writes one line per call of every engine; on a
/// virtual machine each wake-up is an interrupt to another CPU. Read here,
/// whatever arrived together is taken in one wake-up.
struct Lines {
    stdout: ChildStdout,
    /// Bytes read and not handed over yet are `buffer[start..end]`; the rest is room.
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    /// How far past `start` the buffer holds no newline.
    scanned: usize,
    ended: bool,
    limit: usize,
}

/// Room one read gets, at least.
const READ_BYTES: usize = 64 << 10;

impl Lines {
    fn new(stdout: ChildStdout, limit: usize) -> Lines {
        Lines {
            stdout,
            buffer: Vec::new(),
            start: 0,
            end: 0,
            scanned: 0,
            ended: false,
            limit,
        }
    }

    /// The next line (without its newline), or why there is none by `deadline`.
    fn next(&mut self, deadline: Instant) -> Line {
        loop {
            let pending = &self.buffer[self.start..self.end];
            let newline = pending[self.scanned..].iter().position(|&b| b == b'\n');
            let length = newline.map_or(pending.len(), |at| self.scanned + at);
            if length > self.limit {
                return Line::TooLong;
            }
            if newline.is_some() {
                let line = pending[..length].to_vec();
                self.consume(length + 1);
                return Line::Complete(line);
            }
            self.scanned = length;
            if self.ended {
                // The last line, without a newline.
                let line = pending.to_vec();
                self.consume(line.len());
                return if line.is_empty() {
                    Line::End
                } else {
                    Line::Complete(line)
                };
            }
            if !self.wait(deadline) {
                return Line::Late;
            }
            self.read();
        }
    }

    /// Hands over `count` bytes; what is left moves to the front once it is the
    /// lesser part, and the room a long line took is given back once it is read.
    fn consume(&mut self, count: usize) {
        self.start += count;
        self.scanned = 0;
        if self.start * 2 >= self.end {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == 0 && self.buffer.len() > 16 * READ_BYTES {
            self.buffer = Vec::new();
        }
    }

    /// Waits until standard output has bytes (or its end) to read: false past `deadline`.
    fn wait(&self, deadline: Instant) -> bool {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let mut ready = libc::pollfd {
                fd: self.stdout.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let millis = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: poll(2) writes only `ready.revents`, of the one pollfd passed.
            if unsafe { libc::poll(&mut ready, 1, millis) } > 0 {
                return true;
            }
        }
    }

    /// Drops what is pending and what arrives within `wait`.
    fn discard(&mut self, wait: Duration) {
        match self.ended {
            true => std::thread::sleep(wait),
            false if self.wait(Instant::now() + wait) => self.read(),
            false => {}
        }
        (self.start, self.end, self.scanned) = (0, 0, 0);
    }

    /// Reads what is there, into room for at least as much again as is pending;
    /// an error or the end of the pipe ends the lines.
    fn read(&mut self) {
        let room = READ_BYTES.max(self.end - self.start);
        if self.buffer.len() < self.end + room {
            self.buffer.resize(self.end + room, 0);
        }
        let read = loop {
            match self.stdout.read(&mut self.buffer[self.end..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                read => break read.unwrap_or(0),
            }
        };
        self.end += read;
        self.ended = read == 0;
    }
}

/// Keeps the last lines of `stderr` (cut at [`STDERR_LINE_BYTES`], bytes that are not UTF-8 replaced) in `tail`.
fn keep_tail(stderr: impl Read, tail: &Mutex<VecDeque<String>>) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader)
            .take(STDERR_LINE_BYTES as u64)
            .read_until(b'\n', &mut line);
        if !matches!(read, Ok(1..)) {
            return;
        }
        let text = String::from_utf8_lossy(&line).trim().to_string();
        if !line.ends_with(b"\n") {
            skip_line(&mut reader);
        }
        if text.is_empty() {
            continue;
        }
        let mut tail = tail.lock().expect("stderr tail lock");
        if tail.len() == STDERR_LINES {
            tail.pop_front();
        }
        tail.push_back(text);
    }
}

/// Skips the rest of an overlong line without keeping it.
fn skip_line(reader: &mut impl BufRead) {
    while let Ok(buffer) = reader.fill_buf() {
        if buffer.is_empty() {
            return;
        }
        match buffer.iter().position(|&byte| byte == b'\n') {
            Some(newline) => return reader.consume(newline + 1),
            None => {
                let all = buffer.len();
                reader.consume(all);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str, line_limit: usize) -> Child {
        Child::spawn(Command::new("sh").args(["-c", script]), line_limit).unwrap()
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    /// Whether process `pid` is gone or a zombie.
    fn gone(pid: &str) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
        stat.map_or(true, |s| {
            s.rsplit(')').next().unwrap().trim_start().starts_with('Z')
        })
    }

    #[test]
    fn a_line_over_the_limit_is_refused_and_the_whole_group_killed() {
        let mut child = shell("sleep 60 & echo $!; head -c 100 /dev/zero | tr '\\0' x", 50);
        let sleeper = String::from_utf8(child.receive(soon()).unwrap()).unwrap();
        assert_eq!(child.receive(soon()), Err(Silence::TooLong(50)));
        let deadline = soon();
        while !gone(&sleeper) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(gone(&sleeper), "the shell's child {sleeper} outlived it");
    }

    #[test]
    fn an_ending_names_the_status_and_the_last_lines_of_stderr_whatever_their_bytes() {
        let mut child = shell(
            "printf 'bad \\377\\n' >&2; echo last >&2; echo out; exit 3",
            50,
        );
        assert_eq!(child.receive(soon()).unwrap(), b"out");
        let Err(Silence::Ended(ending)) = child.receive(soon()) else {
            panic!("the shell ended")
        };
        assert_eq!(ending.status, Status::Exited(3));
        assert_eq!(
            ending.to_string(),
            "exited with status 3; its last words: bad \u{fffd} | last"
        );
    }

    #[test]
    fn a_process_that_writes_as_it_leaves_is_not_blocked_by_a_full_pipe() {
        let mut child = shell("read line; head -c 8000000 /dev/zero; exit 5", 50);
        assert_eq!(child.ending().status, Status::Exited(5));
    }

    #[test]
    fn requests_of_a_megabyte_cross_in_one_piece() {
        use std::os::fd::AsRawFd;
        let mut child = shell("cat", 4 << 20);
        let stdin = child.stdin.as_ref().unwrap().as_raw_fd();
        // SAFETY: fcntl(2) with F_GETPIPE_SZ only reads the pipe's capacity.
        let capacity = unsafe { libc::fcntl(stdin, libc::F_GETPIPE_SZ) };
        assert_eq!(capacity, PIPE_BYTES);
        let line = vec![b'x'; 1 << 20];
        child.send(&line).unwrap();
        assert_eq!(child.receive(soon()).unwrap(), line);
    }

    #[test]
    fn a_silent_process_is_killed_at_the_deadline() {
        let mut child = shell("sleep 60", 50);
        let deadline = Instant::now() + Duration::from_millis(100);
        assert_eq!(child.receive(deadline), Err(Silence::TimedOut));
        assert!(child.reaped.is_some());
    }
}
