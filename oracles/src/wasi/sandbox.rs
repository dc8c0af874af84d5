//! The deterministic sandbox a WASI program runs in: fixed arguments and environment, stdin from bytes,
//! one preopened scratch directory seeded with a known file tree, a virtual clock and seeded randomness.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// A directory tree: paths relative to its root, `/`-separated, in sorted order.
pub type Tree = BTreeMap<String, Node>;

/// One entry of a [`Tree`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Node {
    Dir,
    File(Vec<u8>),
    Symlink(String),
}

/// Everything a program can observe of the world it runs in. Two engines given
/// the same sandbox must behave identically.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sandbox {
    /// `argv`, the program name first.
    pub args: Vec<String>,
    /// The whole environment. Never the host's: it differs between machines and users.
    pub env: Vec<(String, String)>,
    /// What the program reads from standard input; then end of file.
    pub stdin: Vec<u8>,
    /// The scratch directory's contents before the run, preopened as `.`.
    pub tree: Tree,
    /// Seeds the bytes `random_get` returns, the same bytes on every engine.
    pub random_seed: u64,
}

/// The scratch directory's guest path: programs open relative paths, as under `wasmtime run --dir .`.
pub const GUEST_DIR: &str = ".";

/// The environment every program sees unless the user gives another.
pub const ENVIRONMENT: &[(&str, &str)] = &[("LANG", "C"), ("TZ", "UTC"), ("LOCKSTEP", "1")];

/// The file tree every scratch directory starts with unless the user gives another.
pub fn default_tree() -> Tree {
    let files: [(&str, &str); 4] = [
        ("input.txt", include_str!("seed/input.txt")),
        ("data.json", include_str!("seed/data.json")),
        ("notes/todo.txt", "write the report\nmerge the branch\n"),
        ("notes/ideas.txt", "asyncify every WASI call\n"),
    ];
    let mut tree = Tree::from([("notes".to_string(), Node::Dir)]);
    for (path, text) in files {
        tree.insert(path.to_string(), Node::File(text.as_bytes().to_vec()));
    }
    tree
}

impl Sandbox {
    /// The default sandbox for `program` run with `args`.
    pub fn new(program: &str, args: &[String]) -> Sandbox {
        Sandbox {
            args: std::iter::once(program.to_string())
                .chain(args.iter().cloned())
                .collect(),
            env: ENVIRONMENT
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            stdin: Vec::new(),
            tree: default_tree(),
            random_seed: 0,
        }
    }

    /// The bytes `random_get` cycles through. Each engine's WASI library
    /// repeats a given byte sequence, so every engine hands out the same stream.
    pub fn random_bytes(&self) -> Vec<u8> {
        let mut state = self.random_seed;
        (0..RANDOM_POOL / 8)
            .flat_map(|_| splitmix64(&mut state).to_le_bytes())
            .collect()
    }
}

/// Bytes of randomness before the stream repeats; far more than programs ask for to seed hashes.
const RANDOM_POOL: usize = 1 << 16;

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Time as a program sees it. Every reading advances the clock by one tick, so
/// a program that measures elapsed time sees the same non-zero durations on
/// every engine, however fast the engine is.
#[derive(Debug, Default)]
pub struct VirtualClock {
    wall_readings: AtomicU64,
    monotonic_readings: AtomicU64,
}

impl VirtualClock {
    /// How far one reading advances a clock, and the resolution both clocks report.
    pub const TICK: Duration = Duration::from_micros(1);
    /// The wall clock's first reading is one tick after this: 2001-09-09T01:46:40Z.
    pub const WALL_START: Duration = Duration::from_secs(1_000_000_000);

    /// The next wall-clock reading, since the Unix epoch.
    pub fn wall(&self) -> Duration {
        let readings = self.wall_readings.fetch_add(1, Ordering::Relaxed) + 1;
        Self::WALL_START + Self::TICK * readings as u32
    }

    /// The next monotonic reading, in nanoseconds since the program started.
    pub fn monotonic_nanos(&self) -> u64 {
        let readings = self.monotonic_readings.fetch_add(1, Ordering::Relaxed) + 1;
        readings * Self::TICK.as_nanos() as u64
    }
}

/// The host directory behind one run's scratch directory; removed when dropped.
pub struct Scratch {
    path: PathBuf,
}

/// Modification time of every seeded entry, so that a program printing the
/// times of files it did not create sees the same on every engine.
const SEEDED_MTIME: Duration = Duration::from_secs(1_000_000_000);

impl Scratch {
    /// A fresh directory under the system's temporary directory, holding `tree`.
    pub fn create(tree: &Tree) -> io::Result<Scratch> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "lockstep-wasi-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let scratch = Scratch {
            path: std::env::temp_dir().join(name),
        };
        std::fs::create_dir_all(&scratch.path)?;
        for (relative, node) in tree {
            let path = scratch.path.join(relative);
            match node {
                Node::Dir => std::fs::create_dir_all(&path)?,
                Node::File(bytes) => {
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::write(&path, bytes)?;
                    let file = std::fs::File::options().write(true).open(&path)?;
                    file.set_modified(SystemTime::UNIX_EPOCH + SEEDED_MTIME)?;
                }
                Node::Symlink(target) => std::os::unix::fs::symlink(target, &path)?,
            }
        }
        Ok(scratch)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the directory holds now.
    pub fn snapshot(&self) -> io::Result<Tree> {
        read_tree(&self.path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The tree under `root`, as [`Scratch`] seeds it and snapshots it.
pub fn read_tree(root: &Path) -> io::Result<Tree> {
    let mut tree = Tree::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let relative = path
                .strip_prefix(root)
                .expect("entries lie under the root")
                .to_string_lossy()
                .replace(std::path::MAIN_SEPARATOR, "/");
            let kind = std::fs::symlink_metadata(&path)?.file_type();
            let node = if kind.is_symlink() {
                Node::Symlink(std::fs::read_link(&path)?.to_string_lossy().into_owned())
            } else if kind.is_dir() {
                pending.push(path.clone());
                Node::Dir
            } else {
                Node::File(std::fs::read(&path)?)
            };
            tree.insert(relative, node);
        }
    }
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_directory_reads_back_as_it_was_seeded_and_is_removed() {
        let tree = default_tree();
        let scratch = Scratch::create(&tree).unwrap();
        let path = scratch.path().to_path_buf();
        assert_eq!(scratch.snapshot().unwrap(), tree);
        drop(scratch);
        assert!(!path.exists());
    }

    #[test]
    fn the_virtual_clock_advances_one_tick_per_reading() {
        let clock = VirtualClock::default();
        assert_eq!(clock.monotonic_nanos(), 1_000);
        assert_eq!(clock.monotonic_nanos(), 2_000);
        assert_eq!(clock.wall(), VirtualClock::WALL_START + VirtualClock::TICK);
    }

    #[test]
    fn random_bytes_depend_only_on_the_seed() {
        let mut sandbox = Sandbox::new("p", &[]);
        let first = sandbox.random_bytes();
        assert_eq!(first, sandbox.random_bytes());
        sandbox.random_seed = 1;
        assert_ne!(first, sandbox.random_bytes());
    }
}
