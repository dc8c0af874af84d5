//! The conformance dashboard in a real browser: Debian's headless Chromium, driven through chromedriver's WebDriver API,
//! opens the page of a small fixture run from disk, a click and the keyboard open cells, and a screenshot is kept.
//!
//! Chromium and chromedriver are found on `PATH` (`.ci/run` installs them); without them the test is reported as ignored
//! with the command that installs them, or fails under `LOCKSTEP_REQUIRE_TOOLS=1`.

mod common;

use common::tools::{self, Test, Tool};
use common::{WRONG_ASSERTION, shown, xtask};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// WebDriver's key for an element reference in its answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const ARROW_DOWN: &str = "\u{E015}";
const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";

const BROWSER_TEST: &str = "a_clicked_cell_shows_its_failing_directive_in_chromium";

fn main() {
    tools::run(vec![
        Test::new(
            BROWSER_TEST,
            &[Tool::Chromium, Tool::Chromedriver],
            a_clicked_cell_shows_its_failing_directive_in_chromium,
        ),
        tools::skipped_visibly_without(Tool::Chromedriver, BROWSER_TEST),
    ])
}

fn a_clicked_cell_shows_its_failing_directive_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("fixture");
    std::fs::create_dir_all(&fixture).unwrap();
    std::fs::write(fixture.join("numbers.wast"), WRONG_ASSERTION).unwrap();
    let out = dir.path().join("out");
    let output = xtask(&[
        "conformance",
        "--suite",
        fixture.to_str().unwrap(),
        "--suite",
        "proposals/mutable-global",
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "wasmi",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", shown(&output));

    let driver = Chromedriver::start();
    let browser = driver.session(dir.path());
    browser.post(
        "url",
        json!({ "url": format!("file://{}", out.join("index.html").display()) }),
    );

    let failing = format!(
        "td[data-engine='wasmi'][data-suite='{}'] a",
        fixture.display()
    );
    browser.click(&browser.find(&failing));
    let detail = browser.find(".detail:target");
    assert!(browser.displayed(&detail));
    let text = browser.text(&detail);
    for shown in [
        "wasmi ×",
        "numbers.wast:4:2",
        "(assert_return (invoke \"two\") (i32.const 3))",
        "wasmtime-cranelift, wasmi",
        "expected [i32:3], got [i32:2]",
    ] {
        assert!(
            text.contains(shown),
            "the drill-down shows `{shown}`:\n{text}"
        );
    }
    screenshot(&browser, "dashboard-failing-cell.png");

    // From the keyboard: the cell below (the same engine on mutable-global) opens with Enter
    // and shows the expectation's reason.
    let cell = browser.find(&failing);
    browser.keys(&cell, ARROW_DOWN);
    let below = browser.active();
    browser.keys(&below, ENTER);
    let opened = browser.find(".detail:target");
    let text = browser.text(&opened);
    assert!(
        text.contains("wasmi × proposals/mutable-global") && text.contains("predates Wasm 2.0"),
        "the expected failures show their reason:\n{text}"
    );
    // Escape closes the drill-down and returns to its cell.
    browser.keys(&opened, ESCAPE);
    assert!(!browser.displayed(&opened));
    assert_eq!(browser.active(), below);

    // At a phone's width nothing but the matrix's own scroll box is wider than the screen.
    browser.post("window/rect", json!({ "width": 375, "height": 800 }));
    let overflow = browser.post(
        "execute/sync",
        json!({ "script": "return document.documentElement.scrollWidth - document.documentElement.clientWidth;", "args": [] }),
    );
    assert_eq!(overflow, json!(0), "no sideways scrolling at 375px");
    screenshot(&browser, "dashboard-narrow.png");
}

/// Saves the browser's view under `target/lockstep/browser/`, where CI keeps artifacts.
fn screenshot(browser: &Session, name: &str) {
    let png = base64(browser.get("screenshot").as_str().unwrap());
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/lockstep/browser"
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
    eprintln!("screenshot: {}", dir.join(name).display());
}

/// chromedriver on a free local port, stopped when dropped.
struct Chromedriver {
    process: Child,
    port: u16,
}

impl Chromedriver {
    fn start() -> Chromedriver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let chromedriver = Tool::Chromedriver.path().expect("chromedriver on PATH");
        let process = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let driver = Chromedriver { process, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !matches!(
            driver
                .call("GET", "/status", None)
                .map(|s| s["value"]["ready"] == true),
            Ok(true)
        ) {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }

    /// A headless Chromium with a fresh profile in `profile_parent`, and no network of its own.
    fn session(&self, profile_parent: &Path) -> Session<'_> {
        let profile = profile_parent.join("chromium-profile");
        let chromium = Tool::Chromium.path().expect("chromium on PATH");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1200,1000",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let answer = self
            .call(
                "POST",
                "/session",
                Some(json!({ "capabilities": { "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": { "binary": chromium, "args": args },
                }}})),
            )
            .unwrap();
        let id = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_string();
        Session { driver: self, id }
    }

    /// One HTTP request to chromedriver; its JSON answer, or an I/O error while it starts.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> std::io::Result<Value> {
        let body = body.map_or(String::new(), |b| b.to_string());
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        // chromedriver announces `Connection: close` but keeps the socket open: read what Content-Length says.
        let mut reader = BufReader::new(stream);
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().map_err(std::io::Error::other)?;
            }
        }
        let mut json = vec![0; length];
        reader.read_exact(&mut json)?;
        serde_json::from_slice(&json).map_err(std::io::Error::other)
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// A browser session; closed (Chromium ends) when dropped.
struct Session<'a> {
    driver: &'a Chromedriver,
    id: String,
}

impl Session<'_> {
    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("/session/{}/{path}", self.id);
        let answer = self.driver.call(method, &url, body).unwrap();
        let value = answer["value"].clone();
        assert!(
            value.get("error").is_none(),
            "{method} {path}: {}",
            value["message"]
        );
        value
    }

    fn get(&self, path: &str) -> Value {
        self.command("GET", path, None)
    }

    fn post(&self, path: &str, body: Value) -> Value {
        self.command("POST", path, Some(body))
    }

    fn find(&self, css: &str) -> String {
        let found = self.post("element", json!({ "using": "css selector", "value": css }));
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    fn active(&self) -> String {
        self.get("element/active")[ELEMENT]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn click(&self, element: &str) {
        self.post(&format!("element/{element}/click"), json!({}));
    }

    fn keys(&self, element: &str, keys: &str) {
        self.post(&format!("element/{element}/value"), json!({ "text": keys }));
    }

    fn text(&self, element: &str) -> String {
        self.get(&format!("element/{element}/text"))
            .as_str()
            .unwrap()
            .to_string()
    }

    fn displayed(&self, element: &str) -> bool {
        self.get(&format!("element/{element}/displayed")) == true
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = self
            .driver
            .call("DELETE", &format!("/session/{}", self.id), None);
    }
}

/// Standard base64, as WebDriver sends screenshots.
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = text.bytes().filter(|c| *c != b'=').map(value).collect();
    digits
        .chunks(4)
        .flat_map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, d)| acc | u32::from(*d) << (18 - 6 * i));
            let bytes = bits.to_be_bytes();
            bytes[1..chunk.len()].to_vec()
        })
        .collect()
}
