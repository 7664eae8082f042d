package spec

// Recipe is a parsed merge recipe: mergekit's fields plus Ladle's own settings.
type Recipe struct {
	MergeMethod string
	// BaseModel is the base model's path as written ("" when there is none).
	BaseModel string
	// Models are the models of a whole-model merge; Slices, mergekit's frankenmerge
	// (`slices:`), are layer ranges of models instead. A recipe has one or the other.
	Models []Model
	Slices []Slice
	// Parameters are the global parameters (mergekit's top-level `parameters`).
	Parameters map[string]Setting
	// DType is the type the merge computes in ("" means float32, the only one Ladle
	// computes in; float16/bfloat16 inputs are widened exactly).
	DType string
	// OutDType is the type of the merged floating-point tensors ("" keeps the base's).
	OutDType string
	Ladle    Options
	// Dir is the folder that relative model paths resolve against (the recipe file's).
	Dir string
	// File names the recipe in messages: the file given to Parse ("" when parsed
	// from memory). It is not part of the recipe's canonical form.
	File string
	// Ignored lists mergekit keys that a browser-side or local merge does not use
	// (tokenizer_source, chat_template, ...), so that a caller can mention them.
	Ignored []string
}

// Model is one entry of `models`.
type Model struct {
	Path       string
	Parameters map[string]Setting
}

// Slice is one entry of `slices`: the same number of consecutive layers from each
// source, merged by the method into the next layers of the output.
type Slice struct {
	Sources []SliceSource
	// Parameters apply to this slice's tensors, between the sources' own and the
	// global ones in precedence.
	Parameters map[string]Setting
}

// SliceSource is one model's layer range [From, To) in a slice.
type SliceSource struct {
	Model      string
	From, To   int
	Parameters map[string]Setting
}

// Options are the Ladle-only settings, under the recipe's `ladle:` key so that a
// mergekit recipe stays a mergekit recipe.
type Options struct {
	Seed           uint64 // for the random methods (DARE, DELLA); default 0
	SeedSet        bool   // whether the recipe gave a seed
	TrimScope      string // "tensor" (default) or "model": where TIES and friends trim
	RescaleMode    string // "paper" (default: divide by density) or "l1" (match the L1 norm, as current mergekit)
	AllowNonFinite bool   // let NaN or Inf appear in the output instead of failing
	Sparse         string // "" or "require": fail when inputs' zero patterns differ
	Threads        int    // 0: one per core
	Align          bool   // align every model to the base (or first) before merging (Git Re-Basin)
	Eval           *EvalOptions
}

// EvalOptions tell greedy soup and friends how to evaluate a candidate.
type EvalOptions struct {
	Arch  string // ARCH.json path (or "" when the checkpoints carry ladle.arch)
	Data  string // dataset path
	Split string // which part of the dataset to use, e.g. "val"
}

// Defaults of the Ladle-only options.
const (
	TrimScopeTensor   = "tensor"
	TrimScopeModel    = "model"
	RescalePaper      = "paper"
	RescaleL1         = "l1"
	SparseRequire     = "require"
	DefaultTrimScope  = TrimScopeTensor
	DefaultRescaleMod = RescalePaper
)

// ModelPaths lists every model the recipe refers to, base first when there is one,
// each once, as written.
func (r *Recipe) ModelPaths() []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	add(r.BaseModel)
	for _, m := range r.Models {
		add(m.Path)
	}
	for _, sl := range r.Slices {
		for _, src := range sl.Sources {
			add(src.Model)
		}
	}
	return out
}

// Param looks a parameter up for one tensor with mergekit's precedence: the model's
// own `parameters` (when model >= 0, an index into Models), then the global
// `parameters`. A setting whose conditions match nothing for this tensor falls through
// to the next level. ok is false when neither level gives a value; the caller then
// uses the method's default.
func (r *Recipe) Param(name string, model int, tensor string, t float64) (v any, ok bool) {
	if model >= 0 && model < len(r.Models) {
		if s, has := r.Models[model].Parameters[name]; has {
			if v, ok := s.Eval(tensor, t); ok {
				return v, true
			}
		}
	}
	if s, has := r.Parameters[name]; has {
		return s.Eval(tensor, t)
	}
	return nil, false
}
