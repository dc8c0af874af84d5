;; The module `cargo xtask aot-compat` precompiles and loads under every setting: code whose lowering
;; depends on CPU features (popcnt, lzcnt/tzcnt, rounding, SIMD), on memory settings (bounds checks,
;; growth) and on trap handling (division by zero, out-of-bounds accesses).
(module
  (memory (export "memory") 1 3)
  (data (i32.const 0) "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10")
  (func (export "popcnt") (param i64) (result i64) (i64.popcnt (local.get 0)))
  (func (export "clz") (param i32) (result i32) (i32.clz (local.get 0)))
  (func (export "ctz") (param i64) (result i64) (i64.ctz (local.get 0)))
  (func (export "ceil") (param f32) (result f32) (f32.ceil (local.get 0)))
  (func (export "nearest") (param f64) (result f64) (f64.nearest (local.get 0)))
  (func (export "trunc-sat") (param f64) (result i32) (i32.trunc_sat_f64_u (local.get 0)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  ;; Instructions whose x86 lowering changes between SSE2, SSE4.1, AVX2 and AVX-512.
  (func (export "simd") (param i32) (result i64)
    (local $v v128)
    (local.set $v (v128.load (local.get 0)))
    (local.set $v (i8x16.popcnt (local.get $v)))
    (local.set $v (i32x4.mul (local.get $v) (v128.load offset=4 (local.get 0))))
    (local.set $v (i32x4.max_s (local.get $v) (i32x4.splat (i32.const 100))))
    (local.set $v (i64x2.mul (local.get $v) (i64x2.abs (v128.load offset=8 (local.get 0)))))
    (local.set $v (i8x16.swizzle (local.get $v) (v128.load offset=2 (local.get 0))))
    (local.set $v (f32x4.ceil (f32x4.convert_i32x4_s (local.get $v))))
    (i64.xor (i64x2.extract_lane 0 (local.get $v)) (i64x2.extract_lane 1 (local.get $v)))))
