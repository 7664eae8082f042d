/*
Package dtype describes the element types of checkpoint tensors and converts
rows of them to and from the float32 and float64 values that merges compute with.

The types and their names are those of safetensors: F64, F32, F16, BF16,
F8_E4M3, F8_E5M2, I64, I32, I16, I8, U64, U32, U16, U8 and BOOL. Parse accepts
exactly those names, as found in file headers; ParseLoose also accepts the
spellings used in recipes and on command lines (float32, fp16, bfloat16,
half, torch.float16, ...).

# Scalar conversions

F16ToF32, BF16ToF32, F8E4M3ToF32 and F8E5M2ToF32 widen one value;
F32ToF16, F32ToBF16, F64ToF16 and F64ToBF16 narrow one value. F8_E4M3 is the
OCP/PyTorch float8_e4m3fn format: bias 7, no infinities, largest finite value
448, and S.1111.111 is NaN. F8_E5M2 is IEEE-like with bias 15 and has
infinities.

# Row conversions

DecodeF32 and DecodeF64 decode a row of encoded elements of any type;
EncodeF32 and EncodeF64 encode a row to a floating-point type. Source and
destination lengths must agree exactly; a mismatch or an unsupported type is
reported as an error, never a panic, so that a hostile file cannot crash the
caller.

# Invariants

The conversions in this package keep these properties, and the tests check
them exhaustively where the input space allows it:

  - Widening is exact: every F16, BF16, F8 value (subnormals and infinities
    included) decodes to the float32 with the same value, and every integer
    of 24 bits or fewer decodes exactly (53 bits in DecodeF64). Wider
    integers round as Go's conversions do, to nearest even.
  - Narrowing rounds to nearest, ties to even, in a single rounding step
    (F64ToF16 rounds from the float64 directly, not through float32).
    Values beyond the largest finite value become ±Inf; values too small for
    a subnormal become ±0, keeping the sign.
  - NaN stays NaN: narrowing a NaN keeps its sign and the top bits of its
    payload, and sets the quiet bit, so rounding can never turn a NaN into an
    infinity. Widening keeps a NaN a NaN, with its sign.
  - BOOL decodes to 0 or 1: any nonzero byte is true.
  - Encoded rows are little-endian, element after element, with no padding,
    exactly as in a safetensors data section, whatever the host's byte order.

# Byte order and speed

The row functions are the hot path of merging. On little-endian hosts (amd64,
arm64 and wasm among them) they reinterpret aligned byte slices as slices of
words instead of assembling each element from bytes, and copy F32 and F64 rows
with a single memmove; unaligned rows are staged through a small pooled
buffer. On a big-endian host the same functions fall back to explicit
little-endian decoding, so the results are identical on every platform.
F16 rows decode through a 256 KiB table of all 65,536 values, built on first
use.
*/
package dtype
