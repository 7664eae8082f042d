//go:build js && wasm

// Package gpu is Ladle's WebGPU backend, the only code that touches navigator.gpu. It
// runs in the engine workers and implements package compute's Merger (uniform-soup
// sums, TIES' selection histograms, and TIES' sign election and disjoint sums, all
// exact: integer arithmetic, or a float subtraction only where it is correctly
// rounded everywhere) and Forwarder (linear and convolution layers of an evaluation,
// with a fused relu, gelu, tanh or sigmoid, the batchnorm that follows the layer and
// the relu after that, and a classifier's log_softmax in the same submission as its
// last linear layer, in float32 with the GPU's summation order).
//
// Trust is earned per adapter: Open requests a device with the adapter's buffer limits,
// then runs known-answer self-tests (SelfTest) on data with zeros, ties, subnormals,
// NaN and infinities; a kernel whose output differs from the CPU reference by one bit
// (merges) or beyond float32 rounding (evaluation) makes the whole backend fall back to
// the CPU, with the reason in Status. A lost device does the same at the next call:
// every kernel then declines and the CPU computes.
//
// Memory: the device is requested with the adapter's own maxBufferSize and
// maxStorageBufferBindingSize (a device asked for nothing gets 256 MiB / 128 MiB).
// Each kernel keeps its buffers and grows them to the largest tensor seen, never
// beyond the smaller of that binding limit and 256 MiB (the GPU's memory is shared
// with the page); larger tensors are cut into chunks under it. Uniform sums run two chunks in flight: the next chunk uploads and
// computes while the previous one is read back.
package gpu
