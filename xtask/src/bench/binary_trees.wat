;; The benchmarks game's binary-trees as a plain module (no WASI), so that a nested tier's guest can
;; run it: `run(max)` builds a stretch tree of depth max+1, a long-lived tree of depth max, then
;; 2^(max-d+4) trees of each depth d = 4, 6, …, max, and returns the sum of every tree's node count.
;; Nodes (8 bytes: left, right; 0 for a leaf) come from a bump allocator reset after each tree.
(module
  (memory 1)
  (global $top (mut i32) (i32.const 8))
  (func $node (param $left i32) (param $right i32) (result i32)
    (local $at i32)
    (local.set $at (global.get $top))
    (global.set $top (i32.add (local.get $at) (i32.const 8)))
    (if (i32.gt_u (global.get $top) (i32.shl (memory.size) (i32.const 16)))
      (then (if (i32.eq (memory.grow (memory.size)) (i32.const -1)) (then unreachable))))
    (i32.store (local.get $at) (local.get $left))
    (i32.store offset=4 (local.get $at) (local.get $right))
    (local.get $at))
  (func $tree (param $depth i32) (result i32)
    (local $below i32)
    (if (result i32) (i32.eqz (local.get $depth))
      (then (call $node (i32.const 0) (i32.const 0)))
      (else
        (local.set $below (i32.sub (local.get $depth) (i32.const 1)))
        (call $node (call $tree (local.get $below)) (call $tree (local.get $below))))))
  (func $check (param $node i32) (result i32)
    (if (result i32) (i32.eqz (i32.load (local.get $node)))
      (then (i32.const 1))
      (else
        (i32.add (i32.const 1)
          (i32.add (call $check (i32.load (local.get $node)))
                   (call $check (i32.load offset=4 (local.get $node))))))))
  (func (export "run") (param $max i32) (result i32)
    (local $sum i32) (local $long i32) (local $mark i32) (local $depth i32) (local $i i32) (local $trees i32)
    (global.set $top (i32.const 8))
    (local.set $sum (call $check (call $tree (i32.add (local.get $max) (i32.const 1)))))
    (global.set $top (i32.const 8))
    (local.set $long (call $tree (local.get $max)))
    (local.set $mark (global.get $top))
    (local.set $depth (i32.const 4))
    (block $done
      (loop $depths
        (br_if $done (i32.gt_u (local.get $depth) (local.get $max)))
        (local.set $trees
          (i32.shl (i32.const 1) (i32.add (i32.sub (local.get $max) (local.get $depth)) (i32.const 4))))
        (local.set $i (i32.const 0))
        (loop $each
          (local.set $sum (i32.add (local.get $sum) (call $check (call $tree (local.get $depth)))))
          (global.set $top (local.get $mark))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $each (i32.lt_u (local.get $i) (local.get $trees))))
        (local.set $depth (i32.add (local.get $depth) (i32.const 2)))
        (br $depths)))
    (i32.add (local.get $sum) (call $check (local.get $long)))))
