;; lockstep: --host-functions
;; lockstep: --engine wasmtime-cranelift
;; lockstep: --engine wasmi
;; Whose bug: wasmi 2.0.0's. wasmtime 48.0.8's four tiers all pick the operand the spec says.
;;
;; Found by `cargo xtask fuzz` with the instruction-selection trees (seed 3, module 86) on
;; 2026-11-30; the tree's select written out by hand below (6 instructions).
;;
;; `select` of two constants on the condition `x != 0` picks the second constant where x is
;; nonzero: wasmi gets the condition it fuses into the select wrong. With a plain `local.get` as
;; the condition it picks right. `cargo xtask bench fuzz` (seed 0, module 1543) met it again as
;; `select` of i32 constants on `i32.eqz x`, the second function below.
;;
;; A 10-minute `cargo xtask fuzz --seed 0 --engine wasmtime-cranelift --engine wasmi` campaign
;; (2026-11-30, after module numbers became a hash of seed and index) met it with f32 (module
;; 1404: the select of -0 and 0 feeding `f32.copysign`), f64 (module 8906) and v128 (module
;; 8749) results; the campaign's own reduction left the select alone, with a local among its
;; operands: the last two functions below, as reduced. By hand: `x == 0` goes wrong the same way;
;; `x != 5`, `x < 5` and the i64 comparisons with zero pick right; x = 0 picks right.
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
    select)
  (func (export "h") (param i32 f64) (result f64)
    local.get 1
    f64.const nan
    local.get 0
    i32.const 0
    i32.ne
    select)
  (func (export "v") (param i32 v128 v128) (result v128)
    local.get 1
    local.get 2
    local.get 0
    i32.eqz
    select))
(assert_return (invoke "f" (i32.const 1)) (i64.const 5))
(assert_return (invoke "g" (i32.const 610606194)) (i32.const 33))
(assert_return (invoke "h" (i32.const -2147483647) (f64.const 1.5)) (f64.const 1.5))
(assert_return (invoke "v" (i32.const -2147483647) (v128.const i64x2 1 2) (v128.const i64x2 3 4))
  (v128.const i64x2 3 4))
