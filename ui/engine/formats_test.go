package engine

// The engine reads every format its host registers: the worker (ladle/wasm/engine)
// imports them all, and so do the tests. The page program, which only needs this
// package's protocol, does not link the format readers.
import _ "ladle/core/ckpt/all"
