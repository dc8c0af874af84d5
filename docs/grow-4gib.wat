;; Grows its memory to 4 GiB, then stores near the top: the README's state-digest timing (`cargo xtask diff docs/grow-4gib.wat`).
(module
  (memory (export "mem") 1)
  (func (export "grow") (result i32) (memory.grow (i32.const 65535)))
  (func (export "touch") (result i32)
    (i32.store (i32.const 4096) (i32.const 7))
    (i32.store (i32.const 0xfffffff0) (i32.const 9))
    (i32.load (i32.const 0xfffffff0))))
