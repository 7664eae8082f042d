package dtype

import (
	"math/rand/v2"
	"testing"
)

// The benchmarks convert rows of 1M weights drawn like a trained layer's,
// N(0, 0.02²); SetBytes counts the encoded side, so MB/s is checkpoint bytes.
const benchN = 1 << 20

func benchFloats() []float32 {
	r := rand.New(rand.NewPCG(13, 14))
	f := make([]float32, benchN)
	for i := range f {
		f[i] = float32(r.NormFloat64() * 0.02)
	}
	return f
}

func benchDecode(b *testing.B, d DType, misalign int) {
	enc := make([]byte, benchN*d.Size()+misalign)[misalign:]
	if err := EncodeF32(enc, benchFloats(), d); err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, benchN)
	if err := DecodeF32(dst, enc, d); err != nil { // builds lazy tables outside the timing
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if err := DecodeF32(dst, enc, d); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEncode(b *testing.B, d DType) {
	src := benchFloats()
	dst := make([]byte, benchN*d.Size())
	b.SetBytes(int64(len(dst)))
	for b.Loop() {
		if err := EncodeF32(dst, src, d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeF32_F32(b *testing.B)  { benchDecode(b, F32, 0) }
func BenchmarkDecodeF32_F16(b *testing.B)  { benchDecode(b, F16, 0) }
func BenchmarkDecodeF32_BF16(b *testing.B) { benchDecode(b, BF16, 0) }
func BenchmarkEncodeF32_F32(b *testing.B)  { benchEncode(b, F32) }
func BenchmarkEncodeF32_F16(b *testing.B)  { benchEncode(b, F16) }
func BenchmarkEncodeF32_BF16(b *testing.B) { benchEncode(b, BF16) }

// Rows that start at an odd address take the staged path.
func BenchmarkDecodeF32_F16Misaligned(b *testing.B)  { benchDecode(b, F16, 1) }
func BenchmarkDecodeF32_BF16Misaligned(b *testing.B) { benchDecode(b, BF16, 1) }
