;; Tries to open ../../../../etc/hostname relative to the first preopened directory (fd 3).
;; Prints "opened" and exits 0 if that worked; prints "denied" to stderr and exits 1 if not.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "../../../../etc/hostname")
  (data (i32.const 200) "opened\0a")
  (data (i32.const 220) "denied\0a")
  (func $say (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (if (i32.eqz (call $path_open (i32.const 3) (i32.const 1) (i32.const 100) (i32.const 24)
                   (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 16)))
      (then (call $say (i32.const 1) (i32.const 200) (i32.const 7)))
      (else (call $say (i32.const 2) (i32.const 220) (i32.const 7)) (call $proc_exit (i32.const 1))))))
