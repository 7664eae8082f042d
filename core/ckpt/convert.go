package ckpt

import (
	"fmt"
	"io"
	"math"

	"ladle/core/dtype"
)

// convertChunk is how many elements ConvertTensor decodes at a time: large enough to
// run at memory speed, small enough that converting a huge tensor needs little memory.
const convertChunk = 1 << 18

// ConvertedInfos returns the tensors of src as they are after converting every
// floating-point tensor to `to` (dtype.Invalid keeps every dtype). Integer and bool
// tensors keep their dtype: converting them would change what they mean.
func ConvertedInfos(src []Info, to dtype.DType) []Info {
	out := make([]Info, len(src))
	for i, t := range src {
		out[i] = t
		if to != dtype.Invalid && t.DType.IsFloat() {
			out[i].DType = to
		}
	}
	return out
}

// ConvertTensor streams one tensor of type from.DType from r to w as type `to`,
// a chunk at a time. Equal dtypes copy the bytes unchanged (bit-exact). A finite
// value that would overflow to infinity in `to` is an error naming the tensor, since a
// checkpoint with infinities is rarely what anyone wants; BF16 has F32's range.
func ConvertTensor(w io.Writer, r io.ReaderAt, from Info, to dtype.DType) error {
	n := from.NumElements()
	if n < 0 {
		return fmt.Errorf("tensor %q: shape %v overflows", from.Name, from.Shape)
	}
	if to == from.DType || to == dtype.Invalid || !from.DType.IsFloat() {
		_, err := io.Copy(w, io.NewSectionReader(r, 0, from.Bytes()))
		return err
	}
	if !to.IsFloat() {
		return fmt.Errorf("tensor %q: cannot convert %s to %s (only to floating-point types)", from.Name, from.DType, to)
	}
	inSize, outSize := int64(from.DType.Size()), int64(to.Size())
	chunk := min(n, convertChunk)
	raw := make([]byte, chunk*inSize)
	enc := make([]byte, chunk*outSize)
	var f32 []float32
	var f64 []float64
	wide := from.DType == dtype.F64 // decode F64 as float64 so that narrowing rounds once
	if wide {
		f64 = make([]float64, chunk)
	} else {
		f32 = make([]float32, chunk)
	}
	limit := finiteLimit(to)
	for done := int64(0); done < n; done += chunk {
		m := min(chunk, n-done)
		if _, err := r.ReadAt(raw[:m*inSize], done*inSize); err != nil {
			return fmt.Errorf("tensor %q: reading: %w", from.Name, err)
		}
		var err error
		if wide {
			if err = dtype.DecodeF64(f64[:m], raw[:m*inSize], from.DType); err == nil {
				if i := overflowAt64(f64[:m], limit); i >= 0 {
					return overflowError(from, to, done+int64(i), f64[i])
				}
				err = dtype.EncodeF64(enc[:m*outSize], f64[:m], to)
			}
		} else {
			if err = dtype.DecodeF32(f32[:m], raw[:m*inSize], from.DType); err == nil {
				if i := overflowAt32(f32[:m], limit); i >= 0 {
					return overflowError(from, to, done+int64(i), float64(f32[i]))
				}
				err = dtype.EncodeF32(enc[:m*outSize], f32[:m], to)
			}
		}
		if err != nil {
			return fmt.Errorf("tensor %q: %w", from.Name, err)
		}
		if _, err := w.Write(enc[:m*outSize]); err != nil {
			return err
		}
	}
	return nil
}

func overflowError(from Info, to dtype.DType, index int64, v float64) error {
	instead := "BF16 or F32"
	if to != dtype.F16 {
		instead = "F32"
	}
	return fmt.Errorf("tensor %q: element %d is %g, too large for %s (it would become infinity); convert to %s instead", from.Name, index, v, to, instead)
}

// finiteLimit is the smallest magnitude that rounds to infinity in d (round to nearest even).
func finiteLimit(d dtype.DType) float64 {
	switch d {
	case dtype.F16:
		return 65520 // 65504 + half an ulp (32) rounds up to infinity
	case dtype.BF16:
		return math.Ldexp(1, 128) - math.Ldexp(1, 127-8) // max BF16 + half an ulp
	case dtype.F32:
		return math.Ldexp(1, 128) - math.Ldexp(1, 127-24)
	}
	return math.Inf(1)
}

func overflowAt32(xs []float32, limit float64) int {
	if math.IsInf(limit, 1) {
		return -1
	}
	// Every limit is a float32 (a top value plus half an ulp has few mantissa bits).
	lim := float32(limit)
	for i, x := range xs {
		if (x >= lim || x <= -lim) && !math.IsInf(float64(x), 0) {
			return i
		}
	}
	return -1
}

func overflowAt64(xs []float64, limit float64) int {
	for i, x := range xs {
		if (x >= limit || x <= -limit) && !math.IsInf(x, 0) {
			return i
		}
	}
	return -1
}

// OverflowIndex returns the index of the first finite value that would become infinite
// when rounded to `to`, or -1 when every value fits.
func OverflowIndex(values []float32, to dtype.DType) int {
	if to == dtype.F32 || to == dtype.F64 { // float32 values always fit
		return -1
	}
	return overflowAt32(values, finiteLimit(to))
}
