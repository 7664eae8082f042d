package merge

// Naive references for the SVD methods, written from METHODS.md with gonum's mat.SVD
// (LAPACK's algorithm, an implementation independent of the package's Jacobi SVD).

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// refSVD is gonum's thin SVD of x, components with σ ≤ 1e-6·σ_max dropped from u and
// v (s keeps every value).
func refSVD(x *mat.Dense) (u, v *mat.Dense, s []float64, kept int) {
	var d mat.SVD
	if !d.Factorize(x, mat.SVDThin) {
		panic("gonum SVD did not converge")
	}
	s = d.Values(nil)
	var uu, vv mat.Dense
	d.UTo(&uu)
	d.VTo(&vv)
	for kept < len(s) && s[0] > 0 && s[kept] > 1e-6*s[0] {
		kept++
	}
	return &uu, &vv, s, kept
}

// cols returns columns [0, k) of x (nil when k = 0).
func refCols(x *mat.Dense, k int) *mat.Dense {
	if k == 0 {
		return nil
	}
	r, _ := x.Dims()
	return mat.DenseCopyOf(x.Slice(0, r, 0, k))
}

// hcat concatenates matrices side by side (nil entries skipped).
func hcat(rows int, ms ...*mat.Dense) *mat.Dense {
	total := 0
	for _, m := range ms {
		if m != nil {
			_, c := m.Dims()
			total += c
		}
	}
	if total == 0 {
		return nil
	}
	out := mat.NewDense(rows, total, nil)
	at := 0
	for _, m := range ms {
		if m == nil {
			continue
		}
		_, c := m.Dims()
		out.Slice(0, rows, at, at+c).(*mat.Dense).Copy(m)
		at += c
	}
	return out
}

// refPolar is P·Qᵀ over the kept components of x = P Σ Qᵀ.
func refPolar(x *mat.Dense) *mat.Dense {
	u, v, _, k := refSVD(x)
	r, c := x.Dims()
	out := mat.NewDense(r, c, nil)
	if k > 0 {
		out.Mul(refCols(u, k), refCols(v, k).T())
	}
	return out
}

func refDelta(base, x []float32, w float64, rows, cols int) *mat.Dense {
	d := mat.NewDense(rows, cols, nil)
	for e := range x {
		d.Set(e/cols, e%cols, w*(float64(x[e])-float64(base[e])))
	}
	return d
}

func refTSV(base []float32, models [][]float32, ws []float64, rows, cols int, frac float64) *mat.Dense {
	n, k := len(models), min(rows, cols)
	r := k / n
	if frac > 0 {
		r = int(math.Floor(frac * float64(k)))
	}
	var us, vs []*mat.Dense
	var ss []float64
	for i, x := range models {
		u, v, s, kept := refSVD(refDelta(base, x, ws[i], rows, cols))
		l := min(r, kept)
		us, vs, ss = append(us, refCols(u, l)), append(vs, refCols(v, l)), append(ss, s[:l]...)
	}
	out := mat.NewDense(rows, cols, nil)
	uh, vh := hcat(rows, us...), hcat(cols, vs...)
	if uh == nil {
		return out
	}
	var tmp mat.Dense
	tmp.Mul(refPolar(uh), mat.NewDiagDense(len(ss), ss))
	out.Mul(&tmp, refPolar(vh).T())
	return out
}

func refSum(base []float32, models [][]float32, ws []float64, rows, cols int) *mat.Dense {
	m := mat.NewDense(rows, cols, nil)
	for i, x := range models {
		m.Add(m, refDelta(base, x, ws[i], rows, cols))
	}
	return m
}

func refIsoC(base []float32, models [][]float32, ws []float64, rows, cols int) *mat.Dense {
	u, v, s, kept := refSVD(refSum(base, models, ws, rows, cols))
	mean := 0.0
	for _, x := range s {
		mean += x / float64(len(s))
	}
	out := mat.NewDense(rows, cols, nil)
	if kept > 0 {
		out.Mul(refCols(u, kept), refCols(v, kept).T())
		out.Scale(mean, out)
	}
	return out
}

func refIsoCTS(base []float32, models [][]float32, ws []float64, rows, cols int, f float64) *mat.Dense {
	n, k := len(models), min(rows, cols)
	c0 := int(math.Floor(float64(k) * f))
	s := int(math.RoundToEven(float64(k-c0)/float64(n))) * n
	c := max(k-s, 0)
	p := (k - c) / n
	um, vm, sm, keptM := refSVD(refSum(base, models, ws, rows, cols))
	uc, vc := refCols(um, min(c, keptM)), refCols(vm, min(c, keptM))
	total := 0.0
	for l := range c {
		total += sm[l]
	}
	var us, vs []*mat.Dense
	for i, x := range models {
		d := refDelta(base, x, ws[i], rows, cols)
		if uc != nil {
			var proj, tmp mat.Dense
			tmp.Mul(uc.T(), d)
			proj.Mul(uc, &tmp)
			d.Sub(d, &proj)
		}
		u, v, si, kept := refSVD(d)
		for l := range p {
			total += si[l]
		}
		us, vs = append(us, refCols(u, min(p, kept))), append(vs, refCols(v, min(p, kept)))
	}
	us, vs = append(us, uc), append(vs, vc)
	out := mat.NewDense(rows, cols, nil)
	uh, vh := hcat(rows, us...), hcat(cols, vs...)
	if uh == nil || n*p+c == 0 {
		return out
	}
	out.Mul(refPolar(uh), refPolar(vh).T())
	out.Scale(total/float64(n*p+c), out)
	return out
}

// assertFrobenius checks ‖(got − base) − τ‖_F ≤ tol·‖τ‖_F for a reference task
// vector τ (the outputs' rounding to float32 is far below tol).
func assertFrobenius(t *testing.T, what string, got, base []float32, lam float64, tau *mat.Dense, tol float64) {
	t.Helper()
	_, cols := tau.Dims()
	var diff, norm float64
	for e := range got {
		want := lam * tau.At(e/cols, e%cols)
		d := float64(got[e]) - float64(base[e]) - want
		diff += d * d
		norm += want * want
	}
	if math.Sqrt(diff) > tol*math.Sqrt(norm)+1e-6*math.Sqrt(float64(len(got))) {
		t.Errorf("%s: ‖got − want‖ = %.3g, ‖want‖ = %.3g (relative %.3g)", what, math.Sqrt(diff), math.Sqrt(norm), math.Sqrt(diff/norm))
	}
}

type svdCase struct {
	name       string
	rows, cols int
	n          int
	dup, zero  bool // model 1 duplicates model 0; model 0 is the base
}

var svdCases = []svdCase{
	{"tall", 40, 24, 3, false, false},
	{"wide", 17, 45, 2, false, false},
	{"square", 30, 30, 4, false, false},
	{"one model", 20, 12, 1, false, false},
	{"duplicated model", 25, 18, 3, true, false},
	{"zero task vector", 16, 22, 3, false, true},
	{"more models than rank", 3, 9, 5, false, false},
}

func svdCaseInputs(r *rand.Rand, c svdCase) (base []float32, models [][]float32, ws []float64) {
	base = randT(r, c.rows*c.cols)
	for i := range c.n {
		models = append(models, near(r, base, 0.05))
		ws = append(ws, 0.5+r.Float64())
		if i == 1 && c.dup {
			models[1] = models[0]
			ws[1] = ws[0]
		}
	}
	if c.zero {
		models[0] = append([]float32(nil), base...)
	}
	return base, models, ws
}

func svdJob(name string, c svdCase, base []float32, models [][]float32, ws []float64, params Params) *Job {
	j := &Job{Tensor: "model.layers.0.mlp.down_proj.weight", Shape: []int64{int64(c.rows), int64(c.cols)},
		Base: base, Models: models, Params: params}
	for _, w := range ws {
		j.ModelParams = append(j.ModelParams, Params{"weight": w})
	}
	return j
}

func TestSVDMethodsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, c := range svdCases {
		base, models, ws := svdCaseInputs(r, c)
		lam := 0.7
		got := mergeOK(t, "tsv_merge", svdJob("tsv_merge", c, base, models, ws, Params{"lambda": lam}))
		assertFrobenius(t, "tsv_merge "+c.name, got, base, lam, refTSV(base, models, ws, c.rows, c.cols, 0), 1e-4)
		got = mergeOK(t, "tsv_merge", svdJob("tsv_merge", c, base, models, ws, Params{"lambda": lam, "rank_fraction": 0.5}))
		assertFrobenius(t, "tsv_merge rank_fraction "+c.name, got, base, lam, refTSV(base, models, ws, c.rows, c.cols, 0.5), 1e-4)
		got = mergeOK(t, "iso_c", svdJob("iso_c", c, base, models, ws, Params{"lambda": lam}))
		assertFrobenius(t, "iso_c "+c.name, got, base, lam, refIsoC(base, models, ws, c.rows, c.cols), 1e-4)
		for _, f := range []float64{0.8, 0.5, 0, 1} {
			got = mergeOK(t, "iso_cts", svdJob("iso_cts", c, base, models, ws, Params{"lambda": lam, "common_space_fraction": f}))
			assertFrobenius(t, "iso_cts "+c.name, got, base, lam, refIsoCTS(base, models, ws, c.rows, c.cols, f), 1e-4)
		}
	}
}

func TestIsoCTSSplit(t *testing.T) {
	// k = 100, n = 3, f = 0.8: c0 = 80, s = round(20/3)·3 = 21, c = 79, p = 7.
	for _, tc := range []struct {
		k, n    int
		f       float64
		c, p    int
		comment string
	}{
		{100, 3, 0.8, 79, 7, "fusion_bench's rounding of the task share"},
		{10, 4, 0.8, 10, 0, "round(0.5) = 0: ties to even, as Python"},
		{10, 4, 0.7, 6, 1, "round(0.75) = 1"},
		{5, 8, 0.2, 5, 0, "more tasks than rank"},
		{6, 4, 0, 0, 1, "s = round(1.5)·4 = 8 > k: no common space"},
	} {
		c, p := isoCTSSplit(tc.k, tc.n, tc.f)
		if c != tc.c || p != tc.p {
			t.Errorf("k=%d n=%d f=%v: c=%d p=%d, want %d %d (%s)", tc.k, tc.n, tc.f, c, p, tc.c, tc.p, tc.comment)
		}
	}
}

// Non-2-D tensors get the mean weighted task vector.
func TestSVDMethodsOtherShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	base := randT(r, 60)
	models := [][]float32{near(r, base, 0.1), near(r, base, 0.1)}
	for _, name := range []string{"tsv_merge", "iso_c", "iso_cts"} {
		for _, shape := range [][]int64{nil, {60}, {3, 4, 5}} {
			j := &Job{Tensor: "model.norm.weight", Shape: shape, Base: base, Models: models,
				ModelParams: []Params{{"weight": 2.0}, {"weight": 0.5}}, Params: Params{"lambda": 0.3}}
			got := mergeOK(t, name, j)
			want := make([]float32, len(base))
			for e := range want {
				s := 2*(float64(models[0][e])-float64(base[e])) + 0.5*(float64(models[1][e])-float64(base[e]))
				want[e] = float32(float64(base[e]) + 0.3*s/2)
			}
			assertClose(t, name, got, want, 1e-6, 0)
		}
	}
}

// Results depend on the singular subspaces only: negating any (u, v) pair the SVD
// returns changes no bit of the output; nor does the number of workers.
func TestSVDMethodsSignsAndWorkers(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	c := svdCase{"tall", 48, 40, 3, false, false}
	base, models, ws := svdCaseInputs(r, c)
	defer func() { svdTestFlip = nil }()
	for _, name := range []string{"tsv_merge", "iso_c", "iso_cts"} {
		svdTestFlip = nil
		j := svdJob(name, c, base, models, ws, Params{})
		want := mergeOK(t, name, j)
		j.Workers = 5
		assertEqual(t, name+" with 5 workers", mergeOK(t, name, j), want)
		j.Workers = 1
		svdTestFlip = func(k int) bool { return k%2 == 1 || k == 4 }
		assertEqual(t, name+" with flipped singular vectors", mergeOK(t, name, j), want)
	}
}

// A tensor whose task vectors are all zero comes out bit-equal to the base (a -0 too).
func TestSVDAndPCBZeroTaskVectors(t *testing.T) {
	base := f32(1, -2, 0, 3, 0.5, -1)
	base[2] = float32(math.Copysign(0, -1))
	for _, name := range []string{"tsv_merge", "iso_c", "iso_cts", "pcb"} {
		j := &Job{Tensor: "w", Shape: []int64{2, 3}, Base: base, Models: [][]float32{base, append([]float32(nil), base...)}}
		got := mergeOK(t, name, j)
		for e := range got {
			if math.Float32bits(got[e]) != math.Float32bits(base[e]) {
				t.Fatalf("%s: element %d = %v, want the base's %v bit for bit", name, e, got[e], base[e])
			}
		}
	}
}

func TestSVDMethodsRejectNonFinite(t *testing.T) {
	base := f32(1, 2, 3, 4)
	bad := f32(1, math.NaN(), 3, 4)
	for _, name := range []string{"tsv_merge", "iso_c", "iso_cts"} {
		mergeErr(t, name, &Job{Tensor: "w", Shape: []int64{2, 2}, Base: base, Models: [][]float32{bad}}, "model 0", "element 1")
	}
}

// The Jacobi SVD itself against gonum's, on awkward shapes and ranks.
func TestJacobiSVD(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, sz := range [][2]int{{1, 1}, {1, 7}, {7, 1}, {13, 5}, {5, 13}, {32, 32}, {64, 3}} {
		rows, cols := sz[0], sz[1]
		x := mat.NewDense(rows, cols, nil)
		for i := range rows {
			for c := range cols {
				x.Set(i, c, r.NormFloat64())
			}
		}
		d := svdOf(rows, cols, x.At, -1, 3)
		_, _, s, _ := refSVD(x)
		for l := range s {
			if math.Abs(d.s[l]-s[l]) > 1e-12*s[0] {
				t.Errorf("%dx%d: σ%d = %v, gonum %v", rows, cols, l, d.s[l], s[l])
			}
		}
		// U diag(S) Vᵀ rebuilds x, and U, V have orthonormal columns.
		for i := range rows {
			for c := range cols {
				v := 0.0
				for l := range d.s {
					v += d.u[l][i] * d.s[l] * d.v[l][c]
				}
				if math.Abs(v-x.At(i, c)) > 1e-12 {
					t.Fatalf("%dx%d: rebuilt (%d,%d) = %v, want %v", rows, cols, i, c, v, x.At(i, c))
				}
			}
		}
		for a := range d.s {
			for b := range d.s {
				du, dv := 0.0, 0.0
				for i := range rows {
					du += d.u[a][i] * d.u[b][i]
				}
				for c := range cols {
					dv += d.v[a][c] * d.v[b][c]
				}
				want := 0.0
				if a == b {
					want = 1
				}
				if math.Abs(du-want) > 1e-12 || math.Abs(dv-want) > 1e-12 {
					t.Fatalf("%dx%d: <u%d,u%d> = %v, <v%d,v%d> = %v", rows, cols, a, b, du, a, b, dv)
				}
			}
		}
	}
}

// A rank-deficient matrix converges like a full-rank one: its columns of rounding
// noise are not rotated among themselves for ever (iso_cts decomposes such matrices).
func TestJacobiRankDeficientConverges(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const n, rank = 96, 10
	left, right := mat.NewDense(n, rank, nil), mat.NewDense(rank, n, nil)
	for i := range n {
		for k := range rank {
			left.Set(i, k, r.NormFloat64())
			right.Set(k, i, r.NormFloat64())
		}
	}
	var x mat.Dense
	x.Mul(left, right)
	cols := make([][]float64, n)
	for j := range cols {
		cols[j] = make([]float64, n)
		for i := range n {
			cols[j][i] = x.At(i, j)
		}
	}
	if sweeps := jacobi(cols, n, 1); sweeps > 20 {
		t.Errorf("%d sweeps for a rank-%d matrix", sweeps, rank)
	}
	d := svdOf(n, n, x.At, -1, 2)
	_, _, s, kept := refSVD(&x)
	if d.kept() != rank || kept != rank {
		t.Errorf("kept %d components (gonum %d), want the rank %d", d.kept(), kept, rank)
	}
	for l := range rank {
		if math.Abs(d.s[l]-s[l]) > 1e-10*s[0] {
			t.Errorf("σ%d = %v, gonum %v", l, d.s[l], s[l])
		}
	}
}

// The decomposition's bits do not depend on the worker count, on a matrix large enough
// for every blocked path (matrix products, reflector blocks, batched QL rotations).
func TestJacobiSVDWorkers(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	const rows, cols = 310, 140
	x := make([]float64, rows*cols)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	at := func(i, c int) float64 { return x[i*cols+c] }
	want := svdOf(rows, cols, at, -1, 1)
	for _, workers := range []int{2, 3, 8} {
		got := svdOf(rows, cols, at, -1, workers)
		for l := range want.s {
			if math.Float64bits(got.s[l]) != math.Float64bits(want.s[l]) {
				t.Fatalf("%d workers: σ%d = %v, one worker %v", workers, l, got.s[l], want.s[l])
			}
			for i := range want.u[l] {
				if math.Float64bits(got.u[l][i]) != math.Float64bits(want.u[l][i]) {
					t.Fatalf("%d workers: u%d[%d] differs", workers, l, i)
				}
			}
			for i := range want.v[l] {
				if math.Float64bits(got.v[l][i]) != math.Float64bits(want.v[l][i]) {
					t.Fatalf("%d workers: v%d[%d] differs", workers, l, i)
				}
			}
		}
	}
}
