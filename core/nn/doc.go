// Package nn is Ladle's small inference and training engine: float32 networks
// described by an architecture spec (ARCH.json, see Arch), batched, on the CPU, native
// or js/wasm.
//
// A spec lists the input (input_shape, input_scale, per-channel normalize) and the
// layers: linear, conv2d (stride, padding), batchnorm (1d/2d), relu, gelu (exact erf
// form), tanh, sigmoid, maxpool2d and avgpool2d (kernel, stride, padding), flatten,
// dropout, softmax and log_softmax. It comes from a file (ParseArch) or from a
// checkpoint's metadata key "ladle.arch" (ArchOf). Bound to weights, in PyTorch's
// layout and names (NAME.weight, NAME.bias, NAME.running_mean, NAME.running_var),
// it becomes a Model: from a checkpoint with Load, from memory with NewModel.
//
//	arch, _ := nn.ParseArch(specJSON)
//	m, _ := nn.Load(arch, src)             // or nn.NewModel(arch, map[string]nn.Tensor{...})
//	out, _ := m.Forward(x, batch)          // eval mode, batch × m.OutputSize()
//	p, _ := m.Record(x, batch, nn.Train)   // keeps activations; batchnorm on batch statistics
//	loss, _ := nn.CrossEntropy(p.Output(), labels, m.OutputKind(), dout)
//	g := m.NewGrads()
//	dx, _ := p.Backward(dout, g)           // parameter gradients added to g; dx w.r.t. the raw input
//
// Invariants (each has tests):
//
//   - PyTorch semantics. Every op computes what its PyTorch namesake computes with
//     default arguments (conv2d: groups 1, dilation 1, zero padding; pools: floor mode,
//     maxpool padding −Inf, avgpool counting the padding; softmax over dim 1; gelu
//     exact; batchnorm eval mode on running statistics, training mode on biased batch
//     statistics with running statistics moved by momentum (default 0.1) toward the
//     batch mean and unbiased variance). Dropout is the identity in every mode. The
//     tests hold forward and backward of every op, on both product paths, to 1e-5 of a
//     float64 reference written with plain loops (backward through central differences).
//
//   - Honest binding. NewModel and Load check, before running anything, that every
//     tensor the spec reads exists with the shape the layer needs; an error names the
//     layer, the tensor, the shape found and the shape wanted (with ? for sizes the
//     spec leaves free), and for Load the file. Tensors the spec does not read (such as
//     num_batches_tracked) are ignored.
//
//   - Batch and thread independence. In eval mode samples are independent: Forward
//     cuts the batch into chunks run on up to SetThreads goroutines, and a sample's
//     output is bit-identical whatever batch it came in and however many goroutines
//     ran. Gradients are bit-identical for any number of goroutines too: per-chunk
//     partial sums use chunks that depend only on the batch size and are added in
//     chunk order. Results may differ in the last bits between platforms (the amd64
//     FMA kernel, gonum's SIMD routines and their pure-Go fallbacks round differently),
//     except in exact mode (SetExact, exact.go): there every platform computes the same
//     bits, transcendentals included (the portable exp and log; gelu's erf and tanh
//     from package tensor), forward and backward.
//
//   - No shared mutable state in inference. Forward only reads the parameters and
//     uses per-goroutine buffers, which are kept for the next call; it is safe for
//     concurrent use. A Model's Params are its storage: training updates them in place.
//
//   - Bounded memory. Forward holds, per goroutine, two buffers of a chunk (at most 16
//     samples) of the largest activation plus the im2col matrix of one sample; only the
//     output grows with the batch. Record keeps every activation of the batch.
//
//   - Portable. No cgo, no syscall/js. The forward products run, on amd64 CPUs with
//     AVX and FMA (checked with CPUID at start-up), 6×16 and 4×16 assembly kernels
//     that add the bias and apply a following relu as they store, and that can read
//     the rows of B through an offset table, so that stride-1 convolutions read their
//     input planes in place of an im2col matrix. Everywhere else (the build tag purego
//     leaves the kernels out; js/wasm), and in exact mode, they run the exact form:
//     Go in 2×4 register tiles, or an ExactProduct a platform installs
//     (SetExactProduct: ladle/wasm/simd's WebAssembly SIMD), which must give the same
//     bits. The backward products use gonum's BLAS level-1 routines.
package nn
