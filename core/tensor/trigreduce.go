package tensor

import (
	"math"
	"math/big"
	"sync"
)

// remPio2 reduces a > π/4 (finite) by multiples of π/2: a − n·π/2 = hi + lo with
// |hi| ≤ π/4 (about) and |lo| ≤ half an ulp of hi, hi + lo within 2⁻⁷⁰·|hi| of the true remainder (a
// test holds the medium reduction to the exact one).
//
// Up to 2²⁰·π/2 (about 1.6e6, which covers every angle the merge methods meet by a
// wide margin) it is fdlibm's medium-size reduction: n = round(a·2/π), then a − n·π/2
// with π/2 split into 33-bit parts, so that each n·part is exact, taking a second and
// a third part (118 and 151 bits of π/2) when the first difference cancels; this is
// enough for the hardest cases of that range. Beyond, remPio2Big does the reduction
// in math/big arithmetic with 1,400 bits of 2/π: exact for every float64, slow
// (microseconds), and never met on a promised path.
func remPio2(a float64) (n int, hi, lo float64) {
	const (
		invPio2 = 6.36619772367581382433e-01 // 2/π
		pio2_1  = 1.57079632673412561417e+00 // the first 33 bits of π/2
		pio2_1t = 6.07710050650619224932e-11 // π/2 − pio2_1
		pio2_2  = 6.07710050630396597660e-11 // the second 33 bits of π/2
		pio2_2t = 2.02226624879595063154e-21 // π/2 − (pio2_1 + pio2_2)
		pio2_3  = 2.02226624871116645580e-21 // the third 33 bits of π/2
		pio2_3t = 8.47842766036889956997e-32 // π/2 − (pio2_1 + pio2_2 + pio2_3)
		medium  = 0x1p20 * math.Pi / 2
	)
	if a >= medium {
		return remPio2Big(a)
	}
	fn := math.Floor(float64(a*invPio2) + 0.5)
	n = int(fn)
	r := a - float64(fn*pio2_1) // exact: fn < 2²⁰ and pio2_1 has 33 bits
	w := float64(fn * pio2_1t)
	hi = r - w
	exp := func(v float64) int { return int(math.Float64bits(v) >> 52 & 0x7ff) }
	if e := exp(a); e-exp(hi) > 16 { // cancellation: take 33 more bits of π/2
		t := r
		w = float64(fn * pio2_2)
		r = t - w
		w = float64(fn*pio2_2t) - ((t - r) - w)
		hi = r - w
		if e-exp(hi) > 49 { // and again
			t = r
			w = float64(fn * pio2_3)
			r = t - w
			w = float64(fn*pio2_3t) - ((t - r) - w)
			hi = r - w
		}
	}
	lo = (r - hi) - w
	return n, hi, lo
}

// bigPrec is the precision, in bits, of remPio2Big's constants and arithmetic: a
// float64 below 2¹⁰²⁴ times 2/π leaves, after its integer part, more than 200 bits
// of fraction, far beyond the 60-odd bits that the closest float64 to a multiple of
// π/2 cancels.
const bigPrec = 1400

var (
	bigOnce      sync.Once
	bigTwoOverPi *big.Float
	bigPiOver2   *big.Float
)

// remPio2Big is remPio2 for any finite a ≥ 0, in math/big arithmetic (correctly
// rounded integer operations, the same on every target): q = a·2/π, n the integer
// nearest q, hi + lo = (q − n)·π/2 rounded to a double-double.
func remPio2Big(a float64) (n int, hi, lo float64) {
	bigOnce.Do(func() {
		pi := machinPi(bigPrec + 64)
		bigPiOver2 = new(big.Float).SetPrec(bigPrec).Quo(pi, big.NewFloat(2))
		bigTwoOverPi = new(big.Float).SetPrec(bigPrec).Quo(big.NewFloat(2), pi)
	})
	q := new(big.Float).SetPrec(2*bigPrec).Mul(new(big.Float).SetFloat64(a), bigTwoOverPi) // exact
	ip, _ := q.Int(nil)                                                                    // q ≥ 0: the floor
	f := new(big.Float).SetPrec(2*bigPrec).Sub(q, new(big.Float).SetInt(ip))               // exact, in [0, 1)
	if f.Cmp(big.NewFloat(0.5)) > 0 {
		f.Sub(f, big.NewFloat(1))
		ip.Add(ip, big.NewInt(1))
	}
	n = int(new(big.Int).And(ip, big.NewInt(3)).Int64())
	r := new(big.Float).SetPrec(bigPrec).Mul(f, bigPiOver2)
	hi, _ = r.Float64()
	lo, _ = new(big.Float).SetPrec(bigPrec).Sub(r, new(big.Float).SetFloat64(hi)).Float64()
	return n, hi, lo
}

// machinPi is π to prec bits by Machin's formula, π = 16·atan(1/5) − 4·atan(1/239),
// each arctangent by its Taylor series.
func machinPi(prec uint) *big.Float {
	atanInv := func(k int64) *big.Float {
		sum := new(big.Float).SetPrec(prec)
		pow := new(big.Float).SetPrec(prec).Quo(big.NewFloat(1), new(big.Float).SetInt64(k)) // k^−(2i+1)
		k2 := new(big.Float).SetInt64(k * k)
		term := new(big.Float).SetPrec(prec)
		for i := int64(0); pow.MantExp(nil) > -int(prec)-8; i++ {
			term.Quo(pow, new(big.Float).SetInt64(2*i+1))
			if i%2 == 0 {
				sum.Add(sum, term)
			} else {
				sum.Sub(sum, term)
			}
			pow.Quo(pow, k2)
		}
		return sum
	}
	a := new(big.Float).SetPrec(prec).Mul(big.NewFloat(16), atanInv(5))
	b := new(big.Float).SetPrec(prec).Mul(big.NewFloat(4), atanInv(239))
	return a.Sub(a, b)
}
