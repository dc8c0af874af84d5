//! Tools outside Cargo that some tests need: a test whose tool is missing is reported as ignored with the tool and the command
//! that installs it, and the run ends by counting the skips. `LOCKSTEP_REQUIRE_TOOLS=1` (`.ci/run` sets it) makes them failures.

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

/// Set to anything but `0`, a missing tool fails the test that needs it instead of skipping it.
pub const REQUIRE: &str = "LOCKSTEP_REQUIRE_TOOLS";

/// A program from outside Cargo that a test needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// Headless Chromium, which opens the dashboard in the browser test.
    Chromium,
    /// The WebDriver server through which the browser test drives Chromium.
    Chromedriver,
    /// Node.js, which runs the `v8` external engine.
    Node,
    /// wasm3's Python binding, which runs the `wasm3` external engine.
    Pywasm3,
    /// The npm registry, which ships the corpus's language runtimes.
    NpmRegistry,
    /// The wasmi guest of the nested tiers, built to wasm32-wasip1 on demand.
    WasmiGuest,
    /// The PyPI wheel of wasmtime [`WASMTIME_RELEASE`], which `engines/wasmtime-py/` serves (pip and PyPI).
    WasmtimePy,
}

/// The old wasmtime release the tests run through `engines/wasmtime-py/`.
pub const WASMTIME_RELEASE: &str = "40.0.0";

/// The adapter that serves a wasmtime release from its PyPI wheel.
pub const WASMTIME_PY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../engines/wasmtime-py/lockstep_wasmtime.py"
);

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Chromium => "chromium",
            Tool::Chromedriver => "chromedriver",
            Tool::Node => "node",
            Tool::Pywasm3 => "pywasm3",
            Tool::NpmRegistry => "the npm registry",
            Tool::WasmiGuest => "a wasmi guest built from these sources",
            Tool::WasmtimePy => "wasmtime-py",
        }
    }

    /// The command that installs the tool, as `.ci/run` does (Debian packages, pywasm3 from PyPI).
    pub fn install(self) -> &'static str {
        match self {
            Tool::Chromium => "apt-get install chromium",
            Tool::Chromedriver => "apt-get install chromium-driver",
            Tool::Node => "apt-get install nodejs",
            Tool::Pywasm3 => "python3 -m pip install pywasm3==0.5.0",
            Tool::NpmRegistry => "apt-get install npm, and network access to the registry",
            Tool::WasmiGuest => "cargo xtask guest",
            Tool::WasmtimePy => {
                "python3 engines/wasmtime-py/lockstep_wasmtime.py --install 40.0.0 (pip and PyPI)"
            }
        }
    }

    /// The tool's executable on `PATH` (the browser test starts it by this path).
    pub fn path(self) -> Option<PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|dir| dir.join(self.name()))
            .find(|file| file.is_file())
    }

    /// Whether the tool works here, tried the way the tests use it.
    fn works(self) -> bool {
        let runs = |program: &str, args: &[&str]| {
            Command::new(program)
                .args(args)
                .output()
                .is_ok_and(|output| output.status.success())
        };
        match self {
            Tool::Chromium | Tool::Chromedriver => self.path().is_some(),
            Tool::Node => runs("node", &["--version"]),
            Tool::Pywasm3 => runs("python3", &["-c", "import wasm3"]),
            Tool::NpmRegistry => runs("npm", &["view", "@ruby/3.3-wasm-wasi@2.7.1", "version"]),
            Tool::WasmiGuest => oracles::nested::unavailable().is_none(),
            Tool::WasmtimePy => runs("python3", &[WASMTIME_PY, "--install", WASMTIME_RELEASE]),
        }
    }

    /// Whether the tool is missing here; each tool a test needs is tried once per test binary
    /// (only those: trying the wasmtime wheel may mean a pip install).
    fn missing(self) -> bool {
        static TRIED: Mutex<Vec<(Tool, bool)>> = Mutex::new(Vec::new());
        let mut tried = TRIED.lock().unwrap();
        if let Some((_, missing)) = tried.iter().find(|(tool, _)| *tool == self) {
            return *missing;
        }
        let missing = !self.works();
        tried.push((self, missing));
        missing
    }
}

/// What a skipped test lacks, as the run reports it: "chromedriver is missing (install: apt-get install chromium-driver)".
fn lacking(missing: &[Tool]) -> String {
    let tools: Vec<String> = missing
        .iter()
        .map(|tool| format!("{} is missing (install: {})", tool.name(), tool.install()))
        .collect();
    tools.join(", ")
}

/// A test and the tools it needs.
pub struct Test {
    name: String,
    needs: &'static [Tool],
    body: Box<dyn FnOnce() + Send>,
}

impl Test {
    pub fn new(name: &str, needs: &'static [Tool], body: impl FnOnce() + Send + 'static) -> Test {
        Test {
            name: name.to_string(),
            needs,
            body: Box::new(body),
        }
    }
}

/// The tests a run skipped for a missing tool, each as "name: why".
type Skipped = Arc<Mutex<Vec<String>>>;

/// Runs `tests` as `cargo test` runs a test file, skipping (or, under [`REQUIRE`], failing) those whose tools are
/// missing, then prints how many were skipped and why, and exits with libtest's status.
pub fn run(tests: Vec<Test>) -> ! {
    let arguments = Arguments::from_args();
    let required = std::env::var_os(REQUIRE).is_some_and(|value| !value.is_empty() && value != "0");
    let skipped = Skipped::default();
    let trials = tests
        .into_iter()
        .map(|test| trial(test, required, skipped.clone()))
        .collect();
    let conclusion = libtest_mimic::run(&arguments, trials);
    print_skips(&skipped.lock().unwrap());
    conclusion.exit()
}

/// The test as a trial that first looks for its tools.
fn trial(test: Test, required: bool, skipped: Skipped) -> Trial {
    Trial::ignorable_test(test.name.clone(), move || {
        let missing: Vec<Tool> = test.needs.iter().copied().filter(|t| t.missing()).collect();
        if missing.is_empty() {
            (test.body)();
            return Ok(Completion::Completed);
        }
        let why = lacking(&missing);
        if required {
            return Err(Failed::from(format!(
                "{why}; {REQUIRE} is set, so a missing tool is a failure"
            )));
        }
        skipped
            .lock()
            .unwrap()
            .push(format!("{}: {why}", test.name));
        Ok(Completion::ignored_with(why))
    })
}

/// The run's last lines: how many tests were skipped, and each with its reason.
fn print_skips(skipped: &[String]) {
    if skipped.is_empty() {
        return;
    }
    println!(
        "{} skipped for a missing tool ({REQUIRE}=1 makes that a failure):",
        plural(skipped.len())
    );
    for line in skipped {
        println!("  {line}");
    }
}

fn plural(tests: usize) -> String {
    match tests {
        1 => "1 test".to_string(),
        n => format!("{n} tests"),
    }
}

/// A test that runs this test binary's test `name` again with an empty `PATH`, where `tool` is missing:
/// it must be reported as ignored, naming the tool and its install command, and fail under [`REQUIRE`].
pub fn skipped_visibly_without(tool: Tool, name: &'static str) -> Test {
    let title = format!("{name}_skips_without_{}", tool.name());
    Test::new(&title, &[], move || {
        let skipped = rerun_without_path(name, false);
        let printed = String::from_utf8_lossy(&skipped.stdout);
        assert!(skipped.status.success(), "a skip passes:\n{printed}");
        let why = format!("{} is missing (install: {})", tool.name(), tool.install());
        let reported = printed.lines().any(|line| {
            line.starts_with(&format!("test {name} "))
                && line.contains("... ignored (")
                && line.contains(&why)
        });
        assert!(reported, "`{name}` ignored because `{why}`:\n{printed}");
        assert!(
            printed.contains("1 test skipped for a missing tool"),
            "{printed}"
        );

        let failed = rerun_without_path(name, true);
        let printed = String::from_utf8_lossy(&failed.stdout);
        assert_eq!(
            failed.status.code(),
            Some(101),
            "a required tool that is missing fails:\n{printed}"
        );
        assert!(printed.contains(&format!("{REQUIRE} is set")), "{printed}");
    })
}

fn rerun_without_path(name: &str, required: bool) -> Output {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([name, "--exact", "--test-threads=1"])
        .env("PATH", "");
    if required {
        command.env(REQUIRE, "1");
    } else {
        command.env_remove(REQUIRE);
    }
    command.output().expect("running this test binary again")
}
