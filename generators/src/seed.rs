//! Where generators' decisions come from: a seed (the same seed gives the same module, whatever
//! the machine or thread) or a fuzzer's input bytes.

use arbitrary::{Arbitrary, Unstructured};

/// A source of a generator's decisions. `cargo xtask fuzz` draws them from a seeded [`Rng`];
/// the `fuzz/` targets from libFuzzer's input ([`FuzzerBytes`]), so that a small change of the
/// input is a small change of the module and libFuzzer's coverage guidance can steer.
pub trait Choices {
    fn next_u64(&mut self) -> u64;
    /// A number in `0..bound` (`bound` > 0).
    fn below(&mut self, bound: u64) -> u64;
    fn chance(&mut self, numerator: u64, denominator: u64) -> bool;
    /// Runs `draw` (wasm-smith, say) on raw bytes for `arbitrary`, about `len` of them.
    fn with_unstructured<T>(&mut self, len: usize, draw: impl FnOnce(&mut Unstructured) -> T) -> T;
}

/// SplitMix64: small, fast, and good enough to feed `arbitrary`.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The generator for item `index` of a campaign started with `seed`: its stream starts at a
    /// hash of both.
    ///
    /// Rationale: SplitMix64 walks its state by a fixed step, so streams that start a step
    /// apart (say at `seed ^ index * step`) are the same draws shifted by one; hashing puts
    /// every item's start anywhere in the 2^64 states, and neighbouring items share nothing.
    pub fn for_item(seed: u64, index: u64) -> Rng {
        Rng(finalize(
            finalize(seed).wrapping_add(index).wrapping_add(GAMMA),
        ))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        finalize(self.0)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }

    /// `len` random bytes, the raw material for `arbitrary::Unstructured`.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// SplitMix64's step between states: the golden ratio in 64 bits.
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's finalizer: a bijection of 64-bit numbers in which every input bit flips about
/// half the output bits.
fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Choices for Rng {
    fn next_u64(&mut self) -> u64 {
        Rng::next_u64(self)
    }

    fn below(&mut self, bound: u64) -> u64 {
        Rng::below(self, bound)
    }

    fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        Rng::chance(self, numerator, denominator)
    }

    /// `len` fresh bytes from the seed.
    fn with_unstructured<T>(&mut self, len: usize, draw: impl FnOnce(&mut Unstructured) -> T) -> T {
        draw(&mut Unstructured::new(&self.bytes(len)))
    }
}

/// A fuzzer's input read as decisions through `arbitrary`, as wasmtime's own fuzz targets
/// read theirs: each decision takes the next bytes, and wasm-smith reads the input itself
/// rather than a hash of it. An exhausted input answers every decision with its smallest
/// choice (`arbitrary`'s rule), so every input makes some module.
pub struct FuzzerBytes<'a>(Unstructured<'a>);

impl<'a> FuzzerBytes<'a> {
    pub fn new(data: &'a [u8]) -> FuzzerBytes<'a> {
        FuzzerBytes(Unstructured::new(data))
    }
}

impl Choices for FuzzerBytes<'_> {
    fn next_u64(&mut self) -> u64 {
        u64::arbitrary(&mut self.0).unwrap_or(0)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.0.int_in_range(0..=bound - 1).unwrap_or(0)
    }

    fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.0.ratio(numerator, denominator).unwrap_or(false)
    }

    /// The rest of the input, whatever `len`: wasm-smith takes what it needs, and the
    /// decisions after it (the arguments) read what it leaves.
    fn with_unstructured<T>(
        &mut self,
        _len: usize,
        draw: impl FnOnce(&mut Unstructured) -> T,
    ) -> T {
        draw(&mut self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smith;
    use wasmparser::WasmFeatures;

    #[test]
    fn one_changed_input_byte_changes_the_module_a_little() {
        let input: Vec<u8> = (0..2048u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let module = |data: &[u8]| smith::module(WasmFeatures::WASM2, &mut FuzzerBytes::new(data));
        let before = module(&input).unwrap();
        assert_eq!(
            module(&input).unwrap().wasm,
            before.wasm,
            "not reproducible"
        );
        let mut mutated = input.clone();
        mutated[1500] ^= 0x10;
        let after = module(&mutated).unwrap();
        assert!(
            (&after.wasm, &after.calls) != (&before.wasm, &before.calls),
            "the byte was not read"
        );
        // The swarm's and wasm-smith's first decisions come from the bytes before the change.
        let shared = before
            .wasm
            .iter()
            .zip(&after.wasm)
            .take_while(|(a, b)| a == b)
            .count();
        assert!(shared > 16, "only {shared} leading bytes in common");
    }

    #[test]
    fn neighbouring_items_draw_unrelated_streams() {
        for seed in [0, 1, 3, 0x6b6e_6f62] {
            for index in 0..64 {
                let draws = |index| {
                    let mut rng = Rng::for_item(seed, index);
                    (0..16).map(|_| rng.next_u64()).collect::<Vec<u64>>()
                };
                let (this, next) = (draws(index), draws(index + 1));
                let shared = next.iter().filter(|draw| this.contains(draw)).count();
                assert_eq!(shared, 0, "seed {seed}, items {index} and {}", index + 1);
            }
        }
    }

    #[test]
    fn an_exhausted_input_still_makes_a_module() {
        let inputs: [&[u8]; 2] = [&[], &[0xff; 3]];
        for data in inputs {
            let generated =
                smith::module(WasmFeatures::WASM2, &mut FuzzerBytes::new(data)).unwrap();
            wasmparser::validate(&generated.wasm).unwrap();
        }
    }
}
