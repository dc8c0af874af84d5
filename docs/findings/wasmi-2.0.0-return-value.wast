;; lockstep: --host-functions
;; lockstep: --engine wasmtime-cranelift
;; lockstep: --engine wasmi
;; Whose bug: wasmi 2.0.0's; probably the bug of wasmi-2.0.0-preserved-local.wast, met through
;; an `if` with an `else`. wasmtime 48.0.8's four tiers all agree with the spec.
;;
;; Found by `cargo xtask bench fuzz` (seed 0, iteration 46981, wasm-smith) on 2026-11-21;
;; reduced on 2026-11-30 by `cargo xtask reduce` (165 instructions to 18).
;;
;; The i32 parameter waits at the bottom of the operand stack while an `if` that takes an f64
;; runs its `else`; after the values above it are dropped, the function returns the parameter.
;; wasmtime returns it (-1); wasmi 2.0.0 returns another value, which changes with whatever ran
;; before in the process (-60325880 in a fresh one).
;;   cargo xtask diff docs/findings/wasmi-2.0.0-return-value.wast
(module
  (func (export "f") (param i32) (result i32)
    (local f64 f64 f64)
    local.get 0
    f32.const 0x1p-129
    i64.const 0
    f64.const 0x1.7a8af2274827bp+686
    local.get 0
    if (param f64) (result f64)
    else
      i64.const 0
      i32.const 0
      block
      end
      drop
      drop
    end
    drop
    drop
    drop))
(assert_return (invoke "f" (i32.const -1)) (i32.const -1))
