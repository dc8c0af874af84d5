;; lockstep: --host-functions
;; lockstep: --engine wasmtime-cranelift
;; lockstep: --engine wasmi
;; Whose bug: wasmi 2.0.0's. wasmtime 48.0.8's four tiers all pick the first operand, as the spec says.
;;
;; Found by `cargo xtask fuzz` with the instruction-selection trees (seed 3, module 86) on
;; 2026-11-30; the tree's select written out by hand below (6 instructions).
;;
;; `select` of two constants on the condition `x != 0` picks the second constant where x is
;; nonzero: wasmi inverts the condition it fuses into the select. With a plain `local.get` as the
;; condition it picks right. `cargo xtask bench fuzz` (seed 0, module 1543) met it again as
;; `select` of i32 constants on `i32.eqz x`, the second function below.
;;   cargo xtask diff docs/findings/wasmi-2.0.0-select-ne.wast
(module
  (func (export "f") (param i32) (result i64)
    i64.const 5
    i64.const 1
    local.get 0
    i32.const 0
    i32.ne
    select)
  (func (export "g") (param i32) (result i32)
    i32.const 0
    i32.const 33
    local.get 0
    i32.eqz
    select))
(assert_return (invoke "f" (i32.const 1)) (i64.const 5))
(assert_return (invoke "g" (i32.const 610606194)) (i32.const 33))
