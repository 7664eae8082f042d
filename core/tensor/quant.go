package tensor

import (
	"fmt"
	"math"
)

// Linear quantisation of a tensor to Q levels (Robust Weight Signatures' `quantize:
// {levels: Q, type: linear}`), per tensor:
//
//	code = round((x − min) / (max − min) · (Q − 1))        an integer in [0, Q−1]
//	x'   = code / (Q − 1) · (max − min) + min
//
// computed in float64 (x, min and max are float32, so max − min is exact) and x'
// rounded once to float32. round is half-to-even, as torch.round and numpy.round do.
// max = min stores the constant: every code is 0 and x' = min. The extreme codes give
// back min and max exactly.

// QuantCode is the code of x for the range [lo, hi] and Q levels (hi > lo, Q ≥ 2).
func QuantCode(x, lo, hi float32, levels int) int {
	r := float64(hi) - float64(lo)
	c := math.RoundToEven((float64(x) - float64(lo)) / r * float64(levels-1))
	return int(max(0, min(c, float64(levels-1))))
}

// Dequant is x' for a code: code/(Q−1)·(hi−lo) + lo, rounded once to float32.
func Dequant(code int, lo, hi float32, levels int) float32 {
	if hi == lo || levels < 2 {
		return lo
	}
	r := float64(hi) - float64(lo)
	return float32(float64(float64(code)/float64(levels-1)*r) + float64(lo))
}

// QuantizeLinear quantises x to Q levels. It returns the tensor's min and max and, when
// the slices are not nil, writes the codes (only for Q ≤ 256) and the dequantised
// values x' (deq may be x itself). It fails on Q < 2, on codes requested for Q > 256, on
// mismatched lengths, and on a non-finite value (the range would be meaningless).
func QuantizeLinear(x []float32, levels int, codes []uint8, deq []float32) (lo, hi float32, err error) {
	if levels < 2 {
		return 0, 0, fmt.Errorf("quantize: levels %d must be at least 2", levels)
	}
	if codes != nil && levels > 256 {
		return 0, 0, fmt.Errorf("quantize: %d levels do not fit U8 codes (at most 256)", levels)
	}
	if (codes != nil && len(codes) != len(x)) || (deq != nil && len(deq) != len(x)) {
		return 0, 0, fmt.Errorf("quantize: output lengths differ from the input's %d", len(x))
	}
	if len(x) == 0 {
		return 0, 0, nil
	}
	lo, hi = x[0], x[0]
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, 0, fmt.Errorf("quantize: non-finite value %v at element %d", v, i)
		}
		lo = min(lo, v)
		hi = max(hi, v)
	}
	if hi == lo {
		for i := range x {
			if codes != nil {
				codes[i] = 0
			}
			if deq != nil {
				deq[i] = lo
			}
		}
		return lo, hi, nil
	}
	for i, v := range x {
		c := QuantCode(v, lo, hi, levels)
		if codes != nil {
			codes[i] = uint8(c)
		}
		if deq != nil {
			deq[i] = Dequant(c, lo, hi, levels)
		}
	}
	return lo, hi, nil
}

// DequantizeLinear turns U8 codes back into values: out[i] = Dequant(codes[i], ...).
func DequantizeLinear(codes []uint8, levels int, lo, hi float32, out []float32) error {
	if levels < 2 || levels > 256 {
		return fmt.Errorf("dequantize: levels %d must lie in [2, 256] for U8 codes", levels)
	}
	if len(out) != len(codes) {
		return fmt.Errorf("dequantize: %d codes but %d outputs", len(codes), len(out))
	}
	for i, c := range codes {
		if int(c) >= levels {
			return fmt.Errorf("dequantize: code %d at element %d is not below levels %d", c, i, levels)
		}
		out[i] = Dequant(int(c), lo, hi, levels)
	}
	return nil
}
