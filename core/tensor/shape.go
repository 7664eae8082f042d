package tensor

import (
	"fmt"
	"math"
	"math/bits"
)

// Numel is the number of elements of a tensor of the given shape: the product of the
// dimensions, 1 for a scalar (empty shape). It fails on a negative dimension or when the
// product does not fit in an int64, so a hostile header cannot make callers allocate a
// wrapped-around size.
func Numel(shape []int64) (int64, error) {
	n := uint64(1)
	for i, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v: dimension %d is negative", shape, i)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("shape %v: element count overflows int64", shape)
		}
		n = lo
	}
	return int64(n), nil
}

// Rows splits a tensor into rows the way per-row methods (della, model_stock with
// filter_wise) see it: the first dimension counts the rows and the remaining dimensions
// are flattened into each row, so a linear weight [out, in] has out rows of in elements
// and a conv weight [out, in, kh, kw] has out rows of in·kh·kw. Tensors of rank 0 or 1
// are a single row. numel must be Numel(shape). A zero-sized first dimension gives
// (0, 0).
func Rows(shape []int64, numel int64) (rows, rowLen int64) {
	if len(shape) < 2 {
		return 1, numel
	}
	rows = shape[0]
	if rows <= 0 {
		return 0, 0
	}
	return rows, numel / rows
}
