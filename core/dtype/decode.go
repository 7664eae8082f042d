package dtype

import (
	"fmt"
	"math"
)

// checkRow reports whether src, of encoded elements of type d, holds exactly
// n elements. It divides rather than multiplies so that no length can overflow.
func checkRow(op string, n, srcLen int, d DType) error {
	if !d.Valid() {
		return fmt.Errorf("dtype: %s: invalid dtype %v", op, d)
	}
	if size := d.Size(); srcLen%size != 0 || srcLen/size != n {
		return fmt.Errorf("dtype: %s: %d bytes of %v do not hold %d elements (need %d bytes)",
			op, srcLen, d, n, int64(n)*int64(size))
	}
	return nil
}

// DecodeF32 decodes the little-endian elements of type d in src into dst,
// which must hold exactly len(src)/d.Size() values. Floating-point values widen
// exactly, except F64, which rounds to nearest even (overflowing to ±Inf);
// integers convert by value, rounding as Go's conversion does when they exceed
// float32's 24-bit significand; BOOL is 1 for any nonzero byte.
func DecodeF32(dst []float32, src []byte, d DType) error {
	if err := checkRow("DecodeF32", len(dst), len(src), d); err != nil {
		return err
	}
	switch d {
	case F32:
		if hostLittle {
			copy(asBytes(dst), src)
			return nil
		}
		readWords(src, func(off int, w []uint32) { f32FromBits(dst[off:], w) })
	case F64:
		readWords(src, func(off int, w []uint64) { f32FromF64Bits(dst[off:], w) })
	case F16:
		readWords(src, func(off int, w []uint16) { f32FromF16(dst[off:], w) })
	case BF16:
		readWords(src, func(off int, w []uint16) { f32FromBF16(dst[off:], w) })
	case F8_E4M3:
		f32FromTable(dst, src, e4m3Table)
	case F8_E5M2:
		f32FromTable(dst, src, e5m2Table)
	case I64:
		readWords(src, func(off int, w []uint64) { intsToFloats[int64](dst[off:], w) })
	case I32:
		readWords(src, func(off int, w []uint32) { intsToFloats[int32](dst[off:], w) })
	case I16:
		readWords(src, func(off int, w []uint16) { intsToFloats[int16](dst[off:], w) })
	case I8:
		intsToFloats[int8](dst, src)
	case U64:
		readWords(src, func(off int, w []uint64) { intsToFloats[uint64](dst[off:], w) })
	case U32:
		readWords(src, func(off int, w []uint32) { intsToFloats[uint32](dst[off:], w) })
	case U16:
		readWords(src, func(off int, w []uint16) { intsToFloats[uint16](dst[off:], w) })
	case U8:
		intsToFloats[uint8](dst, src)
	case BOOL:
		boolsToFloats(dst, src)
	}
	return nil
}

// DecodeF64 is DecodeF32 into float64. Every dtype except I64 and U64 decodes
// exactly; those round to nearest even beyond 2^53.
func DecodeF64(dst []float64, src []byte, d DType) error {
	if err := checkRow("DecodeF64", len(dst), len(src), d); err != nil {
		return err
	}
	switch d {
	case F64:
		if hostLittle {
			copy(asBytes(dst), src)
			return nil
		}
		readWords(src, func(off int, w []uint64) { f64FromBits(dst[off:], w) })
	case F32:
		readWords(src, func(off int, w []uint32) { f64FromF32Bits(dst[off:], w) })
	case F16:
		readWords(src, func(off int, w []uint16) { f64FromF16(dst[off:], w) })
	case BF16:
		readWords(src, func(off int, w []uint16) { f64FromBF16(dst[off:], w) })
	case F8_E4M3:
		f64FromTable(dst, src, e4m3Table)
	case F8_E5M2:
		f64FromTable(dst, src, e5m2Table)
	case I64:
		readWords(src, func(off int, w []uint64) { intsToFloats[int64](dst[off:], w) })
	case I32:
		readWords(src, func(off int, w []uint32) { intsToFloats[int32](dst[off:], w) })
	case I16:
		readWords(src, func(off int, w []uint16) { intsToFloats[int16](dst[off:], w) })
	case I8:
		intsToFloats[int8](dst, src)
	case U64:
		readWords(src, func(off int, w []uint64) { intsToFloats[uint64](dst[off:], w) })
	case U32:
		readWords(src, func(off int, w []uint32) { intsToFloats[uint32](dst[off:], w) })
	case U16:
		readWords(src, func(off int, w []uint16) { intsToFloats[uint16](dst[off:], w) })
	case U8:
		intsToFloats[uint8](dst, src)
	case BOOL:
		boolsToFloats(dst, src)
	}
	return nil
}

// The row kernels below reslice dst to len(src) first so that the compiler can
// drop the bounds checks inside the loops.

func f32FromBits(dst []float32, src []uint32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = math.Float32frombits(v)
	}
}

func f32FromF64Bits(dst []float32, src []uint64) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = float32(math.Float64frombits(v))
	}
}

func f32FromF16(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	t := f16Table()
	for i, h := range src {
		dst[i] = t[h]
	}
}

func f32FromBF16(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = math.Float32frombits(uint32(h) << 16)
	}
}

func f32FromTable(dst []float32, src []byte, t *[256]float32) {
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = t[b]
	}
}

func f64FromBits(dst []float64, src []uint64) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = math.Float64frombits(v)
	}
}

func f64FromF32Bits(dst []float64, src []uint32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = float64(math.Float32frombits(v))
	}
}

func f64FromF16(dst []float64, src []uint16) {
	dst = dst[:len(src)]
	t := f16Table()
	for i, h := range src {
		dst[i] = float64(t[h])
	}
}

func f64FromBF16(dst []float64, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = float64(math.Float32frombits(uint32(h) << 16))
	}
}

func f64FromTable(dst []float64, src []byte, t *[256]float32) {
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = float64(t[b])
	}
}

// intsToFloats converts integers read as unsigned words (or bytes) of the same
// size; the conversion to I reinterprets them as the signed type where needed.
func intsToFloats[I int64 | int32 | int16 | int8 | uint64 | uint32 | uint16 | uint8,
	F float32 | float64, W word | uint8](dst []F, src []W) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = F(I(v))
	}
}

func boolsToFloats[F float32 | float64](dst []F, src []byte) {
	dst = dst[:len(src)]
	for i, b := range src {
		var v F
		if b != 0 {
			v = 1
		}
		dst[i] = v
	}
}
