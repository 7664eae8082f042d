package merge

import (
	"fmt"
	"slices"
	"strings"
)

// ParamType is the kind of value a parameter takes.
type ParamType int

const (
	Float      ParamType = iota + 1 // a real number (float64); may be a gradient or filter list in a recipe, resolved to a scalar per tensor before Merge
	Int                             // an integer
	Bool                            // true or false
	String                          // a string, often one of Choices
	StringList                      // a list of strings (name patterns, ...)
	Map                             // a nested object whose keys are described by Fields
)

var typeNames = map[ParamType]string{Float: "float", Int: "int", Bool: "bool", String: "string", StringList: "string list", Map: "object"}

func (t ParamType) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("ParamType(%d)", int(t))
}

// Param declares one parameter of a method: everything a form, a validator and the
// documentation need.
type Param struct {
	Name string
	Type ParamType
	// Default is the value used when the recipe does not set the parameter: float64 for
	// Float, int for Int, bool, string, []string, or nil when Required (or when "unset"
	// has its own meaning, documented in Doc).
	Default  any
	Required bool
	// Min and Max are inclusive bounds for Float and Int (nil: unbounded).
	Min, Max *float64
	// Choices lists the accepted values of a String parameter.
	Choices []string
	Doc     string
	// PerModel parameters live under models[].parameters (weight, density, ...). As in
	// mergekit, a per-model parameter given in the global parameters applies to every
	// model that does not set it.
	PerModel bool
	// Ladle marks a Ladle-only setting, written under `ladle:` in a recipe so that a
	// mergekit recipe stays valid; the executor passes these in Job.Options (or
	// Job.Seed), never in Params.
	Ladle bool
	// Multi: a list value does not mean a gradient but several merges, one output per
	// element (wise_ft's alpha list). Expand splits such a Params.
	Multi bool
	// Fields describes the keys of a Map parameter.
	Fields []Param
}

// Method is one merge method: its self-description and its per-tensor computation.
type Method struct {
	Name    string
	Summary string
	Paper   string // title and URL of the paper (or reference) the method follows
	Params  []Param
	// NeedsBase: the recipe must name base_model; Job.Base holds its tensor. Methods
	// that do not need a base ignore Job.Base.
	NeedsBase bool
	// MinModels and MaxModels bound the number of non-base models (MaxModels 0: no
	// bound).
	MinModels, MaxModels int
	// PartialModels: a model may lack a tensor (RWS signatures cover a few layers); the
	// executor passes only the models that hold it, with their parameters and IDs, and
	// the model-count bounds apply to the recipe, not to each tensor.
	PartialModels bool
	// Random: the method draws from the counter-based RNG, so Job.Seed and
	// Job.ModelIDs matter.
	Random bool
	// NeedsEval: the method evaluates candidate merges (greedy_soup), so the recipe
	// must give an evaluator, `ladle: {eval: {arch, data, split}}`, and the executor
	// holds whole models in memory to choose which models to merge. Merge itself then
	// sees only the chosen models.
	NeedsEval bool
	// Dense: the method spreads each task vector over its whole tensor (the SVD
	// methods rebuild a tensor from a few singular directions), so exact zeros shared
	// by every input need not stay zeros in its output.
	Dense bool
	// Roles names the models by position when they have fixed roles (wise_ft:
	// zeroshot, finetuned); for the UI and error messages.
	Roles []string

	merge func(j *Job, out []float32) error
}

// Param returns the declaration of the named parameter.
func (m *Method) Param(name string) (*Param, bool) {
	for i := range m.Params {
		if m.Params[i].Name == name {
			return &m.Params[i], true
		}
	}
	return nil, false
}

var registry = map[string]*Method{}

func register(ms ...*Method) {
	for _, m := range ms {
		if _, dup := registry[m.Name]; dup {
			panic("merge: method registered twice: " + m.Name)
		}
		m.Params = append(m.Params, commonLadleParams...)
		registry[m.Name] = m
	}
}

func init() {
	register(linearMethod, wiseFTMethod)
	register(gtaMethods()...)
	register(modelStockMethod, slerpMethod, nearswapMethod, fisherMethod, greedySoupMethod)
	register(rwsExtractMethod, rwsPatchMethod, rwsRemoveMethod)
	register(tsvMergeMethod, isoCMethod, isoCTSMethod, pcbMethod)
}

// Lookup returns the method registered under name.
func Lookup(name string) (*Method, bool) {
	m, ok := registry[name]
	return m, ok
}

// All returns every method, sorted by name.
func All() []*Method {
	ms := make([]*Method, 0, len(registry))
	for _, m := range registry {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *Method) int { return strings.Compare(a.Name, b.Name) })
	return ms
}

// Names returns every method name, sorted.
func Names() []string {
	var ns []string
	for _, m := range All() {
		ns = append(ns, m.Name)
	}
	return ns
}

// UnknownMethodError is returned by Get for a name that is not registered.
type UnknownMethodError struct{ Name string }

func (e *UnknownMethodError) Error() string {
	return fmt.Sprintf("unknown merge method %q; known methods: %s", e.Name, strings.Join(Names(), ", "))
}

// Get is Lookup with an error that lists the known methods.
func Get(name string) (*Method, error) {
	if m, ok := Lookup(name); ok {
		return m, nil
	}
	return nil, &UnknownMethodError{Name: name}
}

func fptr(v float64) *float64 { return &v }

// Shared parameter declarations.

func weightParam() Param {
	return Param{Name: "weight", Type: Float, Default: 1.0, PerModel: true,
		Doc: "Weight of this model's contribution. Negative weights are allowed where the method is linear in the weights (task negation)."}
}

func lambdaParam() Param {
	return Param{Name: "lambda", Type: Float, Default: 1.0,
		Doc: "Scale λ applied to the merged task vector before it is added to the base: θ = θ0 + λ·mixed."}
}

func densityParam(def any, doc string) Param {
	p := Param{Name: "density", Type: Float, Default: def, Min: fptr(0), Max: fptr(1), PerModel: true, Doc: doc}
	if def == nil {
		p.Required = true
	}
	return p
}

// Ladle options every method accepts.
var commonLadleParams = []Param{
	{Name: "sparse", Type: String, Default: SparseAllow, Choices: []string{SparseAllow, SparseRequire}, Ladle: true,
		Doc: "Sparse soups: `require` makes it an error when the inputs' exact zeros are not at the same positions (exact zeros shared by every input are always preserved)."},
	{Name: "allow_nonfinite", Type: Bool, Default: false, Ladle: true,
		Doc: "Keep NaN or Inf values in the output instead of failing with an error naming the tensor."},
}

func seedParam() Param {
	return Param{Name: "seed", Type: Int, Default: 0, Min: fptr(0), Ladle: true,
		Doc: "Seed of the counter-based generator (also --seed on the command line); the same seed gives the same output bytes, natively and in the browser."}
}
