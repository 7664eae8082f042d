package plan

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"ladle/core/ckpt"
	"ladle/core/dtype"
	"ladle/core/eval"
	"ladle/core/merge"
	"ladle/core/nn"
	"ladle/core/recipe"
)

// Plan is a checked merge, ready to run: the method, the opened inputs and the output
// layout. Nothing of the tensors' data has been read. Close releases the inputs.
type Plan struct {
	Recipe *recipe.Recipe
	Method *merge.Method
	// Base is the base model (nil for methods without one); Models the other models in
	// recipe order (a base listed under models too is the base only, as in mergekit).
	Base   ckpt.Source
	Models []ckpt.Source
	// ModelNames are the models' paths as the recipe writes them.
	ModelNames []string
	// OutDType is the dtype of merged float tensors; Invalid keeps each one's dtype.
	OutDType dtype.DType

	modelIdx   []int       // recipe index of each model, for parameter lookups
	ref        ckpt.Source // the base, else the first model: it fixes names, shapes and order
	inputs     []ckpt.Info // the reference's tensors, in its order
	merged     []ckpt.Info // the tensors the method computes (float, and selected for RWS)
	positions  map[string]float64
	variants   []merge.Params // one per output (a Multi parameter given as a list); a single empty one otherwise
	companions []companion    // the method's companion checkpoints (merge.Param.Companion)
	options    merge.Options
	seed       uint64
	opened     []ckpt.Source // everything to close
	index      map[ckpt.Source]map[string]ckpt.Info
	layout     *layoutPlan         // the method's Layout, when it declares one
	codes      map[ckpt.Source]int // models holding U8 codes (DecodeInput): their levels

	// Whole-model steps (evaluate.go, align.go).
	read      ReadFile    // reads ladle.eval.arch
	arch      *nn.Arch    // the evaluator's (and alignment's) architecture, once resolved
	evalData  ckpt.Source // ladle.eval.data
	align     bool        // SetAlign(true): align every model to ref before merging
	prepped   bool        // Preprocess has run
	prepErr   error
	greedy    *eval.GreedyResult
	slices    []*Plan // a `slices:` recipe: one plan per slice (slices.go)
	alignRep  []AlignedModel
	alignRef  string // the recipe path of the model the others were aligned to
	alignSeed uint64
	copyFrom  ckpt.Source // where integer tensors come from when not ref (after a selection: the best model)
}

// Error is a problem found while preparing a merge: it names where it is (a recipe key,
// a model file, a tensor) and what to do.
type Error struct {
	Where string
	Msg   string
}

func (e *Error) Error() string {
	if e.Where == "" {
		return e.Msg
	}
	return e.Where + ": " + e.Msg
}

func errorf(where, format string, args ...any) error {
	return &Error{Where: where, Msg: fmt.Sprintf(format, args...)}
}

// Prepare checks a recipe against the method registry and its input files, and opens
// them. It reads the files' headers only (and, for a method that evaluates, the
// ARCH.json that ladle.eval.arch names, through FileReader(r.Dir)).
func Prepare(r *recipe.Recipe, open Opener) (p *Plan, err error) {
	return PrepareWith(r, open, nil)
}

// PrepareWith is Prepare with a reader for the files a recipe names that are not
// checkpoints (ladle.eval.arch); nil means FileReader(r.Dir). The browser passes a
// reader over dropped files.
func PrepareWith(r *recipe.Recipe, open Opener, read ReadFile) (p *Plan, err error) {
	return prepare(r, open, read, nil)
}

// prepare is PrepareWith, or PrepareOnly when keep is not nil.
func prepare(r *recipe.Recipe, open Opener, read ReadFile, keep map[string]bool) (p *Plan, err error) {
	m, ok := merge.Lookup(r.MergeMethod)
	if !ok {
		return nil, errorf("merge_method", "unknown method %q%s; known methods: %s", r.MergeMethod,
			recipe.DidYouMean(r.MergeMethod, merge.Names()), strings.Join(merge.Names(), ", "))
	}
	if read == nil {
		read = FileReader(r.Dir)
	}
	if len(r.Slices) > 0 {
		return prepareSlices(r, m, open, read, keep)
	}
	if keep != nil {
		whole := open
		open = func(name string) (ckpt.Source, error) {
			src, err := whole(name)
			if err != nil {
				return nil, err
			}
			return restrict(src, keep), nil
		}
	}
	p = &Plan{Recipe: r, Method: m, seed: r.Ladle.Seed, read: read}
	defer func() {
		if err != nil && p != nil {
			p.Close()
			p = nil
		}
	}()
	for _, step := range []func() error{p.checkModels, p.checkParams, p.checkOptions, p.checkEval, p.checkDTypes,
		func() error { return p.openInputs(open) }, p.checkTensors} {
		if err := step(); err != nil {
			return p, err
		}
	}
	names := make([]string, len(p.inputs))
	for i, t := range p.inputs {
		names[i] = t.Name
	}
	p.positions = recipe.LayerPositions(names)
	if err := p.prepareMethodInputs(open); err != nil {
		return p, err
	}
	if m.NeedsEval {
		if err := p.prepareEval(open); err != nil {
			return p, err
		}
	}
	p.indexSources()
	if r.Ladle.Align {
		if err := p.SetAlign(true); err != nil {
			return p, err
		}
	}
	return p, nil
}

// checkParams checks every parameter's name and every value it can take.
func (p *Plan) checkParams() error {
	m, r := p.Method, p.Recipe
	var known, perModel []string
	for _, prm := range m.Params {
		if prm.Ladle {
			continue
		}
		known = append(known, prm.Name)
		if prm.PerModel {
			perModel = append(perModel, prm.Name)
		}
	}
	check := func(where string, params map[string]recipe.Setting, allowed []string) error {
		for _, name := range slices.Sorted(maps.Keys(params)) {
			prm, ok := m.Param(name)
			key := where + "." + name
			if ok && prm.Ladle {
				return errorf(key, "%q is a Ladle setting: write it under `ladle:` (ladle: {%s: ...}), so that the recipe stays a mergekit recipe", name, name)
			}
			if !ok && recipe.IsLadleKey(name) {
				return errorf(key, "%q is a Ladle setting: write it under `ladle:` (ladle: {%s: ...}), so that the recipe stays a mergekit recipe", name, name)
			}
			if !ok || !slices.Contains(allowed, name) {
				hint := recipe.DidYouMean(name, allowed)
				if ok { // a global parameter set on one model
					return errorf(key, "%q is a global parameter of %s: set it under the top-level `parameters`", name, m.Name)
				}
				return errorf(key, "unknown parameter%s; %s takes %s", hint, m.Name, listOrNone(allowed))
			}
			if err := checkSetting(prm, params[name], key); err != nil {
				return err
			}
		}
		return nil
	}
	if err := check("parameters", r.Parameters, known); err != nil {
		return err
	}
	for i, model := range r.Models {
		if err := check(fmt.Sprintf("models[%d].parameters", i), model.Parameters, perModel); err != nil {
			return err
		}
	}
	// A Multi parameter given as a list means one output per value.
	p.variants = []merge.Params{{}}
	for _, prm := range m.Params {
		s, ok := r.Parameters[prm.Name]
		if !prm.Multi || !ok || s.Gradient == nil {
			continue
		}
		vs, err := m.Expand(merge.Params{prm.Name: s.Gradient})
		if err != nil {
			return errorf("parameters."+prm.Name, "%v", err)
		}
		p.variants = vs
	}
	// Required parameters must be set for every model (or globally).
	for _, prm := range m.Params {
		if !prm.Required {
			continue
		}
		if _, global := r.Parameters[prm.Name]; global {
			continue
		}
		if !prm.PerModel {
			return errorf("parameters."+prm.Name, "missing: %s needs it (%s)", m.Name, prm.Doc)
		}
		for i, model := range r.Models {
			if model.Path == r.BaseModel && p.usesBase() {
				continue
			}
			if _, ok := model.Parameters[prm.Name]; !ok {
				return errorf(fmt.Sprintf("models[%d].parameters.%s", i, prm.Name), "missing: %s needs it for every model (%s)", m.Name, prm.Doc)
			}
		}
	}
	return nil
}

// checkSetting checks every value a setting can take against the parameter.
func checkSetting(prm *merge.Param, s recipe.Setting, where string) error {
	switch {
	case prm.Type == merge.StringList:
		if s.Conds != nil || s.Gradient != nil {
			return errorf(where, "expected a list of strings")
		}
		if s.Strings != nil {
			return nil
		}
		return wrapCheck(prm.Check(s.Scalar, where))
	case prm.Multi && s.Gradient != nil:
		for i, v := range s.Gradient {
			if err := prm.Check(v, fmt.Sprintf("%s[%d]", where, i)); err != nil {
				return wrapCheck(err)
			}
		}
		return nil
	}
	if s.Strings != nil && prm.Type != merge.String {
		return errorf(where, "expected %s, found a list of strings", prm.Type)
	}
	for _, v := range s.Leaves() {
		if err := prm.Check(v, where); err != nil {
			return wrapCheck(err)
		}
	}
	return nil
}

func wrapCheck(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Msg: err.Error()}
}

// usesBase reports whether the merge has a base model: the method needs one, or may
// take one and the recipe names it.
func (p *Plan) usesBase() bool {
	return p.Method.NeedsBase || (p.Method.OptionalBase && p.Recipe.BaseModel != "")
}

// checkModels checks the base model and the number of models, and splits the base
// from the other models.
func (p *Plan) checkModels() error {
	m, r := p.Method, p.Recipe
	if m.NeedsBase && r.BaseModel == "" {
		return errorf("base_model", "missing: %s needs a base model (the model the others were fine-tuned from); add base_model: PATH", m.Name)
	}
	for i, model := range r.Models {
		if p.usesBase() && model.Path == r.BaseModel {
			continue
		}
		p.modelIdx = append(p.modelIdx, i)
		p.ModelNames = append(p.ModelNames, model.Path)
	}
	if !p.usesBase() && r.BaseModel != "" && !slices.Contains(p.ModelNames, r.BaseModel) {
		return errorf("base_model", "%s takes no base model; list %s under models to include it, or remove base_model", m.Name, r.BaseModel)
	}
	n := len(p.modelIdx)
	what := "models"
	if p.usesBase() {
		what = "models besides the base"
	}
	// "1 model", "2 models"
	count := func(k int) string {
		if k == 1 {
			return "1 " + strings.Replace(what, "models", "model", 1)
		}
		return strconv.Itoa(k) + " " + what
	}
	if n < m.MinModels {
		return errorf("models", "%s needs at least %s, the recipe has %d", m.Name, count(m.MinModels), n)
	}
	if m.MaxModels > 0 && n > m.MaxModels {
		return errorf("models", "%s takes at most %s, the recipe has %d", m.Name, count(m.MaxModels), n)
	}
	return nil
}

// checkOptions turns the recipe's `ladle:` block into the method's options.
func (p *Plan) checkOptions() error {
	o, m := p.Recipe.Ladle, p.Method
	set := map[string]any{}
	if o.TrimScope != "" && o.TrimScope != recipe.DefaultTrimScope {
		set["trim_scope"] = o.TrimScope
	}
	if o.RescaleMode != "" && o.RescaleMode != recipe.DefaultRescaleMod {
		set["rescale_mode"] = o.RescaleMode
	}
	if o.Sparse != "" {
		set["sparse"] = o.Sparse
	}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if _, ok := m.Param(k); !ok {
			return errorf("ladle."+k, "does not apply to %s", m.Name)
		}
	}
	opts, err := m.ParseOptions(set)
	if err != nil {
		return errorf("ladle", "%v", err)
	}
	opts.AllowNonFinite = o.AllowNonFinite
	p.options = opts
	if opts.TrimScope == merge.TrimModel {
		// A model-wide trim keeps one share of the whole model: density cannot vary by tensor.
		for i, model := range p.Recipe.Models {
			if s, ok := model.Parameters["density"]; ok && s.Scalar == nil {
				return errorf(fmt.Sprintf("models[%d].parameters.density", i), "with trim_scope: model the density must be one number for the whole model, not a gradient or filter list")
			}
		}
		if s, ok := p.Recipe.Parameters["density"]; ok && s.Scalar == nil {
			return errorf("parameters.density", "with trim_scope: model the density must be one number for the whole model, not a gradient or filter list")
		}
	}
	return nil
}

func (p *Plan) checkDTypes() error {
	r := p.Recipe
	if r.DType != "" {
		d, err := dtype.ParseLoose(r.DType)
		if err != nil || !d.IsFloat() {
			return errorf("dtype", "%q is not a floating-point type (float32, float16, bfloat16)", r.DType)
		}
		// Ladle always computes in float32 with float64 reductions: narrower inputs are
		// widened exactly, so a float16 or bfloat16 `dtype` loses nothing.
	}
	if r.OutDType != "" {
		d, err := dtype.ParseLoose(r.OutDType)
		if err != nil {
			return errorf("out_dtype", "%v", err)
		}
		switch d {
		case dtype.F32, dtype.F16, dtype.BF16, dtype.F64:
		default:
			return errorf("out_dtype", "%s is not an output type Ladle writes (float32, float16, bfloat16, float64)", d)
		}
		p.OutDType = d
	}
	return nil
}

// openInputs opens the base and the models, each path once.
func (p *Plan) openInputs(open Opener) error {
	r := p.Recipe
	cache := map[string]ckpt.Source{}
	get := func(path, where string) (ckpt.Source, error) {
		if src, ok := cache[path]; ok {
			return src, nil
		}
		src, err := open(path)
		if err != nil {
			return nil, errorf(where, "cannot open %s: %v", path, err)
		}
		cache[path] = src
		p.opened = append(p.opened, src)
		return src, nil
	}
	if p.usesBase() {
		src, err := get(r.BaseModel, "base_model")
		if err != nil {
			return err
		}
		p.Base = src
	}
	for _, i := range p.modelIdx {
		src, err := get(r.Models[i].Path, fmt.Sprintf("models[%d]", i))
		if err != nil {
			return err
		}
		p.Models = append(p.Models, src)
	}
	p.ref = p.Base
	if p.ref == nil {
		p.ref = p.Models[0]
	}
	p.inputs = p.ref.Tensors()
	if len(p.inputs) == 0 {
		return errorf(p.refName(), "the checkpoint holds no tensors")
	}
	return nil
}

func (p *Plan) refName() string {
	if p.Base != nil {
		return "base_model " + p.Recipe.BaseModel
	}
	return "models[0] " + p.ModelNames[0]
}

// checkTensors requires every model to hold the reference's tensors with the same
// shapes, and float tensors to be float everywhere.
func (p *Plan) checkTensors() error {
	for k, src := range p.Models {
		if src == p.ref {
			continue
		}
		name := fmt.Sprintf("models[%d] %s", p.modelIdx[k], p.ModelNames[k])
		if err := compareTensors(p.ref, src, p.refName(), name, p.Method.PartialModels); err != nil {
			return err
		}
	}
	p.merged = nil
	for _, t := range p.inputs {
		if t.DType.IsFloat() {
			p.merged = append(p.merged, t)
		}
	}
	// A merged tensor keeps its input's dtype unless out_dtype says otherwise, and
	// Ladle reads more float types (F8) than it writes: say so now, not after the
	// merge has run up to that tensor.
	if p.OutDType == dtype.Invalid {
		for _, t := range p.merged {
			switch t.DType {
			case dtype.F32, dtype.F16, dtype.BF16, dtype.F64:
				continue
			}
			return errorf("out_dtype", "missing: tensor %q is %s in %s, a type Ladle reads but does not write, so the merged tensor needs another type; set out_dtype: bfloat16 (or float16, float32)",
				t.Name, t.DType, p.refName())
		}
	}
	return nil
}

// compareTensors lists, by name, what other lacks, has extra, or shapes differently
// from ref. partial lets other hold a subset (RWS signatures).
func compareTensors(ref, other ckpt.Source, refName, otherName string, partial bool) error {
	want := map[string]ckpt.Info{}
	for _, t := range ref.Tensors() {
		want[t.Name] = t
	}
	have := map[string]bool{}
	var missing, extra, shapes, kinds []string
	for _, t := range other.Tensors() {
		if partial && strings.HasSuffix(t.Name, merge.RangeSuffix) {
			continue
		}
		have[t.Name] = true
		w, ok := want[t.Name]
		switch {
		case !ok:
			extra = append(extra, ckpt.DisplayName(t.Name))
		case !slices.Equal(w.Shape, t.Shape):
			shapes = append(shapes, fmt.Sprintf("%s (%v here, %v in %s)", ckpt.DisplayName(t.Name), t.Shape, w.Shape, refName))
		case w.DType.IsFloat() != t.DType.IsFloat() && !partial: // signatures may hold U8 codes
			kinds = append(kinds, fmt.Sprintf("%s (%s here, %s in %s)", ckpt.DisplayName(t.Name), t.DType, w.DType, refName))
		}
	}
	if !partial {
		for _, t := range ref.Tensors() {
			if !have[t.Name] {
				missing = append(missing, ckpt.DisplayName(t.Name))
			}
		}
	}
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("lacks %d tensor(s) that %s has: %s", len(missing), refName, abbreviate(missing)))
	}
	if len(extra) > 0 {
		problems = append(problems, fmt.Sprintf("has %d tensor(s) that %s lacks: %s", len(extra), refName, abbreviate(extra)))
	}
	if len(shapes) > 0 {
		problems = append(problems, fmt.Sprintf("has %d tensor(s) of another shape: %s", len(shapes), abbreviate(shapes)))
	}
	if len(kinds) > 0 {
		problems = append(problems, fmt.Sprintf("has %d tensor(s) that are integer in one model and floating-point in the other: %s", len(kinds), abbreviate(kinds)))
	}
	if len(problems) > 0 {
		return errorf(otherName, "%s; the models must share one architecture (compare them with `ladle inspect`)", strings.Join(problems, "; "))
	}
	return nil
}

func abbreviate(names []string) string {
	const show = 5
	if len(names) <= show {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:show], ", "), len(names)-show)
}

// Close closes every input the plan opened.
func (p *Plan) Close() error {
	var first error
	for _, q := range p.slices {
		if err := q.Close(); err != nil && first == nil {
			first = err
		}
	}
	for _, src := range p.opened {
		if err := src.Close(); err != nil && first == nil {
			first = err
		}
	}
	p.opened = nil
	return first
}

// Outputs is how many checkpoints Execute can write: one per value of a list-valued
// Multi parameter, else 1.
func (p *Plan) Outputs() int { return len(p.variants) }

// OutputLabel names output v for file names ("alpha-0.3"), "" when there is one output.
func (p *Plan) OutputLabel(v int) string {
	if len(p.variants) <= 1 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(p.variants[v])) {
		parts = append(parts, fmt.Sprintf("%s-%v", k, p.variants[v][k]))
	}
	return strings.Join(parts, "_")
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "no parameters"
	}
	return strings.Join(xs, ", ")
}
