package tensor

import (
	"math"
	"math/big"
	"sync"
)

// High-precision references for the transcendental tests, in math/big arithmetic at
// refPrec bits: plain Taylor series after exact argument reductions, independent of
// the functions under test except for π, which machinPi computes and TestMachinPi
// checks against 200 published digits.

const refPrec = 320

var (
	refPiOnce sync.Once
	refPi     *big.Float
)

func bigPi() *big.Float {
	refPiOnce.Do(func() { refPi = machinPi(bigPrec + 64) })
	return refPi
}

func bf(x float64) *big.Float { return new(big.Float).SetPrec(refPrec).SetFloat64(x) }

func newF() *big.Float { return new(big.Float).SetPrec(refPrec) }

// bigSinCos is (sin x, cos x): x reduced exactly modulo 2π (with π to 1,464 bits),
// then both Taylor series.
func bigSinCos(x float64) (*big.Float, *big.Float) {
	prec := uint(bigPrec)
	twoPi := new(big.Float).SetPrec(prec).Mul(bigPi(), big.NewFloat(2))
	q := new(big.Float).SetPrec(2*prec).Quo(new(big.Float).SetFloat64(x), twoPi)
	k, _ := q.Int(nil)
	r := new(big.Float).SetPrec(2*prec).Mul(new(big.Float).SetInt(k), twoPi)
	r.Sub(new(big.Float).SetPrec(2*prec).SetFloat64(x), r) // x − 2πk, |r| < 2π
	return bigSinCosBig(r.SetPrec(refPrec + 64))
}

// bigExp is eˣ: halved 16 times, the Taylor series, squared 16 times.
func bigExp(x *big.Float) *big.Float {
	p := uint(refPrec + 64)
	y := new(big.Float).SetPrec(p).SetMantExp(x, -16)
	sum := new(big.Float).SetPrec(p).SetInt64(1)
	term := new(big.Float).SetPrec(p).SetInt64(1)
	for n := int64(1); n < 200; n++ {
		term.Mul(term, y)
		term.Quo(term, new(big.Float).SetInt64(n))
		sum.Add(sum, term)
		if term.Sign() == 0 || term.MantExp(nil) < sum.MantExp(nil)-int(p)-8 {
			break
		}
	}
	for range 16 {
		sum.Mul(sum, sum)
	}
	return sum
}

// bigTanh is (e^{2x} − 1)/(e^{2x} + 1).
func bigTanh(x float64) *big.Float {
	e := bigExp(new(big.Float).SetPrec(refPrec).SetFloat64(2 * x)) // 2x is exact
	num := new(big.Float).SetPrec(refPrec+64).Sub(e, big.NewFloat(1))
	den := new(big.Float).SetPrec(refPrec+64).Add(e, big.NewFloat(1))
	return num.Quo(num, den)
}

// bigErf is (2/√π)·Σ (−1)ⁿ x^(2n+1)/(n!(2n+1)), at a precision that absorbs the
// series' cancellation (its terms reach e^(x²) for |x| < 6).
func bigErf(x float64) *big.Float {
	p := uint(refPrec + 128)
	xb := new(big.Float).SetPrec(p).SetFloat64(x)
	x2 := new(big.Float).SetPrec(p).Mul(xb, xb)
	sum := new(big.Float).SetPrec(p)
	pow := new(big.Float).SetPrec(p).Set(xb) // (−1)ⁿ x^(2n+1)/n!
	for n := int64(0); n < 2000; n++ {
		t := new(big.Float).SetPrec(p).Quo(pow, new(big.Float).SetInt64(2*n+1))
		sum.Add(sum, t)
		pow.Mul(pow, x2)
		pow.Quo(pow, new(big.Float).SetInt64(-(n + 1)))
		if pow.Sign() == 0 || pow.MantExp(nil) < -int(p)-8 {
			break
		}
	}
	sqrtPi := new(big.Float).SetPrec(p).Sqrt(new(big.Float).SetPrec(p).Set(bigPi()))
	sum.Mul(sum, big.NewFloat(2))
	return sum.Quo(sum, sqrtPi)
}

// bigAcos is arccos x by Newton's method on cos y = x from math.Acos's value.
func bigAcos(x float64) *big.Float {
	switch x {
	case 1:
		return bf(0)
	case -1:
		return new(big.Float).SetPrec(refPrec).Set(bigPi())
	}
	y := new(big.Float).SetPrec(refPrec + 64).SetFloat64(math.Acos(x))
	xb := bf(x)
	for range 6 {
		s, c := bigSinCosBig(y)
		d := new(big.Float).SetPrec(refPrec+64).Sub(c, xb)
		d.Quo(d, s)
		y.Add(y, d)
	}
	return y
}

// bigSinCosBig is (sin y, cos y) for a big y of modest size (|y| < 2π) by their
// Taylor series, summed to refPrec + 64 bits.
func bigSinCosBig(y *big.Float) (*big.Float, *big.Float) {
	p := uint(refPrec + 64)
	sin, cos := new(big.Float).SetPrec(p), new(big.Float).SetPrec(p)
	term := new(big.Float).SetPrec(p).SetInt64(1)
	for n := int64(0); n < 400; n++ {
		switch n % 4 {
		case 0:
			cos.Add(cos, term)
		case 1:
			sin.Add(sin, term)
		case 2:
			cos.Sub(cos, term)
		case 3:
			sin.Sub(sin, term)
		}
		term.Mul(term, y)
		term.Quo(term, new(big.Float).SetInt64(n+1))
		if term.Sign() == 0 || term.MantExp(nil) < -int(p)-16 {
			break
		}
	}
	return sin, cos
}

// ulpErr is |got − want| in units of the last place of want's binade (float64's).
func ulpErr(got float64, want *big.Float) float64 {
	if want.Sign() == 0 {
		if got == 0 {
			return 0
		}
		return math.Inf(1)
	}
	e := want.MantExp(nil) // want = m·2^e, 0.5 ≤ |m| < 1
	e = max(e, -1021)      // subnormals: the ulp is 2⁻¹⁰⁷⁴
	d := new(big.Float).SetPrec(refPrec+64).Sub(bf(got), want)
	d.Abs(d)
	d.SetMantExp(d, 53-e)
	v, _ := d.Float64()
	return v
}
