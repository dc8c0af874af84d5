//! `wasmtime-cranelift`: wasmtime's optimizing Cranelift JIT, compiling each module in process.

use super::Tier;

pub const TIER: Tier = Tier {
    id: "wasmtime-cranelift",
    features: super::full_features,
    configure: |_| {},
    ahead_of_time: false,
    partial: false,
    cpu: Some(super::CpuLevel::Native),
};

#[cfg(test)]
mod tests {
    #[test]
    fn smoke() {
        super::super::smoke::check_tier(super::TIER);
    }
}
