//! Prints a few lines, then traps: with `panic = "abort"` the panic message
//! goes to stderr and the abort is a Wasm `unreachable`. Every tier must show
//! the same partial output and the same trap. `trap-mid-output LINES` (default 5).

fn main() {
    let lines: u32 = std::env::args()
        .nth(1)
        .map(|word| word.parse().expect("the line count is a number"))
        .unwrap_or(5);
    let mut total = 0u64;
    for line in 1..=lines {
        total += u64::from(line) * u64::from(line);
        println!("line {line}: running total {total}");
    }
    eprintln!("about to fail after {lines} lines");
    let divisor = std::hint::black_box(0u64);
    if divisor == 0 {
        panic!("stopping mid-output with total {total}");
    }
    println!("never printed: {}", total / divisor);
}
