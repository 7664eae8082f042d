//go:build js && wasm

// Package simd runs the exact mode's matrix product (package nn's ExactProduct) with
// WebAssembly SIMD, which Go's compiler does not emit: a small module, assembled here
// at start-up (asm.go, kernel.go), that imports the engine's own memory and computes
// on the Go slices in place, called once per product through syscall/js.
//
// Invariants (each has tests, run under Node by site/browsertest):
//
//   - The same bits as the Go product: every lane of the vector multiply and add
//     rounds as the scalar instructions do, and each element's sum runs over l in
//     index order, so evaluations in the tab print what `ladle eval` prints.
//   - Nothing changes where SIMD or the memory is missing: Install reports why and
//     leaves the Go product in place (older browsers, a page that does not expose
//     the memory).
//   - The memory comes from the page: the worker's loader exposes the Go instance's
//     memory as globalThis.ladleGoMemory() (public/engine.js; under Node,
//     site/browsertest/testdata/wasm_exec_mem.js). The module imports that
//     WebAssembly.Memory, so it sees the memory grow.
package simd
