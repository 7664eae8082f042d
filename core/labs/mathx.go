package labs

import (
	"math"

	"ladle/core/tensor"
)

// Portable arithmetic. Go may fuse x*y + z into one FMA instruction on some
// platforms (arm64, ppc64, s390x, amd64 with GOAMD64=v3), and package math uses
// assembly for Exp and Log on some of them; either changes the last bits of a
// result. Every product below that feeds a sum is therefore rounded explicitly
// (float32(a*b) or float64(a*b): an explicit conversion forbids fusion, as the Go
// specification says), and exp and log are written here in plain Go.

// exp is tensor.Exp: the portable e^x, the same bits on every target.
func exp(x float64) float64 { return tensor.Exp(x) }

// log is the natural logarithm, the algorithm of Go's portable math.Log (from
// FreeBSD's /usr/src/lib/msun/src/e_log.c) with every product rounded explicitly.
func log(x float64) float64 {
	const (
		ln2Hi = 6.93147180369123816490e-01
		ln2Lo = 1.90821492927058770002e-10
		l1    = 6.666666666666735130e-01
		l2    = 3.999999999940941908e-01
		l3    = 2.857142874366239149e-01
		l4    = 2.222219843214978396e-01
		l5    = 1.818357216161805012e-01
		l6    = 1.531383769920937332e-01
		l7    = 1.479819860511658591e-01
	)
	switch {
	case math.IsNaN(x) || math.IsInf(x, 1):
		return x
	case x < 0:
		return math.NaN()
	case x == 0:
		return math.Inf(-1)
	}
	f1, ki := math.Frexp(x) // exact
	if f1 < math.Sqrt2/2 {
		f1 *= 2
		ki--
	}
	f := f1 - 1
	k := float64(ki)
	s := f / (2 + f)
	s2 := s * s
	s4 := s2 * s2
	t1 := l5 + float64(s4*l7)
	t1 = l3 + float64(s4*t1)
	t1 = l1 + float64(s4*t1)
	t1 = float64(s2 * t1)
	t2 := l4 + float64(s4*l6)
	t2 = l2 + float64(s4*t2)
	t2 = float64(s4 * t2)
	r := t1 + t2
	hfsq := float64(float64(0.5*f) * f)
	return float64(k*ln2Hi) - ((hfsq - (float64(s*(hfsq+r)) + float64(k*ln2Lo))) - f)
}

// rng is a counter-based stream of random numbers: draw i is a pure function of the
// stream's key and i (tensor.RNG, whose construction is a stable contract of Ladle).
// A stream is named by a seed and a purpose, so that adding a draw somewhere never
// shifts the numbers drawn elsewhere.
type rng struct {
	r tensor.RNG
	i int64
}

func newRNG(seed uint64, purpose string) *rng {
	return &rng{r: tensor.NewRNG(seed, 0, "ladle/labs/"+purpose)}
}

// float64 is uniform on [0, 1).
func (g *rng) float64() float64 {
	v := g.r.Float64(g.i)
	g.i++
	return v
}

// intn is uniform on [0, n) (n > 0), by rejection, so without modulo bias.
func (g *rng) intn(n int) int {
	limit := math.MaxUint64 - math.MaxUint64%uint64(n)
	for {
		v := g.r.Uint64(g.i)
		g.i++
		if v < limit {
			return int(v % uint64(n))
		}
	}
}

// uniform is uniform on [lo, hi).
func (g *rng) uniform(lo, hi float64) float64 {
	return lo + float64((hi-lo)*g.float64())
}

// normal is a standard normal draw (Box-Muller's cosine half, with the portable log
// and cos2pi).
func (g *rng) normal() float64 {
	u1 := 1 - g.float64() // (0, 1]
	u2 := g.float64()
	return float64(math.Sqrt(float64(-2*log(u1))) * cos2pi(u2)) // sqrt is correctly rounded everywhere
}

// perm is a random permutation of [0, n) (Fisher-Yates).
func (g *rng) perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := g.intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// cos2pi is cos(2πu) for u in [0, 1), from a Taylor series on a reduced argument
// (|x| ≤ π/4 after symmetry), accurate to about 1e-15: enough for noise, and the
// same bits everywhere (every operation rounds on its own: no product meets an
// addition unrounded).
func cos2pi(u float64) float64 {
	// Reduce to an octant: u in [0, 1) → angle 2πu; use symmetries of cos.
	u -= math.Floor(u) // exact
	// cos(2πu) = cos(2π(1−u)): fold to [0, 0.5].
	if u > 0.5 {
		u = 1 - u
	}
	sign := 1.0
	// cos(2πu) = −cos(2π(0.5−u)): fold to [0, 0.25].
	if u > 0.25 {
		u = 0.5 - u
		sign = -1
	}
	// Now 2πu in [0, π/2]; for u > 1/8 use cos(x) = sin(π/2 − x).
	if u > 0.125 {
		return float64(sign * sinSeries(float64(2*math.Pi*(0.25-u))))
	}
	return float64(sign * cosSeries(float64(2*math.Pi*u)))
}

func cosSeries(x float64) float64 {
	x2 := x * x
	sum, term := 1.0, 1.0
	for k := 1; k <= 10; k++ {
		term = -term * x2 / float64((2*k-1)*(2*k))
		sum += term
	}
	return sum
}

func sinSeries(x float64) float64 {
	x2 := x * x
	sum, term := x, x
	for k := 1; k <= 10; k++ {
		term = -term * x2 / float64((2*k)*(2*k+1))
		sum += term
	}
	return sum
}
