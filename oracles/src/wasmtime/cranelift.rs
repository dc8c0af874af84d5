//! `wasmtime-cranelift`: wasmtime's optimizing Cranelift JIT, compiling each module in process.

pub(super) const ID: &str = "wasmtime-cranelift";

#[cfg(test)]
mod tests {
    #[test]
    fn smoke() {
        super::super::smoke::check_tier(super::super::Tier::Cranelift);
    }
}
