package merge

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"ladle/core/tensor"
)

// Merge validates job and computes the merged tensor into out (len(out) must be the
// tensor's element count). It never panics: every problem, including an internal one,
// comes back as an *Error naming the method and the tensor.
//
// Integer and bool tensors never reach Merge: the executor copies them from the base
// model (or the first model when there is no base), as METHODS.md says. Inputs of other
// float dtypes are converted to float32 by the executor and the output converted to
// out_dtype afterwards.
func (m *Method) Merge(j *Job, out []float32) (err error) {
	if m == nil || m.merge == nil {
		return &Error{Method: "?", Msg: "nil method"}
	}
	if j == nil {
		return &Error{Method: m.Name, Msg: "nil job"}
	}
	j.method = m
	defer panicOnFault()()
	defer func() {
		if r := recover(); r != nil {
			if fe, ok := asFault(r); ok {
				err = &Error{Method: m.Name, Tensor: j.Tensor, Msg: fe.Error(), Err: fe}
				return
			}
			err = j.errorf("internal error: %v (please report this with the recipe)", r)
		}
	}()
	if err := m.validate(j, out); err != nil {
		return err
	}
	if j.Options.Sparse == SparseRequire {
		if err := checkSparse(j); err != nil {
			return err
		}
	}
	j.scanned = false
	if err := m.merge(j, out); err != nil {
		return err
	}
	if !j.Options.AllowNonFinite {
		i := j.firstNonFinite
		if !j.scanned {
			i = firstNonFinite(out, j.Workers)
		}
		if i >= 0 {
			return j.errorf("the merge produced %v at %s: %s (or set `ladle: {allow_nonfinite: true}` to keep such values)", out[i], j.elementName(i), j.nonFiniteCause(i))
		}
	}
	return nil
}

// firstNonFinite returns the index of the first NaN or infinity in x, or -1, scanning
// contiguous parts on up to workers goroutines (the first hit of the earliest part is
// the first overall, whatever the split).
func firstNonFinite(x []float32, workers int) int {
	parts := max(1, min(workers, len(x)/(1<<16)))
	first := make([]int, parts)
	parallelChunks(parts, 1, parts, func(_, p, _ int) {
		lo, hi := p*len(x)/parts, (p+1)*len(x)/parts
		first[p] = -1
		if i := nonFiniteIndex(x[lo:hi]); i >= 0 {
			first[p] = lo + i
		}
	})
	for _, i := range first {
		if i >= 0 {
			return i
		}
	}
	return -1
}

// nonFiniteIndex is the index of the first NaN or infinity in x, or -1. It tests
// four elements per step (a NaN or infinity has every exponent bit set) and looks
// closer only where one of them is.
func nonFiniteIndex(x []float32) int {
	const exp = 0x7f800000
	c := 0
	for ; c+4 <= len(x); c += 4 {
		q := x[c : c+4 : c+4]
		if ^math.Float32bits(q[0])&exp == 0 || ^math.Float32bits(q[1])&exp == 0 ||
			^math.Float32bits(q[2])&exp == 0 || ^math.Float32bits(q[3])&exp == 0 {
			break
		}
	}
	for i, v := range x[c:] {
		if math.Float32bits(v)&exp == exp {
			return c + i
		}
	}
	return -1
}

func (m *Method) validate(j *Job, out []float32) error {
	numel := int64(len(out))
	if j.Shape != nil {
		n, err := tensor.Numel(j.Shape)
		if err != nil {
			return j.errorf("%v", err)
		}
		if n != numel {
			return j.errorf("shape %v has %d elements but the output buffer has %d", j.Shape, n, numel)
		}
	}
	j.numel = len(out)
	nm := len(j.Models)
	if !m.PartialModels {
		models := func(k int) string { // "1 model", "2 models"
			if k == 1 {
				return "1 model"
			}
			return strconv.Itoa(k) + " models"
		}
		if nm < m.MinModels {
			return j.errorf("needs at least %s besides the base, got %d; add models to the recipe", models(m.MinModels), nm)
		}
		if m.MaxModels > 0 && nm > m.MaxModels {
			return j.errorf("takes at most %s besides the base, got %d; remove models from the recipe", models(m.MaxModels), nm)
		}
	}
	if m.NeedsBase {
		if j.Base == nil {
			return j.errorf("needs a base model; set base_model in the recipe")
		}
		if len(j.Base) != len(out) {
			return j.errorf("the base model has %d elements, expected %d; the checkpoints do not have the same architecture", len(j.Base), len(out))
		}
	}
	for i, x := range j.Models {
		if len(x) != len(out) {
			return j.errorf("%s has %d elements, expected %d; the checkpoints do not have the same architecture", j.modelName(i), len(x), len(out))
		}
	}
	if j.ModelParams != nil && len(j.ModelParams) != nm {
		return j.errorf("%d per-model parameter sets for %d models", len(j.ModelParams), nm)
	}
	if j.ModelIDs != nil && len(j.ModelIDs) != nm {
		return j.errorf("%d model IDs for %d models", len(j.ModelIDs), nm)
	}
	// Parameters.
	for name, v := range j.Params {
		p, ok := m.Param(name)
		if !ok {
			return j.errorf("unknown parameter %q; %s takes %s", name, m.Name, m.paramList())
		}
		if p.Ladle {
			return j.errorf("%q is a Ladle option: set it under `ladle:` (the executor passes it in Job.Options)", name)
		}
		if err := checkValue(p, v, "parameters."+name); err != nil {
			return j.errorf("%v", err)
		}
	}
	for i, mp := range j.ModelParams {
		for name, v := range mp {
			p, ok := m.Param(name)
			if !ok || !p.PerModel {
				return j.errorf("%s: %q is not a per-model parameter of %s (per-model: %s)", j.modelName(i), name, m.Name, m.perModelList())
			}
			if err := checkValue(p, v, fmt.Sprintf("models[%d].parameters.%s", i, name)); err != nil {
				return j.errorf("%v", err)
			}
		}
	}
	for _, p := range m.Params {
		if !p.Required {
			continue
		}
		if p.PerModel {
			for i := range nm {
				if j.lookup(i, p.Name) == nil {
					return j.errorf("%s: parameter %q is required; set it under the model's parameters (or globally)", j.modelName(i), p.Name)
				}
			}
		} else if j.lookup(-1, p.Name) == nil {
			return j.errorf("parameter %q is required; set it under parameters", p.Name)
		}
	}
	// Options.
	if err := m.checkOption(j, "trim_scope", j.Options.TrimScope, TrimTensor); err != nil {
		return err
	}
	if err := m.checkOption(j, "rescale_mode", j.Options.RescaleMode, RescalePaper); err != nil {
		return err
	}
	if m.Dense && j.Options.Sparse == SparseRequire {
		return j.errorf("%s", m.denseSparseMsg())
	}
	if err := m.checkOption(j, "sparse", j.Options.Sparse, SparseAllow); err != nil {
		return err
	}
	if j.Options.TrimScope == TrimModel && len(j.Cuts) != nm {
		return j.errorf("trim_scope: model needs one model-wide cut per model (tensor.GlobalTopK, run by the executor before merging), got %d for %d models", len(j.Cuts), nm)
	}
	return nil
}

// checkOption accepts the empty value and the default everywhere, and other values only
// for methods that declare the option.
func (m *Method) checkOption(j *Job, name, v, def string) error {
	if v == "" || v == def {
		return nil
	}
	p, ok := m.Param(name)
	if !ok {
		return j.errorf("the Ladle option %s: %s does not apply to %s; remove it", name, v, m.Name)
	}
	if !slices.Contains(p.Choices, v) {
		return j.errorf("ladle option %s: %q is not one of %s", name, v, strings.Join(p.Choices, ", "))
	}
	return nil
}

func (m *Method) paramList() string {
	var s []string
	for _, p := range m.Params {
		if !p.Ladle {
			s = append(s, p.Name)
		}
	}
	if len(s) == 0 {
		return "no parameters"
	}
	return strings.Join(s, ", ")
}

func (m *Method) perModelList() string {
	var s []string
	for _, p := range m.Params {
		if p.PerModel {
			s = append(s, p.Name)
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// checkValue checks v against p's type, range and choices; where names the value in
// the recipe for the message.
func checkValue(p *Param, v any, where string) error {
	if v == nil {
		return nil // unset: the default applies
	}
	if isList(v) && p.Type != StringList {
		if p.Multi {
			return fmt.Errorf("%s is a list: it asks for one merge per value; split it with Method.Expand first", where)
		}
		return fmt.Errorf("%s is a list; a gradient must be resolved to one value per tensor before merging", where)
	}
	switch p.Type {
	case Float, Int:
		f, ok := toFloat(v)
		if p.Type == Int {
			_, ok = toInt(v)
		}
		if !ok {
			return fmt.Errorf("%s must be %s, got %v (%T)", where, map[bool]string{true: "an integer", false: "a number"}[p.Type == Int], v, v)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%s must be finite, got %v", where, f)
		}
		if p.Min != nil && f < *p.Min {
			return fmt.Errorf("%s = %v is below its minimum %v", where, f, *p.Min)
		}
		if p.Max != nil && f > *p.Max {
			return fmt.Errorf("%s = %v is above its maximum %v", where, f, *p.Max)
		}
	case Bool:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s must be true or false, got %v (%T)", where, v, v)
		}
	case String:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s must be a string, got %v (%T)", where, v, v)
		}
		if len(p.Choices) > 0 && !slices.Contains(p.Choices, s) {
			return fmt.Errorf("%s = %q is not one of %s", where, s, strings.Join(p.Choices, ", "))
		}
	case StringList:
		if _, ok := toStrings(v); !ok {
			return fmt.Errorf("%s must be a list of strings, got %v (%T)", where, v, v)
		}
	case Map:
		mv, ok := toMap(v)
		if !ok {
			return fmt.Errorf("%s must be an object, got %v (%T)", where, v, v)
		}
		for k, fv := range mv {
			var f *Param
			for i := range p.Fields {
				if p.Fields[i].Name == k {
					f = &p.Fields[i]
				}
			}
			if f == nil {
				var names []string
				for _, fd := range p.Fields {
					names = append(names, fd.Name)
				}
				return fmt.Errorf("%s has an unknown key %q (known: %s)", where, k, strings.Join(names, ", "))
			}
			if err := checkValue(f, fv, where+"."+k); err != nil {
				return err
			}
		}
		for _, f := range p.Fields {
			if _, ok := mv[f.Name]; f.Required && !ok {
				return fmt.Errorf("%s needs the key %q", where, f.Name)
			}
		}
	default:
		return fmt.Errorf("%s: parameter type %v is not supported", where, p.Type)
	}
	return nil
}

// Expand splits params on a Multi parameter holding a list (wise_ft's alpha: [0.2, 0.5])
// into one Params per value, in list order, each a copy with the scalar; the executor
// runs the whole merge once per entry and writes one output each. Without such a list it
// returns params alone.
func (m *Method) Expand(params Params) ([]Params, error) {
	for _, p := range m.Params {
		if !p.Multi {
			continue
		}
		v, ok := params[p.Name]
		if !ok || !isList(v) {
			continue
		}
		var vals []any
		switch x := v.(type) {
		case []any:
			vals = x
		case []float64:
			for _, f := range x {
				vals = append(vals, f)
			}
		case []float32:
			for _, f := range x {
				vals = append(vals, float64(f))
			}
		case []int:
			for _, f := range x {
				vals = append(vals, f)
			}
		}
		if len(vals) == 0 {
			return nil, fmt.Errorf("merge %s: parameters.%s is an empty list", m.Name, p.Name)
		}
		out := make([]Params, len(vals))
		for i, e := range vals {
			if err := checkValue(&p, e, fmt.Sprintf("parameters.%s[%d]", p.Name, i)); err != nil {
				return nil, fmt.Errorf("merge %s: %v", m.Name, err)
			}
			q := make(Params, len(params))
			for k, val := range params {
				q[k] = val
			}
			q[p.Name] = e
			out[i] = q
		}
		return out, nil
	}
	return []Params{params}, nil
}

// ParseOptions reads a recipe's `ladle:` block into Options, checking the options this
// method declares. Keys it does not know (seed, and settings of other layers) are left
// to the caller.
func (m *Method) ParseOptions(ladle map[string]any) (Options, error) {
	var o Options
	str := func(name string, dst *string) error {
		v, ok := ladle[name]
		if !ok {
			return nil
		}
		p, ok := m.Param(name)
		if !ok {
			return fmt.Errorf("merge %s: the Ladle option %q does not apply to this method", m.Name, name)
		}
		if err := checkValue(p, v, "ladle."+name); err != nil {
			return fmt.Errorf("merge %s: %v", m.Name, err)
		}
		*dst = v.(string)
		return nil
	}
	if err := str("trim_scope", &o.TrimScope); err != nil {
		return o, err
	}
	if err := str("rescale_mode", &o.RescaleMode); err != nil {
		return o, err
	}
	if v, ok := ladle["sparse"]; ok && v == SparseRequire && m.Dense {
		return o, fmt.Errorf("merge %s: ladle.%s", m.Name, m.denseSparseMsg())
	}
	if err := str("sparse", &o.Sparse); err != nil {
		return o, err
	}
	if v, ok := ladle["allow_nonfinite"]; ok {
		b, ok := v.(bool)
		if !ok {
			return o, fmt.Errorf("merge %s: ladle.allow_nonfinite must be true or false, got %v", m.Name, v)
		}
		o.AllowNonFinite = b
	}
	return o, nil
}

// denseSparseMsg is why a Dense method refuses `sparse: require`, and what to do.
func (m *Method) denseSparseMsg() string {
	return "sparse: require asks that exact zeros shared by every input stay zeros, but " + m.Name +
		" rebuilds each 2-D tensor from singular directions and fills them in; use a method that keeps them (linear, task_arithmetic, ties, ...) or remove sparse: require"
}
