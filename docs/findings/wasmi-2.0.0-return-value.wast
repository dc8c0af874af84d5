;; lockstep: --host-functions
;; lockstep: --engine wasmtime-cranelift
;; lockstep: --engine wasmi
;; Whose bug: wasmi 2.0.0's; the bug of wasmi-2.0.0-preserved-local.wast with the branches
;; swapped. wasmtime 48.0.8's four tiers all return the parameter, as the spec says.
;;
;; Found by `cargo xtask bench fuzz` (seed 0, iteration 46981, wasm-smith) on 2026-11-21;
;; reduced on 2026-11-30 by `cargo xtask reduce` from 165 instructions to the 7 below
;; (`--time 90`, engines as above; the unused locals and the constant's value tidied by hand).
;;
;; The parameter waits on the operand stack under an `if` that takes an f64 and whose `else`
;; holds a block. When the condition is true, the empty `then` hands the f64 through and the
;; function returns the parameter. wasmi returns another value, which changes with whatever ran
;; before in the process.
;;   cargo xtask diff docs/findings/wasmi-2.0.0-return-value.wast
(module
  (func (export "f") (param i32) (result i32)
    local.get 0
    f64.const 1
    local.get 0
    if (param f64) (result f64)
    else
      block
      end
    end
    drop))
(assert_return (invoke "f" (i32.const -1)) (i32.const -1))
