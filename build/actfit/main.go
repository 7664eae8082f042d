// Command actfit refits the polynomials of compute.ActF32 and prints them as Go
// tables with their errors: go run ./build/actfit. Each is a weighted
// least-squares fit on Chebyshev nodes, reweighted by Lawson's iterations toward the
// minimax fit, in float64; the coefficients are then rounded to float32 and the
// errors measured with float32 Horner evaluation, as the kernels compute.
package main

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

func main() {
	// tanh(a) = a + a³·P(a²) on [0, 0.55]: P(u) against (tanh a − a)/a³, relative.
	tanhP := fitTable(4, cheb(1e-4, 0.55, 2000), func(a float64) (u, y, w float64) {
		return a * a, (math.Tanh(a) - a) / (a * a * a), a * a * a / math.Tanh(a)
	})
	worst := 0.0
	for a := 1e-6; a < 0.55; a += 1e-6 {
		f := float32(a)
		u := f * f
		got := f + float32(float32(f*u)*horner(tanhP, u))
		worst = math.Max(worst, math.Abs(float64(got)-math.Tanh(float64(f)))/math.Tanh(float64(f)))
	}
	show("tanhP", tanhP, fmt.Sprintf("tanh on [0, 0.55], %.2g relative in float32", worst))

	// erf(z) = z·Q(z²) on [0, 1], relative.
	erfQ := fitTable(6, cheb(1e-4, 1, 3000), func(z float64) (u, y, w float64) {
		return z * z, math.Erf(z) / z, z / math.Erf(z)
	})
	worst = 0
	for z := 1e-6; z < 1; z += 1e-6 {
		want := math.Erf(z) / z
		worst = math.Max(worst, math.Abs(float64(horner(erfQ, float32(z*z)))-want)/want)
	}
	show("erfQ", erfQ, fmt.Sprintf("erf on [0, 1], %.2g relative", worst))

	// erfc(z) = exp(−z² + S(t)), t = 1/(1 + z/2) − 0.42, on [1, 9.5]: S absolute.
	erfcS := fitTable(10, cheb(1, 9.5, 4000), func(z float64) (u, y, w float64) {
		return 1/(1+z/2) - 0.42, math.Log(math.Erfc(z)) + z*z, 1
	})
	worst = 0
	for z := 1.0; z < 9.5; z += 1e-5 {
		s := float64(horner(erfcS, float32(1/(1+z/2)-0.42)))
		worst = math.Max(worst, math.Abs(s-(math.Log(math.Erfc(z))+z*z)))
	}
	show("erfcS", erfcS, fmt.Sprintf("erfc on [1, 9.5], S within %.2g absolute", worst))
}

// fitTable fits a polynomial of degree deg in u to y at the nodes, with weights w
// (sample gives u, y and w for a node), and returns it rounded to float32.
func fitTable(deg int, nodes []float64, sample func(float64) (u, y, w float64)) []float32 {
	n := len(nodes)
	us, ys, ws := make([]float64, n), make([]float64, n), make([]float64, n)
	for i, x := range nodes {
		us[i], ys[i], ws[i] = sample(x)
	}
	lawson := make([]float64, n)
	for i := range lawson {
		lawson[i] = 1
	}
	var c []float64
	for range 80 {
		a := mat.NewDense(n, deg+1, nil)
		b := mat.NewVecDense(n, nil)
		for i := range us {
			s := math.Sqrt(lawson[i]) * ws[i]
			for j := 0; j <= deg; j++ {
				a.Set(i, j, s*math.Pow(us[i], float64(j)))
			}
			b.SetVec(i, s*ys[i])
		}
		var x mat.VecDense
		if err := x.SolveVec(a, b); err != nil {
			panic(err)
		}
		c = x.RawVector().Data
		var total float64
		for i := range us {
			e := 0.0
			for j := 0; j <= deg; j++ {
				e += c[j] * math.Pow(us[i], float64(j))
			}
			lawson[i] *= math.Abs(e-ys[i])*ws[i] + 1e-300
			total += lawson[i]
		}
		for i := range lawson {
			lawson[i] /= total
		}
	}
	out := make([]float32, len(c))
	for i, v := range c {
		out[i] = float32(v)
	}
	return out
}

func cheb(lo, hi float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = (lo+hi)/2 + (hi-lo)/2*math.Cos(math.Pi*(float64(i)+0.5)/float64(n))
	}
	return out
}

func horner(c []float32, u float32) float32 {
	p := c[len(c)-1]
	for j := len(c) - 2; j >= 0; j-- {
		p = float32(p*u) + c[j]
	}
	return p
}

func show(name string, c []float32, what string) {
	fmt.Printf("// %s\n%s = []float32{", what, name)
	for i, v := range c {
		if i > 0 {
			fmt.Print(", ")
		}
		fmt.Print(v)
	}
	fmt.Println("}")
}
