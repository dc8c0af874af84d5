//! Writes, appends, renames and removes files in the scratch directory, lists
//! what is left, and shows that nothing outside the sandbox can be reached.
//! Exits with status 3 if the sandbox leaked. `files [COUNT]` (default 3).

use std::fs;
use std::io::Write;

fn listing(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("listing a directory")
        .map(|entry| {
            let entry = entry.expect("a directory entry");
            let kind = if entry.file_type().expect("a file type").is_dir() { "/" } else { "" };
            format!("{}{kind}", entry.file_name().to_string_lossy())
        })
        .collect();
    names.sort();
    names
}

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .map(|word| word.parse().expect("the count is a number"))
        .unwrap_or(3);
    fs::create_dir_all("out/logs").expect("creating out/logs");
    for i in 0..count {
        let draft = format!("out/draft-{i}.txt");
        fs::write(&draft, format!("draft {i}\n")).expect("writing a draft");
        let mut file = fs::OpenOptions::new().append(true).open(&draft).expect("reopening");
        writeln!(file, "appended to {i}").expect("appending");
        fs::rename(&draft, format!("out/final-{i}.txt")).expect("renaming");
    }
    fs::copy("input.txt", "out/logs/input-copy.txt").expect("copying input.txt");
    fs::remove_file("notes/todo.txt").expect("removing notes/todo.txt");
    let size = fs::metadata("out/final-0.txt").map_or(0, |m| m.len());
    println!("out: {:?}", listing("out"));
    println!("out/logs: {:?}", listing("out/logs"));
    println!("notes: {:?}", listing("notes"));
    println!("final-0.txt has {size} bytes");
    let outside = ["/etc/passwd", "../outside.txt", "/tmp"];
    let mut leaked = false;
    for path in outside {
        let reachable = fs::metadata(path).is_ok();
        leaked |= reachable;
        println!("{path}: {}", if reachable { "REACHABLE" } else { "not reachable" });
    }
    if leaked {
        std::process::exit(3);
    }
}
