;; Never ends: only the timeout (epoch deadline) or the fuel stops it.
(module (func (export "_start") (loop $forever (br $forever))))
