package merge

import (
	"fmt"
	"math"
	"strings"

	"ladle/core/compute"
	"ladle/core/tensor"
)

// Params maps parameter names to values already resolved for one tensor: float64 (or
// any Go integer or float type) for Float, an integer for Int, bool, string, []string
// (or []any of strings) for StringList, map[string]any (or Params) for Map. A missing
// key means the declared default.
type Params map[string]any

// Option values.
const (
	TrimTensor    = "tensor" // ties trims each tensor on its own (mergekit)
	TrimModel     = "model"  // ties trims over the whole model at once (the TIES paper's code)
	RescalePaper  = "paper"  // DARE divides kept entries by density
	RescaleL1     = "l1"     // DARE scales kept entries to the L1 norm of the full delta (current mergekit)
	SparseAllow   = "allow"
	SparseRequire = "require"
)

// Options are the Ladle-only settings (a recipe's `ladle:` block). The zero value is the
// default everywhere.
type Options struct {
	TrimScope      string // "" or TrimTensor, or TrimModel (ties only; then Job.Cuts is required)
	RescaleMode    string // "" or RescalePaper, or RescaleL1 (dare_linear, dare_ties)
	Sparse         string // "" or SparseAllow, or SparseRequire
	AllowNonFinite bool
}

// Quantized receives rws_extract's U8 codes when the recipe asks for `quantize` with at
// most 256 levels: the executor stores Codes as a U8 tensor and Min, Max (and Levels)
// beside it. Levels is 0 after Merge when no codes apply (no quantize, or more than 256
// levels: the float output then already holds the dequantised values).
type Quantized struct {
	Codes    []uint8
	Min, Max float32
	Levels   int
}

// Job is everything one method needs to merge one float tensor. The executor fills it;
// Merge validates it and never keeps references after it returns. A Job is used by one
// Merge call at a time.
type Job struct {
	Tensor string
	Shape  []int64 // nil means a 1-D tensor of len(out) elements

	// Base is the base model's values (θ0), or nil for methods that have no base.
	Base []float32
	// Models are the non-base models' values, in recipe order.
	Models [][]float32
	// ModelParams are the per-model parameters resolved for this tensor, one per model
	// (nil: all defaults); Params the global ones. See Params.
	ModelParams []Params
	Params      Params

	// Seed and ModelIDs key the counter-based generator (random methods only):
	// element e of model i draws tensor.NewRNG(Seed, ModelIDs[i], Tensor).Float64(e).
	// ModelIDs must stay the same for a model whatever tensor is merged (use the model's
	// position in the recipe); nil means 0, 1, 2, ...
	Seed     uint64
	ModelIDs []int

	Options Options

	// Cuts, one per model, are the model-wide trims of ties with
	// Options.TrimScope == TrimModel, from tensor.GlobalTopK.Cut for this tensor.
	Cuts []tensor.Cut
	// Companions holds, per companion parameter (Param.Companion), each model's
	// companion values for this tensor, in model order.
	Companions map[string][][]float32
	// Quant, when not nil, receives rws_extract's U8 codes (see Quantized).
	Quant *Quantized

	// BaseName and ModelNames name the inputs in error messages (for example their
	// files as the recipe writes them); "" or missing means "the base", "model i".
	BaseName   string
	ModelNames []string

	// Compute, when not nil, may run the kernels it implements (package compute)
	// instead of the CPU; it writes the CPU's exact bits or declines, so the output
	// does not depend on it.
	Compute compute.Merger

	// Workers > 1 lets Merge split the tensor over that many goroutines. The output is
	// bit-identical for any value.
	Workers int

	method *Method
	numel  int
	// scanned is set by a method that checked its output for NaN and infinity while
	// computing it (each chunk as it left the cores), so that Merge needs no second pass
	// over the output; firstNonFinite is then the first such index, or -1.
	scanned        bool
	firstNonFinite int
}

// Error is a merge error: it names the method, the tensor and what to do.
type Error struct {
	Method, Tensor string
	Msg            string
	Err            error // the cause, for errors.As (a *FaultError); may be nil
}

func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	if e.Tensor == "" {
		return fmt.Sprintf("merge %s: %s", e.Method, e.Msg)
	}
	return fmt.Sprintf("merge %s: tensor %q: %s", e.Method, e.Tensor, e.Msg)
}

func (j *Job) errorf(format string, args ...any) error {
	name := ""
	if j.method != nil {
		name = j.method.Name
	}
	return &Error{Method: name, Tensor: j.Tensor, Msg: fmt.Sprintf(format, args...)}
}

// modelName names model i for messages: its name when the job has one, and its role
// when the method has roles.
func (j *Job) modelName(i int) string {
	name := fmt.Sprintf("model %d", i)
	if i < len(j.ModelNames) && j.ModelNames[i] != "" {
		name = j.ModelNames[i]
	}
	if j.method != nil && i < len(j.method.Roles) {
		return fmt.Sprintf("%s (%s)", name, j.method.Roles[i])
	}
	return name
}

// baseName names the base model for messages.
func (j *Job) baseName() string {
	if j.BaseName != "" {
		return j.BaseName + " (the base)"
	}
	return "the base model"
}

// weightList lists each model's weight, for messages about the weights.
func (j *Job) weightList(ws []float64) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = fmt.Sprintf("%s: %v", j.modelName(i), w)
	}
	return strings.Join(parts, ", ")
}

// elementName writes element e of the tensor as an index into its shape, [2, 3],
// which is how a person would look it up.
func (j *Job) elementName(e int) string {
	if len(j.Shape) < 2 {
		return fmt.Sprintf("element %d", e)
	}
	idx := make([]string, len(j.Shape))
	rest := int64(e)
	for d := len(j.Shape) - 1; d >= 0; d-- {
		if j.Shape[d] > 0 {
			idx[d] = fmt.Sprint(rest % j.Shape[d])
			rest /= j.Shape[d]
		}
	}
	return fmt.Sprintf("element %d [%s]", e, strings.Join(idx, ", "))
}

// nonFiniteCause explains a NaN or Inf the merge produced at element e: the input
// that holds one there, else the first input that holds one anywhere (a method may
// mix elements, as model_stock's cosine does), else the arithmetic.
func (j *Job) nonFiniteCause(e int) string {
	bad := func(x []float32, at int) bool {
		return at < len(x) && math.Float32bits(x[at])&0x7f800000 == 0x7f800000
	}
	type input struct {
		name string
		x    []float32
	}
	var ins []input
	if j.Base != nil {
		ins = append(ins, input{j.baseName(), j.Base})
	}
	for i, x := range j.Models {
		ins = append(ins, input{j.modelName(i), x})
	}
	for _, in := range ins {
		if bad(in.x, e) {
			return fmt.Sprintf("%s holds %v there; repair or drop that checkpoint", in.name, in.x[e])
		}
	}
	for _, in := range ins {
		for k := range in.x {
			if bad(in.x, k) {
				return fmt.Sprintf("%s holds %v at %s; repair or drop that checkpoint", in.name, in.x[k], j.elementName(k))
			}
		}
	}
	return "no input holds NaN or Inf, so the weights or parameters overflow float32; use smaller ones"
}

// lookup finds a parameter value for model i (i < 0: global): the model's own, then the
// global one (mergekit's fallback for per-model parameters), then the default.
func (j *Job) lookup(i int, name string) any {
	if i >= 0 && i < len(j.ModelParams) {
		if v, ok := j.ModelParams[i][name]; ok {
			return v
		}
	}
	if v, ok := j.Params[name]; ok {
		return v
	}
	if p, ok := j.method.Param(name); ok {
		return p.Default
	}
	return nil
}

// The accessors below run after validate, so types and ranges are known to be right.

func (j *Job) float(name string) float64          { f, _ := toFloat(j.lookup(-1, name)); return f }
func (j *Job) modelFloat(i int, n string) float64 { f, _ := toFloat(j.lookup(i, n)); return f }
func (j *Job) boolean(name string) bool           { b, _ := j.lookup(-1, name).(bool); return b }
func (j *Job) object(name string) map[string]any {
	m, _ := toMap(j.lookup(-1, name))
	return m
}

// weights returns every model's weight and their sum (in recipe order).
func (j *Job) weights() ([]float64, float64) {
	ws := make([]float64, len(j.Models))
	sum := 0.0
	for i := range ws {
		ws[i] = j.modelFloat(i, "weight")
		sum += ws[i]
	}
	return ws, sum
}

func (j *Job) modelID(i int) int {
	if i < len(j.ModelIDs) {
		return j.ModelIDs[i]
	}
	return i
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case int16:
		return float64(x), true
	case int8:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint8:
		return float64(x), true
	}
	return 0, false
}

func toInt(v any) (int, bool) {
	f, ok := toFloat(v)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int(f), true
}

func toStrings(v any) ([]string, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case string:
		return []string{x}, true
	case []string:
		return x, true
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out[i] = s
		}
		return out, true
	}
	return nil, false
}

func toMap(v any) (map[string]any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case map[string]any:
		return x, true
	case Params:
		return x, true
	}
	return nil, false
}

func isList(v any) bool {
	switch v.(type) {
	case []any, []float64, []float32, []int:
		return true
	}
	return false
}

// histFunc is the job's radix-select histogram on its Compute backend (nil: the CPU).
func (j *Job) histFunc() tensor.HistFunc {
	if j.Compute == nil {
		return nil
	}
	return j.Compute.KeyHistogram
}
