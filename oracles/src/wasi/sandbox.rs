//! The deterministic sandbox a WASI program runs in: fixed arguments and environment, stdin from bytes,
//! one preopened scratch directory seeded with a known file tree, a virtual clock and seeded randomness.

use super::limits::OutputLimits;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::FileType;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// A directory tree: paths relative to its root, `/`-separated, in sorted order.
pub type Tree = BTreeMap<String, Node>;

/// One entry of a [`Tree`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Node {
    Dir,
    File(Vec<u8>),
    /// A file after a run too large to show ([`SHOWN_FILE_BYTES`]): its size and BLAKE3 hash, read
    /// as a stream.
    LargeFile {
        size: u64,
        blake3: String,
    },
    Symlink(String),
    /// A FIFO, socket or device after a run, recorded by kind without opening it.
    Special(String),
}

/// Files after a run up to this size keep their bytes, so that a difference shows as a diff.
pub const SHOWN_FILE_BYTES: u64 = 64 << 10;

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
    /// Where the standard streams lead.
    #[serde(default)]
    pub streams: Streams,
}

/// Where a program's standard streams lead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Streams {
    /// Standard input from [`Sandbox::stdin`]; standard output and error kept for the comparison.
    #[default]
    Captured,
    /// The standard streams of the process that runs the program, live: for a guest that serves
    /// requests while it runs (the nested tiers). Nothing is kept, and nothing is deterministic.
    Live,
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
            streams: Streams::Captured,
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

/// The host directory behind one run's scratch directory, a fresh folder of
/// `oracles::tempfiles`; removed when dropped.
pub struct Scratch {
    folder: tempfile::TempDir,
}

/// Modification time of every seeded entry, so that a program printing the
/// times of files it did not create sees the same on every engine.
const SEEDED_MTIME: Duration = Duration::from_secs(1_000_000_000);

impl Scratch {
    /// A fresh directory in the run's private folder, holding `tree`.
    pub fn create(tree: &Tree) -> io::Result<Scratch> {
        let scratch = Scratch {
            folder: crate::tempfiles::folder("lockstep-wasi-")?,
        };
        for (relative, node) in tree {
            let path = scratch.path().join(relative);
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
                Node::LargeFile { .. } | Node::Special(_) => {
                    return Err(io::Error::other(format!("{relative} cannot be seeded")));
                }
            }
        }
        Ok(scratch)
    }

    pub fn path(&self) -> &Path {
        self.folder.path()
    }

    /// What the directory holds now, or `None` when it holds more than `limits` allow.
    pub fn snapshot(&self, limits: &OutputLimits) -> io::Result<Option<Tree>> {
        walk(self.path(), limits, snapshot_node)
    }
}

/// The tree under `root` as a seed for [`Scratch::create`]: every file's bytes, within the limits a
/// run's output has; a FIFO, socket or device is an error, never opened.
pub fn read_tree(root: &Path) -> io::Result<Tree> {
    let limits = super::limits::OUTPUT_LIMITS;
    let tree = walk(root, &limits, |path, kind, size| {
        if kind.is_file() {
            return std::fs::read(path).map(Node::File);
        }
        match snapshot_node(path, kind, size)? {
            Node::Special(kind) => Err(io::Error::other(format!(
                "{} is a {kind}: only files, folders and symlinks can seed the scratch directory",
                path.display()
            ))),
            node => Ok(node),
        }
    })?;
    tree.ok_or_else(|| {
        io::Error::other(format!(
            "more than {} entries or {} bytes of files",
            limits.entries, limits.files_bytes
        ))
    })
}

/// Every entry under `root` with the node `visit` makes of it (from its path, type and size), in
/// sorted order, without following symlinks; `None` as soon as there are more entries or bytes of
/// files (sizes as stated, so a sparse file counts in full) than `limits` allow.
fn walk(
    root: &Path,
    limits: &OutputLimits,
    visit: impl Fn(&Path, FileType, u64) -> io::Result<Node>,
) -> io::Result<Option<Tree>> {
    let mut tree = Tree::new();
    let mut files_bytes = 0u64;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let relative = path
                .strip_prefix(root)
                .expect("entries lie under the root")
                .to_string_lossy()
                .replace(std::path::MAIN_SEPARATOR, "/");
            let metadata = std::fs::symlink_metadata(&path)?;
            if metadata.is_dir() {
                pending.push(path.clone());
            }
            if metadata.is_file() {
                files_bytes = files_bytes.saturating_add(metadata.len());
            }
            if files_bytes > limits.files_bytes || tree.len() == limits.entries {
                return Ok(None);
            }
            tree.insert(
                relative,
                visit(&path, metadata.file_type(), metadata.len())?,
            );
        }
    }
    Ok(Some(tree))
}

/// One entry as a snapshot records it: a file's bytes or, past [`SHOWN_FILE_BYTES`], its hash read
/// as a stream; anything but a file, folder or symlink only by kind, never opened (reading a FIFO
/// would wait forever for a writer).
fn snapshot_node(path: &Path, kind: FileType, size: u64) -> io::Result<Node> {
    use std::os::unix::fs::FileTypeExt;
    Ok(if kind.is_symlink() {
        Node::Symlink(std::fs::read_link(path)?.to_string_lossy().into_owned())
    } else if kind.is_dir() {
        Node::Dir
    } else if !kind.is_file() {
        let special = [
            (kind.is_fifo(), "fifo"),
            (kind.is_socket(), "socket"),
            (kind.is_block_device(), "block device"),
            (kind.is_char_device(), "character device"),
        ];
        let name = special
            .iter()
            .find(|(is, _)| *is)
            .map_or("special file", |(_, name)| name);
        Node::Special(name.to_string())
    } else if size <= SHOWN_FILE_BYTES {
        Node::File(std::fs::read(path)?)
    } else {
        let mut hasher = blake3::Hasher::new();
        hasher.update_reader(std::fs::File::open(path)?)?;
        Node::LargeFile {
            size,
            blake3: hasher.finalize().to_hex().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_directory_reads_back_as_it_was_seeded_and_is_removed() {
        let tree = default_tree();
        let scratch = Scratch::create(&tree).unwrap();
        let path = scratch.path().to_path_buf();
        let limits = super::super::limits::OUTPUT_LIMITS;
        assert_eq!(scratch.snapshot(&limits).unwrap(), Some(tree));
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
