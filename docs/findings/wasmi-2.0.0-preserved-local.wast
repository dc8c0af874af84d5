;; lockstep: --host-functions
;; Found by `cargo xtask fuzz` (seed 0, iteration 28297, wasm-smith generator) on
;; 2026-11-21 as a state divergence (an exported global), then cut down by
;; deleting lines while `cargo xtask diff` still showed the divergence.
;;
;; The f32 parameter pushed by the first `local.get 2` stays on the operand stack
;; across nested blocks while a deeper `local.set 2` overwrites that local; the
;; function finally returns the preserved value's bits.
;;
;;   wasmtime-cranelift, -aot, -winch, -pulley (48.0.8): [i32:-8388608]  (0xff800000, the bits of -inf)
;;   wasmi (2.0.0): a different value on each run (0, 112, 40, -1811903216 seen)
;;
;; A value that changes from run to run for the same input suggests wasmi reads a
;; stale or uninitialized slot. The assertion states the result every wasmtime
;; tier gives; wasmi fails it:
;;   cargo xtask diff docs/findings/wasmi-2.0.0-preserved-local.wast --engine wasmtime-cranelift --engine wasmi
(module
  (global (;0;) (mut i32) i32.const -2002327611 i32.const -258535985 i32.const -1076333571 i32.const 1031986206 i32.const 1402566624 i32.const 2074414292 i32.sub i32.const -2029700349 i32.const -1885024293 i32.const 2061054635 i32.mul i32.add i32.mul i32.sub i32.mul i32.add i32.add)
  (global (;1;) (mut i32) i32.const 0)
  (global (;2;) (mut i32) i32.const 0)
  (global (;3;) (mut i64) i64.const 0)
  (global (;4;) (mut v128) v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
  (global (;5;) (mut i32) i32.const 1000)
  (export "5" (func 0))
  (func (;5;) (param i32 i64 f32 f64) (result i32)
    (local v128 v128 f64 f64 f64 f32)
    global.get 5
    if ;; label = @1
    end
    local.get 2
    i32.const 2139095039
    i32.const 12345
    f32.convert_i32_s
    i64.trunc_f32_s
    i64x2.splat
    v128.const i32x4 0x00000000 0x7ff80000 0x00000000 0x7ff80000
    local.get 4
    v128.bitselect
    i32x4.all_true
    if (param i32) (result i32) ;; label = @1
      f64.convert_i32_u
      f64.const nan (;=NaN;)
      local.get 6
      local.get 6
      f64.eq
      select
      loop (result v128) ;; label = @2
        global.get 5
        if ;; label = @3
          block (result f64) ;; label = @4
            i32.const -134217728
            f32.convert_i32_s
            f64.promote_f32
            i64.const 1229782938247303441
            i64.const 134217728
            i64.gt_s
            if ;; label = @5
              loop (result i32) ;; label = @6
                global.get 5
                if ;; label = @7
                  f32.const -0x1.245a1p-3 (;=-0.1427499;)
                  block ;; label = @8
                    f32.const 0x1.ffp-141 (;=0.000000000000000000000000000000000000000000716;)
                    f32.const nan (;=NaN;)
                    local.get 9
                    local.get 9
                    f32.eq
                    select
                    local.set 2
                  end
                  i32.reinterpret_f32
                  global.set 1
                end
                i32.const 312270803
              end
              global.set 2
            end
          end
          i64.reinterpret_f64
          global.set 3
        end
        v128.const i32x4 0x0007ffff 0x00000000 0xffffffff 0x0fffffff
      end
      global.set 4
      i64.reinterpret_f64
      global.set 3
      i32.const 8388608
    end
    global.set 2
    i32.reinterpret_f32
  )
)
(assert_return (invoke "5" (i32.const -1228227467) (i64.const -6440990349314248973) (f32.const -inf) (f64.const 7.818082765511077e-105)) (i32.const -8388608))