;; ROT13 in WebAssembly text: no toolchain needed, wasmtime compiles it when the tool is served.
;;
;; The engine writes the arguments to stdin as JSON. With this tool's inputSchema (only `text`)
;; that is exactly  {"text": "<escaped string>"}  and a newline, so the module rotates the letters
;; between byte 10 and the closing `"}`, leaves escape sequences (\n, \", \u00e9) alone, and writes
;; the same object back: {"text": "<rotated>"}.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 4)  ;; 256 KiB: the input is read from offset 1024

  ;; rotate one ASCII letter by 13 places; anything else is returned unchanged
  (func $rot (param $c i32) (result i32)
    (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
      (then (return (i32.add (i32.const 97)
        (i32.rem_u (i32.add (i32.sub (local.get $c) (i32.const 97)) (i32.const 13)) (i32.const 26))))))
    (if (i32.and (i32.ge_u (local.get $c) (i32.const 65)) (i32.le_u (local.get $c) (i32.const 90)))
      (then (return (i32.add (i32.const 65)
        (i32.rem_u (i32.add (i32.sub (local.get $c) (i32.const 65)) (i32.const 13)) (i32.const 26))))))
    (local.get $c))

  (func (export "_start")
    (local $n i32) (local $got i32) (local $i i32) (local $end i32) (local $c i32)
    ;; read all of stdin into [1024, 1024 + n)
    (block $eof
      (loop $read
        (i32.store (i32.const 0) (i32.add (i32.const 1024) (local.get $n)))
        (i32.store (i32.const 4) (i32.sub (i32.const 260096) (local.get $n)))
        (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $got (i32.load (i32.const 8)))
        (br_if $eof (i32.eqz (local.get $got)))
        (local.set $n (i32.add (local.get $n) (local.get $got)))
        (br $read)))
    ;; the string value: after {"text": " (10 bytes), before the closing "} and newlines
    (local.set $end (i32.add (i32.const 1024) (local.get $n)))
    (block $trimmed
      (loop $trim
        (br_if $trimmed (i32.le_u (local.get $end) (i32.const 1024)))
        (br_if $trimmed (i32.ne (i32.load8_u (i32.sub (local.get $end) (i32.const 1))) (i32.const 10)))
        (local.set $end (i32.sub (local.get $end) (i32.const 1)))
        (br $trim)))
    (local.set $end (i32.sub (local.get $end) (i32.const 2)))
    (local.set $i (i32.const 1034))
    (block $done
      (loop $each
        (br_if $done (i32.ge_s (local.get $i) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $i)))
        (if (i32.eq (local.get $c) (i32.const 92))  ;; a backslash: skip the escape sequence
          (then
            (local.set $i (i32.add (local.get $i)
              (select (i32.const 6) (i32.const 2)
                (i32.eq (i32.load8_u (i32.add (local.get $i) (i32.const 1))) (i32.const 117)))))
            (br $each)))
        (i32.store8 (local.get $i) (call $rot (local.get $c)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    ;; write the whole object back
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (local.get $n))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
