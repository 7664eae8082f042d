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
	// Companion: a per-model String parameter naming a companion checkpoint, one per
	// model, with the model's tensor names and shapes (fisher's diagonal Fisher). The
	// executor opens it, checks it against the model, permutes it with the model when
	// aligning, and passes each tensor in Job.Companions[Name][i].
	Companion bool
	// Sweep marks the method's main scalar, the one the playground's Sweep varies and
	// draws accuracy against, and is the axis's description ("alpha: 0 is the first
	// (zero-shot) model, 1 the fine-tune"). At most one parameter of a method has it;
	// the page then needs no list of methods to know what to sweep.
	Sweep string
	// SweepPair: the swept per-model parameter is the weight between exactly two
	// models, which the sweep sets to 1 − x and x (a two-model soup's mixing weight).
	SweepPair bool
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
	// OptionalBase: the recipe may name a base_model, which the method then uses
	// (Job.Base; nuslerp and multislerp work on task vectors, karcher counts it as
	// one more input), or not (Job.Base is nil).
	OptionalBase bool
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
	// Select is a whole-model step that evaluates whole models and chooses which of
	// them to merge (nil: none). It needs NeedsEval.
	Select *Selection
	// Layout, when set, decides from the checkpoints' headers which float tensors the
	// method computes and what the output holds (nil: every float tensor, into a
	// checkpoint with the reference's tensors).
	Layout func(*LayoutInput) (*Layout, error)
	// DecodeInput, when set, checks each model's header before anything is read and
	// says how its U8-coded tensors decode (signatures). Models are then read through
	// it: a U8 tensor where the reference holds a float one is codes in [0, levels)
	// with its range beside it (NAME + RangeSuffix = [min, max]).
	DecodeInput func(model, target *Headers) (levels int, err error)
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

// SelectKind names a whole-model selection the executor knows how to run.
type SelectKind int

const (
	// SelectGreedy: score each model on the held-out data, then grow a soup best
	// first, keeping a model when the uniform average with it scores at least as well
	// (strictly better when the boolean parameter StrictParam is true). The chosen
	// models are merged, in the order they joined.
	SelectGreedy SelectKind = iota + 1
)

// Selection declares a method's whole-model selection step.
type Selection struct {
	Kind SelectKind
	// StrictParam names the method's boolean parameter that makes the rule strict.
	StrictParam string
	// MetadataKey is where the output's metadata records the steps and the chosen
	// models (JSON).
	MetadataKey string
}

// Headers describes a checkpoint by its header, for the whole-model hooks.
type Headers struct {
	Name     string // the path as the recipe writes it
	Tensors  []TensorHeader
	Metadata map[string]string
}

// TensorHeader is one tensor of a header.
type TensorHeader struct {
	Name  string
	DType string // safetensors' names: F32, U8, ...
	Float bool
	Shape []int64
}

// LayoutInput is what Method.Layout sees: the reference checkpoint (the base, else
// the first model), the other models, and the recipe's global parameters as written
// (a scalar, a []string, or a map[string]any; gradients as []any).
type LayoutInput struct {
	Reference *Headers
	Models    []*Headers
	Params    Params
}

// Layout is a method's choice of tensors and output form.
type Layout struct {
	// Compute lists the float tensors the method computes, in reference order.
	Compute []string
	// OnlyComputed: the output holds only the computed tensors (a signature); otherwise
	// it holds every reference tensor and the others are copied.
	OnlyComputed bool
	// CodeLevels > 0 stores each computed tensor as U8 codes (Job.Quant) followed by
	// its range tensor NAME + RangeSuffix = [min, max] (F32).
	CodeLevels int
	// Metadata is added to the output's metadata.
	Metadata map[string]string
}

// RangeSuffix names the [min, max] tensor stored beside a U8-coded tensor.
const RangeSuffix = ".__quant_range"

var registry = map[string]*Method{}

func register(ms ...*Method) {
	for _, m := range ms {
		if _, dup := registry[m.Name]; dup {
			panic("merge: method registered twice: " + m.Name)
		}
		common := commonLadleParams
		if m.Dense {
			common = append([]Param{denseSparseParam}, commonLadleParams[1:]...)
		}
		m.Params = append(m.Params, common...)
		registry[m.Name] = m
	}
}

func init() {
	register(linearMethod, wiseFTMethod)
	register(gtaMethods()...)
	register(modelStockMethod, slerpMethod, nearswapMethod, fisherMethod, greedySoupMethod)
	register(rwsExtractMethod, rwsPatchMethod, rwsRemoveMethod)
	register(tsvMergeMethod, isoCMethod, isoCTSMethod, pcbMethod)
	register(karcherMethod, nuslerpMethod, multislerpMethod, sceMethod, passthroughMethod)
	for _, m := range registry {
		if m.Select != nil && !m.NeedsEval {
			panic("merge: " + m.Name + " selects models but does not declare NeedsEval")
		}
	}
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

// withSweep marks the parameter called name in ps as the method's main scalar, with
// label as its axis (Param.Sweep); pair makes it the weight between two models
// (Param.SweepPair). It panics when ps has no such parameter: a registration error
// that every test run meets.
func withSweep(ps []Param, name, label string, pair bool) []Param {
	for i := range ps {
		if ps[i].Name == name {
			ps[i].Sweep, ps[i].SweepPair = label, pair
			return ps
		}
	}
	panic("merge: no parameter " + name + " to sweep")
}

// sweptPair marks a per-model weight as the weight between two models, the main
// scalar of a two-model soup.
func sweptPair(p Param) Param {
	p.Sweep, p.SweepPair = pairAxis, true
	return p
}

// Axis descriptions shared by several methods.
const (
	densityAxis = "density: the fraction of each task vector kept"
	lambdaAxis  = "lambda: the scale of the merged task vector"
	pairAxis    = "the weight between the two models: 0 is the first, 1 the second"
)

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

// denseSparseParam replaces the sparse option (commonLadleParams[0]) for the methods
// that declare Dense: they cannot keep shared zeros, so `require` is refused rather than
// accepted and then broken.
var denseSparseParam = Param{Name: "sparse", Type: String, Default: SparseAllow, Choices: []string{SparseAllow}, Ladle: true,
	Doc: "Sparse soups: not kept by this method, which rebuilds each 2-D tensor from singular directions and so fills in exact zeros shared by every input; `require` is refused."}

func seedParam() Param {
	return Param{Name: "seed", Type: Int, Default: 0, Min: fptr(0), Ladle: true,
		Doc: "Seed of the counter-based generator (also --seed on the command line); the same seed gives the same output bytes, natively and in the browser."}
}
