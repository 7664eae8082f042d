package dtype

import (
	"fmt"
	"math"
)

// checkTarget rejects encodings that are not implemented. Merges write
// floating-point tensors; integers and F8 would need a policy (saturate? clamp?
// round?) that no caller has needed, so they are refused rather than guessed.
func checkTarget(op string, d DType) error {
	switch d {
	case F64, F32, F16, BF16:
		return nil
	}
	return fmt.Errorf("dtype: %s: cannot encode to %v; supported targets are F64, F32, F16 and BF16", op, d)
}

// EncodeF32 encodes src into dst as little-endian elements of type d, which
// must be F64, F32, F16 or BF16; dst must be exactly len(src)*d.Size() bytes.
// Narrowing rounds to nearest even, overflows to ±Inf and keeps NaN a NaN.
func EncodeF32(dst []byte, src []float32, d DType) error {
	if err := checkTarget("EncodeF32", d); err != nil {
		return err
	}
	if err := checkRow("EncodeF32", len(src), len(dst), d); err != nil {
		return err
	}
	switch d {
	case F32:
		if hostLittle {
			copy(dst, asBytes(src))
			return nil
		}
		writeWords(dst, func(off int, w []uint32) { f32ToBits(w, src[off:]) })
	case F64:
		writeWords(dst, func(off int, w []uint64) { f32ToF64Bits(w, src[off:]) })
	case F16:
		writeWords(dst, func(off int, w []uint16) { f32ToF16Row(w, src[off:]) })
	case BF16:
		writeWords(dst, func(off int, w []uint16) { f32ToBF16Row(w, src[off:]) })
	}
	return nil
}

// EncodeF64 is EncodeF32 from float64. Every target rounds once, directly from
// the float64 value: F16 and BF16 do not go through float32.
func EncodeF64(dst []byte, src []float64, d DType) error {
	if err := checkTarget("EncodeF64", d); err != nil {
		return err
	}
	if err := checkRow("EncodeF64", len(src), len(dst), d); err != nil {
		return err
	}
	switch d {
	case F64:
		if hostLittle {
			copy(dst, asBytes(src))
			return nil
		}
		writeWords(dst, func(off int, w []uint64) { f64ToBits(w, src[off:]) })
	case F32:
		writeWords(dst, func(off int, w []uint32) { f64ToF32Bits(w, src[off:]) })
	case F16:
		writeWords(dst, func(off int, w []uint16) { f64ToF16Row(w, src[off:]) })
	case BF16:
		writeWords(dst, func(off int, w []uint16) { f64ToBF16Row(w, src[off:]) })
	}
	return nil
}

// The kernels fill all of dst from the start of src; src is resliced to len(dst)
// so that the compiler can drop the bounds checks inside the loops.

func f32ToBits(dst []uint32, src []float32) {
	src = src[:len(dst)]
	for i, f := range src {
		dst[i] = math.Float32bits(f)
	}
}

func f32ToF64Bits(dst []uint64, src []float32) {
	src = src[:len(dst)]
	for i, f := range src {
		dst[i] = math.Float64bits(float64(f))
	}
}

func f32ToF16Row(dst []uint16, src []float32) {
	src = src[:len(dst)]
	for i, f := range src {
		b := math.Float32bits(f)
		if a := b & 0x7fffffff; f16Normal(a) {
			dst[i] = uint16(b>>16)&0x8000 | f16RoundNormal(a)
			continue
		}
		dst[i] = F32ToF16(f)
	}
}

func f32ToBF16Row(dst []uint16, src []float32) {
	src = src[:len(dst)]
	for i, f := range src {
		dst[i] = F32ToBF16(f)
	}
}

func f64ToBits(dst []uint64, src []float64) {
	src = src[:len(dst)]
	for i, x := range src {
		dst[i] = math.Float64bits(x)
	}
}

func f64ToF32Bits(dst []uint32, src []float64) {
	src = src[:len(dst)]
	for i, x := range src {
		dst[i] = math.Float32bits(float32(x))
	}
}

func f64ToF16Row(dst []uint16, src []float64) {
	src = src[:len(dst)]
	for i, x := range src {
		dst[i] = F64ToF16(x)
	}
}

func f64ToBF16Row(dst []uint16, src []float64) {
	src = src[:len(dst)]
	for i, x := range src {
		dst[i] = F64ToBF16(x)
	}
}
