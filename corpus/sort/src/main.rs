//! Sorts pseudo-random numbers and words, seeded from WASI `random_get` (through
//! the standard library's hash seeds), so the sandbox's seeded randomness decides
//! the input. `sort COUNT` (default 20000).

use std::hash::BuildHasher;

/// xorshift64*: a small, fast generator; the seed comes from the sandbox.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn checksum(numbers: &[u64]) -> u64 {
    numbers
        .iter()
        .fold(0u64, |sum, n| sum.wrapping_mul(31).wrapping_add(*n))
}

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .map(|word| word.parse().expect("the count is a number"))
        .unwrap_or(20_000);
    let seed = std::collections::hash_map::RandomState::new().hash_one(0u64) | 1;
    println!("seed {seed:#018x}");
    let mut generator = Generator(seed);
    let numbers: Vec<u64> = (0..count).map(|_| generator.next() % 1_000_000).collect();

    let mut stable = numbers.clone();
    stable.sort();
    let mut unstable = numbers.clone();
    unstable.sort_unstable_by(|a, b| b.cmp(a));
    unstable.reverse();
    assert_eq!(stable, unstable, "both sorts agree");
    println!("{count} numbers, checksum {:#018x}", checksum(&stable));
    println!("smallest {:?}", &stable[..count.min(5)]);
    println!("largest {:?}", &stable[count.saturating_sub(5)..]);

    let mut words: Vec<String> = numbers
        .iter()
        .take(1000)
        .map(|n| format!("w{:x}", n.wrapping_mul(2_654_435_761) % 65_536))
        .collect();
    words.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    words.dedup();
    println!("{} distinct words, first {:?}", words.len(), &words[..3.min(words.len())]);

    let mut floats: Vec<f64> = numbers.iter().map(|n| (*n as f64).sqrt() - 500.0).collect();
    floats.sort_by(f64::total_cmp);
    println!(
        "float median {:.6}",
        floats.get(count / 2).copied().unwrap_or(0.0)
    );
}
