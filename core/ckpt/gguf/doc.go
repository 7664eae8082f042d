// Package gguf reads GGUF files, the checkpoint format of llama.cpp and ggml,
// versions 2 and 3, little-endian. It does not write them.
//
// A GGUF file is the magic "GGUF", a uint32 version, a uint64 tensor count and
// a uint64 metadata count, the metadata key/values, the tensor table (for each
// tensor: name, dimension count, dimensions, ggml type, offset), padding to
// the alignment (general.alignment, default 32), then the data section, which
// the tensor offsets count from.
//
// Shapes. GGUF stores dimensions innermost first (ggml's ne[0] is the
// contiguous one), the reverse of safetensors and PyTorch. Tensors reports
// them row-major, outermost first: a token embedding stored as [8, 32000] is
// Shape [32000, 8], and its bytes, unchanged, are that shape in C order. Names
// are GGUF's (blk.0.attn_q.weight), not Hugging Face's, and llama.cpp's
// converter permutes the rows of attention Q and K weights, so a GGUF model
// merges with other GGUF models of its architecture, not with safetensors ones.
//
// Types. F32, F16, BF16, F64, I8, I16, I32 and I64 tensors map to the Ladle
// dtypes of the same names. Quantized types (Q4_0, Q8_0, the K-quants, the
// IQ types, ...) pack blocks of elements with shared scales. Ladle does not
// decode them, and Open refuses a file that holds any, with an
// *ckpt.UnsupportedError wrapping ErrQuantized that names the first one and
// counts them all by type. A partial listing was the alternative, but every
// consumer of a Source (convert, merge) would then silently write a model
// missing most of its weights; refusing keeps Ladle's rule that no output is
// quietly incomplete, and the message says how to get a readable file. An
// unknown type number is refused the same way, wrapping ErrUnknownType.
//
// Metadata. Every key/value becomes a string: scalars plainly (4096, 1e-05,
// true, llama), arrays as JSON, and arrays longer than MaxArrayItems as a JSON
// object {"type", "count", "first"} holding their first ArrayPreview items, so
// that a 32,000-token vocabulary stays readable in `ladle inspect`.
//
// Reading is lazy. Open reads the header only, in buffered reads that start
// at 4 KiB and grow, so a small header costs one small read; the items of long
// arrays past the preview are checked and skipped without being kept (numbers
// without even being read). Tensor returns a window on the caller's
// io.ReaderAt: GGUF data is already little-endian and C-ordered.
//
// Invariants. Every count and length is checked against the bytes left in the
// file before it drives a loop or an allocation; metadata value types and bools
// are valid; keys and tensor names are unique; arrays nest at most 32 deep;
// general.alignment is a uint32 power of two; tensors have at most MaxDims
// dimensions and no shape overflows int64; every tensor's offset is a multiple of
// the alignment, its bytes lie inside the file after the data section's start,
// and no two tensors' bytes overlap (gaps, the writers' padding, are allowed).
// Malformed bytes give a *ckpt.FormatError, a valid file Ladle does not read an
// *ckpt.UnsupportedError (big-endian GGUF, version 1, more than MaxDims
// dimensions, quantized or unknown types), an unknown name a *ckpt.NotFoundError;
// each names the file and, where one is at fault, the tensor, and wraps one of
// this package's sentinel errors for errors.Is. No input makes Open panic
// (FuzzOpen checks this).
package gguf
