package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"ladle/core/nn"
)

// Permutation alignment (Git Re-Basin's weight matching, METHODS.md).
//
// The hidden units of a network can be reordered without changing the function it
// computes: permuting the outputs of a linear layer (the rows of its weight and
// bias) and, the same way, the inputs of the next layer (the columns of its weight)
// leaves every output as it was. Conv layers work alike with channels, and the
// batchnorm vectors that follow a layer (weight, bias, running_mean, running_var)
// move with its units. A flatten between a conv and a linear layer turns channel c
// into the block of H×W features c·H·W … (c+1)·H·W − 1, so a channel permutation
// moves whole blocks of the linear layer's columns.
//
// Align finds, for a model B, the unit orders that bring it closest to a model A:
// it maximises Σ <W_A, π(W_B)> over every tensor, by coordinate descent over the
// permutation groups (one per linear or conv2d layer whose outputs feed another
// layer; the last such layer's outputs are the model's outputs and stay in place).
// Each step holds the other groups fixed and solves a linear assignment problem
// exactly (LinearAssignment). Since ‖A − π(B)‖² = ‖A‖² + ‖B‖² − 2<A, π(B)>, the L2
// distance to A can only go down.

// AlignTolerance is the smallest gain of the objective that counts as progress: a
// step's new permutation is kept only when it improves the objective by more, and
// the descent stops after a sweep over all groups that gains no more than this.
const AlignTolerance = 1e-12

// MaxAlignSweeps bounds the sweeps of the coordinate descent.
const MaxAlignSweeps = 100

// AlignReport says what Align did.
type AlignReport struct {
	// Sweeps is the number of passes over all groups (the last one found nothing to
	// improve, unless MaxAlignSweeps was reached).
	Sweeps int `json:"sweeps"`
	// Objective is Σ <A, π(B)> over every tensor the arch reads, before (π the
	// identity) and after alignment.
	ObjectiveBefore float64 `json:"objective_before"`
	ObjectiveAfter  float64 `json:"objective_after"`
	// Distance is the L2 distance ‖A − π(B)‖ over every tensor the arch reads.
	DistanceBefore float64 `json:"distance_before"`
	DistanceAfter  float64 `json:"distance_after"`
	// Groups lists the permutation groups in layer order.
	Groups []AlignGroup `json:"groups"`
}

// AlignGroup is one set of units that share a permutation: the outputs of one
// linear or conv2d layer.
type AlignGroup struct {
	// Layer is the name of the layer whose outputs the group permutes (the key of
	// the group in Permute's perms).
	Layer string `json:"layer"`
	// Size is the number of units (features or channels).
	Size int `json:"size"`
	// Axes lists the tensor axes the permutation acts on, as "NAME:AXIS".
	Axes []string `json:"axes"`
	// Perm is the permutation found: unit i of the aligned model is unit Perm[i] of B.
	Perm []int `json:"perm,omitempty"`
	// Moved counts the units that changed place.
	Moved int `json:"moved"`
}

// permAxis is one axis of one tensor that a group permutes. Viewed as
// [outer, size, inner], element (o, i, k) is at (o·size + i)·inner + k.
type permAxis struct {
	tensor string
	axis   int
	outer  int
	inner  int
}

type permGroup struct {
	layer string
	size  int
	axes  []permAxis
}

// permSpec lists the permutation groups of arch for tensors of the given shapes.
type permSpec struct {
	groups []*permGroup
	names  []string // every tensor the arch reads, in layer order
	byName map[string][]int
}

// buildPermSpec walks the layers, following which group permutes the features of
// the current activation.
func buildPermSpec(arch *nn.Arch, shapes map[string][]int) (*permSpec, error) {
	s := &permSpec{}
	seen := map[string]bool{}
	use := func(name string) ([]int, error) {
		if seen[name] {
			return nil, fmt.Errorf("align: tensor %q is used by two layers (weight tying); alignment does not support shared tensors", name)
		}
		seen[name] = true
		shape, ok := shapes[name]
		if !ok {
			return nil, fmt.Errorf("align: no tensor %q", name)
		}
		s.names = append(s.names, name)
		return shape, nil
	}
	// addAxis records that group g permutes axis of tensor name, in blocks when the
	// axis is a multiple of the group's size (a flatten after a conv).
	addAxis := func(g *permGroup, name string, shape []int, axis int) error {
		d := shape[axis]
		if d%g.size != 0 {
			return fmt.Errorf("align: tensor %q has %d entries along axis %d, not a multiple of the %d units of layer %q", name, d, axis, g.size, g.layer)
		}
		outer, inner := 1, d/g.size
		for _, v := range shape[:axis] {
			outer *= v
		}
		for _, v := range shape[axis+1:] {
			inner *= v
		}
		g.axes = append(g.axes, permAxis{tensor: name, axis: axis, outer: outer, inner: inner})
		return nil
	}
	var cur *permGroup // the group that permutes the current activation's features
	for _, l := range arch.Layers {
		switch l.Op {
		case nn.OpLinear, nn.OpConv2d:
			wname := l.Name + ".weight"
			w, err := use(wname)
			if err != nil {
				return nil, err
			}
			if len(w) < 2 {
				return nil, fmt.Errorf("align: tensor %q has shape %v; want at least two axes", wname, w)
			}
			if cur != nil {
				if err := addAxis(cur, wname, w, 1); err != nil {
					return nil, err
				}
			}
			g := &permGroup{layer: l.Name, size: w[0]}
			if err := addAxis(g, wname, w, 0); err != nil {
				return nil, err
			}
			if l.Bias == nil || *l.Bias {
				b, err := use(l.Name + ".bias")
				if err != nil {
					return nil, err
				}
				if err := addAxis(g, l.Name+".bias", b, 0); err != nil {
					return nil, err
				}
			}
			s.groups = append(s.groups, g)
			cur = g
		case nn.OpBatchnorm:
			names := []string{l.Name + ".running_mean", l.Name + ".running_var"}
			if l.Affine == nil || *l.Affine {
				names = []string{l.Name + ".weight", l.Name + ".bias", names[0], names[1]}
			}
			for _, n := range names {
				shape, err := use(n)
				if err != nil {
					return nil, err
				}
				if cur != nil {
					if err := addAxis(cur, n, shape, 0); err != nil {
						return nil, err
					}
				}
			}
		}
		// Activations, pools, flatten, dropout and softmax act per feature or per
		// channel (softmax over features is equivariant too): the group carries on.
	}
	// The last group's units are the model's outputs: they keep their order.
	if cur != nil {
		s.groups = s.groups[:len(s.groups)-1]
	}
	s.byName = map[string][]int{}
	for gi, g := range s.groups {
		for _, a := range g.axes {
			s.byName[a.tensor] = append(s.byName[a.tensor], gi)
		}
	}
	return s, nil
}

// apply writes src with every group's permutation applied to dst (same length).
func (s *permSpec) apply(dst, src []float32, name string, perms [][]int) {
	copy(dst, src)
	var tmp []float32
	for _, gi := range s.byName[name] {
		g := s.groups[gi]
		for _, a := range g.axes {
			if a.tensor != name {
				continue
			}
			if tmp == nil {
				tmp = make([]float32, len(src))
			}
			copy(tmp, dst)
			permuteAxis(dst, tmp, a.outer, g.size, a.inner, perms[gi])
		}
	}
}

// permuteAxis sets dst[o, i, k] = src[o, perm[i], k].
func permuteAxis(dst, src []float32, outer, n, inner int, perm []int) {
	for o := range outer {
		for i, j := range perm {
			copy(dst[(o*n+i)*inner:(o*n+i+1)*inner], src[(o*n+j)*inner:(o*n+j+1)*inner])
		}
	}
}

// unfold returns the n × (outer·inner) matrix whose row i holds every element with
// index i on the axis.
func unfold(x []float32, outer, n, inner int) []float64 {
	l := outer * inner
	m := make([]float64, n*l)
	for o := range outer {
		for i := range n {
			row := m[i*l+o*inner : i*l+(o+1)*inner]
			for k, v := range x[(o*n+i)*inner : (o*n+i+1)*inner] {
				row[k] = float64(v)
			}
		}
	}
	return m
}

// checkPair checks that ref and other both fit arch and agree on every shape the
// arch reads; it returns those shapes.
func checkPair(arch *nn.Arch, ref, other map[string]nn.Tensor) (map[string][]int, error) {
	mr, err := nn.NewModel(arch, ref)
	if err != nil {
		return nil, fmt.Errorf("align: reference model: %w", err)
	}
	if _, err := nn.NewModel(arch, other); err != nil {
		return nil, fmt.Errorf("align: model to align: %w", err)
	}
	shapes := map[string][]int{}
	for _, p := range mr.Params() {
		if !slices.Equal(p.Shape, other[p.Name].Shape) {
			return nil, fmt.Errorf("align: tensor %q has shape %v in the reference but %v in the model to align", p.Name, p.Shape, other[p.Name].Shape)
		}
		shapes[p.Name] = p.Shape
	}
	return shapes, nil
}

// Align permutes the hidden units of other (linear features, conv channels, with the
// batchnorm vectors that follow them) to match ref, by Git Re-Basin's weight
// matching: coordinate descent over the permutation groups, in an order shuffled
// each sweep by a generator seeded with seed, each step an exact linear assignment
// maximising Σ <W_ref, π(W_other)> over the tensors of the group with the other
// groups held fixed; it stops after a sweep that gains no more than AlignTolerance,
// or after MaxAlignSweeps sweeps.
//
// The result computes the same function as other (up to float32 rounding of the
// reordered sums). It holds every entry of other: the tensors the arch reads are new
// permuted copies, the others (num_batches_tracked, tensors the arch does not read)
// are shared unchanged. Both models must fit arch with the same shapes.
func Align(arch *nn.Arch, ref, other map[string]nn.Tensor, seed uint64) (map[string]nn.Tensor, *AlignReport, error) {
	shapes, err := checkPair(arch, ref, other)
	if err != nil {
		return nil, nil, err
	}
	spec, err := buildPermSpec(arch, shapes)
	if err != nil {
		return nil, nil, err
	}
	perms := make([][]int, len(spec.groups))
	for gi, g := range spec.groups {
		perms[gi] = identity(g.size)
	}
	cur := map[string][]float32{}
	for _, name := range spec.names {
		cur[name] = append([]float32(nil), other[name].Data...)
	}
	rep := &AlignReport{}
	rep.ObjectiveBefore, rep.DistanceBefore = objective(spec.names, ref, cur)

	// The reference's unfolded axes do not change: unfold them once.
	refRows := make([][][]float64, len(spec.groups))
	for gi, g := range spec.groups {
		for _, a := range g.axes {
			refRows[gi] = append(refRows[gi], unfold(ref[a.tensor].Data, a.outer, g.size, a.inner))
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x616c69676e)) // "align"
	for rep.Sweeps < MaxAlignSweeps && len(spec.groups) > 0 {
		rep.Sweeps++
		gain := 0.0
		for _, gi := range rng.Perm(len(spec.groups)) {
			g := spec.groups[gi]
			n := g.size
			// m[i][i'] = Σ over the group's axes of <ref unit i, current unit i'>.
			m := make([]float64, n*n)
			for ai, a := range g.axes {
				l := a.outer * a.inner
				b := unfold(cur[a.tensor], a.outer, n, a.inner)
				blas64.Gemm(blas.NoTrans, blas.Trans, 1,
					blas64.General{Rows: n, Cols: l, Stride: l, Data: refRows[gi][ai]},
					blas64.General{Rows: n, Cols: l, Stride: l, Data: b},
					1, blas64.General{Rows: n, Cols: n, Stride: n, Data: m})
			}
			// In terms of other's own units: c[i][j] = m[i][inv[j]].
			inv := make([]int, n)
			for i, j := range perms[gi] {
				inv[j] = i
			}
			c := make([]float64, n*n)
			old := 0.0
			for i := range n {
				old += m[i*n+i]
				for j := range n {
					c[i*n+j] = m[i*n+inv[j]]
				}
			}
			perm, val, err := LinearAssignment(c, n)
			if err != nil {
				return nil, nil, fmt.Errorf("align: layer %q: %w", g.layer, err)
			}
			if val-old <= AlignTolerance {
				continue
			}
			gain += val - old
			perms[gi] = perm
			for _, a := range g.axes {
				spec.apply(cur[a.tensor], other[a.tensor].Data, a.tensor, perms)
			}
		}
		if gain <= AlignTolerance {
			break
		}
	}
	rep.ObjectiveAfter, rep.DistanceAfter = objective(spec.names, ref, cur)
	out := make(map[string]nn.Tensor, len(other))
	for name, t := range other {
		out[name] = t
	}
	for _, name := range spec.names {
		out[name] = nn.Tensor{Shape: append([]int(nil), other[name].Shape...), Data: cur[name]}
	}
	rep.Groups = spec.report(perms)
	return out, rep, nil
}

func (s *permSpec) report(perms [][]int) []AlignGroup {
	out := make([]AlignGroup, len(s.groups))
	for gi, g := range s.groups {
		ag := AlignGroup{Layer: g.layer, Size: g.size, Perm: perms[gi]}
		for _, a := range g.axes {
			ag.Axes = append(ag.Axes, fmt.Sprintf("%s:%d", a.tensor, a.axis))
		}
		for i, j := range perms[gi] {
			if i != j {
				ag.Moved++
			}
		}
		out[gi] = ag
	}
	return out
}

// Permute applies permutations to a model's units: perms maps a group's layer name
// (AlignGroup.Layer) to a permutation, unit i of the result being unit perms[i] of
// the input; groups left out keep their order. It returns a new map holding every
// entry of tensors, the permuted ones copied. With an AlignReport's permutations it
// replays an alignment on a companion of the aligned model, such as its Fisher
// checkpoint.
func Permute(arch *nn.Arch, tensors map[string]nn.Tensor, perms map[string][]int) (map[string]nn.Tensor, error) {
	m, err := nn.NewModel(arch, tensors)
	if err != nil {
		return nil, fmt.Errorf("permute: %w", err)
	}
	shapes := map[string][]int{}
	for _, p := range m.Params() {
		shapes[p.Name] = p.Shape
	}
	spec, err := buildPermSpec(arch, shapes)
	if err != nil {
		return nil, err
	}
	ps := make([][]int, len(spec.groups))
	known := map[string]bool{}
	for gi, g := range spec.groups {
		known[g.layer] = true
		p, ok := perms[g.layer]
		if !ok {
			ps[gi] = identity(g.size)
			continue
		}
		if !isPermutation(p, g.size) {
			return nil, fmt.Errorf("permute: layer %q: %v is not a permutation of its %d units", g.layer, abbreviateInts(p), g.size)
		}
		ps[gi] = p
	}
	var unknown []string
	for name := range perms {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("permute: no permutable layer %q (the arch's permutable layers are the linear and conv2d layers before the last one)", unknown[0])
	}
	out := make(map[string]nn.Tensor, len(tensors))
	for name, t := range tensors {
		out[name] = t
	}
	for _, name := range spec.names {
		t := tensors[name]
		data := make([]float32, len(t.Data))
		spec.apply(data, t.Data, name, ps)
		out[name] = nn.Tensor{Shape: append([]int(nil), t.Shape...), Data: data}
	}
	return out, nil
}

// objective is Σ <ref, cur> and ‖ref − cur‖ over the named tensors, in float64.
func objective(names []string, ref map[string]nn.Tensor, cur map[string][]float32) (dot, dist float64) {
	var sq float64
	for _, name := range names {
		a, b := ref[name].Data, cur[name]
		for i, v := range a {
			x, y := float64(v), float64(b[i])
			dot += float64(x * y) // products rounded: no fused multiply-add (arm64, amd64 v3)
			sq += float64((x - y) * (x - y))
		}
	}
	return dot, math.Sqrt(sq)
}

func identity(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

func isPermutation(p []int, n int) bool {
	if len(p) != n {
		return false
	}
	seen := make([]bool, n)
	for _, j := range p {
		if j < 0 || j >= n || seen[j] {
			return false
		}
		seen[j] = true
	}
	return true
}

func abbreviateInts(p []int) string {
	if len(p) <= 8 {
		return fmt.Sprint(p)
	}
	return fmt.Sprintf("%v … (%d values)", p[:8], len(p))
}
