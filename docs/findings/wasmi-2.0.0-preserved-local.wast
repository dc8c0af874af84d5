;; lockstep: --host-functions
;; lockstep: --engine wasmtime-cranelift
;; lockstep: --engine wasmi
;; Whose bug: wasmi 2.0.0's (its translation of a value kept on the operand stack below an `if`
;; that takes a parameter). wasmtime 48.0.8's four tiers all agree with the spec.
;;
;; Found by `cargo xtask fuzz` (seed 0, iteration 28297, wasm-smith) on 2026-11-21 as a state
;; divergence; reduced on 2026-11-30 by `cargo xtask reduce` (65 instructions to 14) with a new
;; worker per run, since what wasmi returns is what its value stack held before.
;;
;; The f32 parameter, pushed by `local.get 2`, waits under an `if` whose body leaves a v128 from a
;; loop and drops it; the function then returns that parameter's bits. wasmtime returns them
;; (1843007919, 0x6dda1aaf); wasmi 2.0.0 returns a value that changes with whatever ran before
;; (604034320 in a fresh process), so the parameter is read from a slot the `if` reused.
;;   cargo xtask diff docs/findings/wasmi-2.0.0-preserved-local.wast
(module
  (func (export "f") (param i32 i64 f32 f64) (result i32)
    (local v128 v128 f64 f64 f64 f32)
    local.get 2
    i32.const 0
    i64.const 0
    i64x2.splat
    i32x4.all_true
    if (param i32) (result i32)
      loop (result v128)
        v128.const i32x4 0x0007ffff 0x00000000 0xffffffff 0x0fffffff
      end
      drop
    end
    drop
    i32.reinterpret_f32))
(assert_return (invoke "f" (i32.const -1) (i64.const 3199123669689638002) (f32.const 8.436139e27) (f64.const 0.0))
  (i32.const 1843007919))
