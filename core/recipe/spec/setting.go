package spec

import (
	"fmt"
	"strings"
)

// A Setting is the value of one parameter as a recipe writes it, in mergekit's three
// forms: a scalar (number, bool or string), a gradient (a list of numbers interpolated
// over the layers), or a list of conditions ({filter, value} pairs; the first whose
// filter occurs in the tensor name wins).
type Setting struct {
	Scalar   any       // float64, bool or string when the setting is a scalar
	Gradient []float64 // when the setting is a list of numbers
	Strings  []string  // a list of strings: picked by layer position, as mergekit does
	Conds    []Cond    // when the setting is a list of {filter, value}
}

// Cond is one {filter, value} entry. An empty filter or "*" matches every tensor.
type Cond struct {
	Filter string
	Value  Setting
}

// Scalar returns a Setting holding one value.
func Scalar(v any) Setting { return Setting{Scalar: v} }

// IsZero reports whether s holds nothing.
func (s Setting) IsZero() bool {
	return s.Scalar == nil && s.Gradient == nil && s.Strings == nil && s.Conds == nil
}

// Eval gives the setting's value for one tensor at layer position t in [0, 1], with
// mergekit's rules: a gradient [v0 .. vn-1] is interpolated linearly at t·(n−1); a list
// of strings is indexed at floor(t·(n−1)); conditions are tried in order and the first
// matching one is evaluated. ok is false when no condition matches.
func (s Setting) Eval(tensor string, t float64) (v any, ok bool) {
	switch {
	case s.Scalar != nil:
		return s.Scalar, true
	case s.Gradient != nil:
		return interpolate(s.Gradient, t), true
	case s.Strings != nil:
		return s.Strings[int(t*float64(len(s.Strings)-1))], true
	}
	for _, c := range s.Conds {
		if c.Filter == "" || c.Filter == "*" || (tensor != "" && strings.Contains(tensor, c.Filter)) {
			return c.Value.Eval(tensor, t)
		}
	}
	return nil, false
}

// interpolate evaluates a gradient at t exactly as mergekit does (including its
// floating-point order of operations), so that the same recipe gives the same weights.
func interpolate(g []float64, t float64) float64 {
	scaled := float64(t * float64(len(g)-1)) // products rounded as Python rounds them: no FMA
	i0 := int(scaled)
	i1 := min(len(g)-1, i0+1)
	frac := scaled - float64(i0)
	return float64((1-frac)*g[i0]) + float64(frac*g[i1])
}

// String writes the setting in the recipe's own (flow) YAML notation.
func (s Setting) String() string {
	switch {
	case s.Scalar != nil:
		return fmt.Sprint(s.Scalar)
	case s.Gradient != nil:
		return fmt.Sprint(s.Gradient)
	case s.Strings != nil:
		return fmt.Sprint(s.Strings)
	}
	parts := make([]string, len(s.Conds))
	for i, c := range s.Conds {
		parts[i] = fmt.Sprintf("{filter: %q, value: %s}", c.Filter, c.Value)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// values lists every leaf value the setting can produce, for type and range checks.
func (s Setting) values() []any {
	switch {
	case s.Scalar != nil:
		return []any{s.Scalar}
	case s.Gradient != nil:
		out := make([]any, len(s.Gradient))
		for i, g := range s.Gradient {
			out[i] = g
		}
		return out
	case s.Strings != nil:
		out := make([]any, len(s.Strings))
		for i, g := range s.Strings {
			out[i] = g
		}
		return out
	}
	var out []any
	for _, c := range s.Conds {
		out = append(out, c.Value.values()...)
	}
	return out
}

// Leaves lists every value the setting can produce for some tensor and layer position,
// so that types and ranges can be checked before any tensor is read.
func (s Setting) Leaves() []any { return s.values() }
