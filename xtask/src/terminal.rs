//! Text from modules and engines made safe to print on a terminal.
//!
//! Rationale: export names, engine messages and program output come from strangers. A control
//! character (an escape sequence) printed as is can retitle the terminal, move the cursor or erase
//! lines, hiding or forging a verdict; escaped, it shows as what it is.

/// `text` with every control character but the line break escaped as Rust writes it (`\u{1b}`, `\t`).
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' => "\n".to_string(),
            c if c.is_control() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_sequences_are_shown_not_obeyed() {
        let text = super::printable("f\u{1b}]0;pwned\u{7}\r\nok\u{9b}");
        assert_eq!(text, "f\\u{1b}]0;pwned\\u{7}\\r\nok\\u{9b}");
    }
}
