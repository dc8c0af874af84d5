//! A regex search: prints the lines of a file (default `input.txt` in the
//! scratch directory) that match a pattern, then how often each match occurred.
//! `regex-search PATTERN [FILE]`.

use regex::Regex;
use std::collections::HashMap;

fn main() {
    let mut args = std::env::args().skip(1);
    let pattern = args.next().unwrap_or_else(|| "[a-z]+ing".into());
    let path = args.next().unwrap_or_else(|| "input.txt".into());
    let regex = Regex::new(&pattern).expect("a valid pattern");
    let text = std::fs::read_to_string(&path).expect("reading the input");
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut matching_lines = 0;
    for (number, line) in text.lines().enumerate() {
        let found: Vec<&str> = regex.find_iter(line).map(|m| m.as_str()).collect();
        if found.is_empty() {
            continue;
        }
        matching_lines += 1;
        println!("{}: {line}", number + 1);
        for word in found {
            *counts.entry(word).or_default() += 1;
        }
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    println!("{matching_lines} matching lines, {} distinct matches", counts.len());
    for (word, count) in counts.iter().take(10) {
        println!("{count:>4} {word}");
    }
    if matching_lines == 0 {
        std::process::exit(1);
    }
}
