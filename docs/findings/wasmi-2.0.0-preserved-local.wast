;; lockstep: --host-functions
;; lockstep: --engine wasmtime-cranelift
;; lockstep: --engine wasmi
;; Whose bug: wasmi 2.0.0's. wasmtime 48.0.8's four tiers all return the parameter, as the spec says.
;;
;; Found by `cargo xtask fuzz` (seed 0, iteration 28297, wasm-smith) on 2026-11-21. On 2026-11-30
;; `cargo xtask reduce` cut it from 65 instructions to 14 (with a new worker per run: what wasmi
;; returns is whatever its value stack held before); the last steps, to the 7 below, were by hand.
;;
;; The first parameter waits on the operand stack under an `if` that takes an i32 parameter and
;; whose `then` holds a block. When the condition is false, the implicit `else` hands the
;; parameter through and the function returns the first parameter. wasmi returns another value,
;; which changes with whatever ran before in the process: it reads a slot the `if` reused.
;;   cargo xtask diff docs/findings/wasmi-2.0.0-preserved-local.wast
(module
  (func (export "f") (param i32 i32) (result i32)
    local.get 0
    i32.const 0
    local.get 1
    if (param i32) (result i32)
      block
      end
    end
    drop))
(assert_return (invoke "f" (i32.const 7) (i32.const 0)) (i32.const 7))
