package plan

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"strings"

	"ladle/core/ckpt"
	"ladle/core/eval"
	"ladle/core/merge"
	"ladle/core/nn"
)

// Whole-model steps. Two things a merge may need cannot stream tensor by tensor: a
// method's selection step (merge.Method.Select) evaluates candidate merges, and the
// alignment step (SetAlign) permutes whole models. Both are meant for the small models
// an evaluator can run; they hold every model in memory (as float32) while they work.
// Preprocess runs them before the streaming merge, which then proceeds as usual: a
// selection merges only the chosen models, and aligned models are read from in-memory
// checkpoints.

// ReadFile reads a file a recipe names that is not a checkpoint: the ARCH.json of
// ladle.eval.arch.
type ReadFile func(path string) ([]byte, error)

// FileReader reads files from disk, relative paths resolving against dir (the recipe
// file's folder), as FileOpener does for checkpoints.
func FileReader(dir string) ReadFile {
	return func(path string) ([]byte, error) {
		if !filepath.IsAbs(path) && dir != "" {
			path = filepath.Join(dir, path)
		}
		return ckpt.ReadInputFile(path)
	}
}

// checkEval requires an evaluator for the methods that need one, before anything is
// opened.
func (p *Plan) checkEval() error {
	if p.Method.NeedsEval && p.Recipe.Ladle.Eval == nil {
		return errorf("ladle.eval", "missing: %s scores candidate merges on held-out data; add ladle: {eval: {arch: ARCH.json, data: DATA.safetensors, split: val}} "+
			"(arch may be left out when the checkpoints carry ladle.arch metadata; paths resolve against the recipe's folder)", p.Method.Name)
	}
	return nil
}

// resolveArch finds the architecture for evaluation and alignment: ladle.eval.arch,
// else the reference model's ladle.arch metadata; and checks, from the headers,
// that the reference model fits it.
func (p *Plan) resolveArch() error {
	if p.arch != nil {
		return nil
	}
	const where = "ladle.eval.arch"
	var arch *nn.Arch
	if e := p.Recipe.Ladle.Eval; e != nil && e.Arch != "" {
		b, err := p.read(e.Arch)
		if err != nil {
			return errorf(where, "cannot read %s: %v", e.Arch, err)
		}
		if arch, err = nn.ParseArch(b); err != nil {
			return errorf(where, "%s: %v", e.Arch, err)
		}
	} else {
		var err error
		if arch, err = nn.ArchOf(p.ref); err != nil {
			return errorf(where, "missing: the architecture comes from ladle: {eval: {arch: ARCH.json}} or from the models' ladle.arch metadata, and %s carries none", p.ref.Path())
		}
	}
	// Bind the arch to zeros of the reference's shapes: the same checks as Load,
	// without reading any data.
	infos := map[string]ckpt.Info{}
	zeros := map[string]nn.Tensor{}
	for _, t := range p.ref.Tensors() {
		infos[t.Name] = t
		n := t.NumElements()
		if !t.DType.IsFloat() || n < 0 || n > math.MaxInt32 {
			continue
		}
		shape := make([]int, len(t.Shape))
		for i, d := range t.Shape {
			shape[i] = int(d)
		}
		zeros[t.Name] = nn.Tensor{Shape: shape, Data: make([]float32, n)}
	}
	if _, err := nn.NewModel(arch, zeros); err != nil {
		if strings.Contains(err.Error(), "no tensor") {
			for name, t := range infos {
				if !t.DType.IsFloat() && strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
					return errorf(where, "%s: tensor %q is %s; the weights an arch reads must be floating-point", p.ref.Path(), name, t.DType)
				}
			}
		}
		return errorf(where, "%s does not fit the architecture: %v", p.ref.Path(), err)
	}
	p.arch = arch
	return nil
}

// prepareEval opens the evaluator's data and checks it against the architecture.
func (p *Plan) prepareEval(open Opener) error {
	e := p.Recipe.Ladle.Eval
	if err := p.resolveArch(); err != nil {
		return err
	}
	src, err := open(e.Data)
	if err != nil {
		return errorf("ladle.eval.data", "cannot open %s: %v", e.Data, err)
	}
	p.opened = append(p.opened, src)
	// split "test" is x/y when the file has them (eval.SplitTensors), as for `ladle eval`
	xName, yName := eval.SplitTensors(e.Split, func(name string) bool { _, ok := ckpt.Lookup(src, name); return ok })
	xi, okx := ckpt.Lookup(src, xName)
	_, oky := ckpt.Lookup(src, yName)
	if !okx || !oky {
		var have []string
		for _, s := range eval.Splits(src) {
			if s == "" {
				s = "(default)"
			}
			have = append(have, fmt.Sprintf("%q", s))
		}
		msg := "none"
		if len(have) > 0 {
			msg = strings.Join(have, ", ")
		}
		return errorf("ladle.eval.split", "%s has no split %q (tensors %s and %s); its splits: %s", e.Data, e.Split, xName, yName, msg)
	}
	if len(xi.Shape) == 0 {
		return errorf("ladle.eval.data", "%s: tensor %q is a scalar; want N × sample shape", e.Data, xName)
	}
	features := ckpt.NumElements(xi.Shape[1:])
	want := 1
	for _, d := range p.arch.InputShape {
		want *= d
	}
	if features != int64(want) {
		return errorf("ladle.eval.data", "%s: samples have shape %v (%d values), but the architecture's input_shape %v takes %d", e.Data, xi.Shape[1:], features, p.arch.InputShape, want)
	}
	p.evalData = src
	return nil
}

// Preprocess runs the whole-model steps before the streaming merge: the alignment
// asked for with SetAlign, then the method's selection step (merge.Method.Select).
// Call it after Prepare and before Metadata, so that the metadata records what they
// found; Execute runs it itself when it has not run yet. It runs once: later calls
// return the first outcome. Without whole-model steps it does nothing.
//
// For a merge.SelectGreedy selection, the models are scored on the held-out data of
// ladle.eval and the greedy selection made (eval.GreedySoup, with the method's
// StrictParam); afterwards Models, ModelNames and GreedyResult describe the chosen
// ingredients, best first, and Execute merges only them (integer tensors are taken
// from the best model).
func (p *Plan) Preprocess(ctx context.Context, opts Options) error {
	if p.prepped {
		return p.prepErr
	}
	p.prepped = true
	threads := opts.Threads
	if threads <= 0 {
		threads = p.Recipe.Ladle.Threads
	}
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	seed := p.seed
	if opts.SeedSet {
		seed = opts.Seed
	}
	if p.align {
		if p.prepErr = p.alignModels(ctx, seed); p.prepErr != nil {
			return p.prepErr
		}
	}
	if sel := p.Method.Select; sel != nil {
		switch sel.Kind {
		case merge.SelectGreedy:
			p.prepErr = p.selectGreedy(ctx, threads)
		default:
			p.prepErr = fmt.Errorf("%s declares a selection step (kind %d) this executor does not know", p.Method.Name, sel.Kind)
		}
	}
	return p.prepErr
}

// GreedyResult is a merge.SelectGreedy selection's outcome after Preprocess (nil
// before, and for methods without one). Its Soup is nil: the merge writes the soup.
func (p *Plan) GreedyResult() *eval.GreedyResult { return p.greedy }

func (p *Plan) selectGreedy(ctx context.Context, threads int) error {
	e := p.Recipe.Ladle.Eval
	data, err := eval.FromSource(p.evalData, e.Split)
	if err != nil {
		return fmt.Errorf("ladle.eval.data: %w", err)
	}
	tensors := make([]map[string]nn.Tensor, len(p.Models))
	read := map[ckpt.Source]map[string]nn.Tensor{}
	for k, src := range p.Models {
		if err := ctx.Err(); err != nil {
			return err
		}
		if ts, ok := read[src]; ok {
			tensors[k] = ts
			continue
		}
		ts, err := nn.ReadTensors(p.arch, src)
		if err != nil {
			return fmt.Errorf("models[%d]: %w", p.modelIdx[k], err)
		}
		read[src], tensors[k] = ts, ts
	}
	strict := p.strict()
	scorer := eval.AccuracyScorer(p.arch, data, 0, threads)
	score := func(ts map[string]nn.Tensor) (float64, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return scorer(ts)
	}
	res, err := eval.GreedySoup(p.ModelNames, tensors, score, strict)
	if err != nil {
		return err
	}
	res.Soup = nil
	p.greedy = res
	var models []ckpt.Source
	var idx []int
	var names []string
	for _, i := range res.Chosen {
		models = append(models, p.Models[i])
		idx = append(idx, p.modelIdx[i])
		names = append(names, p.ModelNames[i])
	}
	p.Models, p.modelIdx, p.ModelNames = models, idx, names
	p.copyFrom = models[0]
	return nil
}

// strict reads the selection's StrictParam.
func (p *Plan) strict() bool {
	sel := p.Method.Select
	if sel == nil || sel.StrictParam == "" {
		return false
	}
	v, _ := p.Recipe.Param(sel.StrictParam, -1, "", 0)
	b, _ := v.(bool)
	return b
}

// greedyMetadata is what a greedy selection records under its MetadataKey.
type greedyMetadata struct {
	Data        string            `json:"data"`
	Split       string            `json:"split,omitempty"`
	Strict      bool              `json:"strict"`
	Ingredients []string          `json:"ingredients"`
	Accuracy    float64           `json:"accuracy"`
	Steps       []eval.GreedyStep `json:"steps"`
	Individual  []float64         `json:"individual"`
}

// wholeModelMetadata adds the records of the whole-model steps to md.
func (p *Plan) wholeModelMetadata(md map[string]string) {
	if g := p.greedy; g != nil {
		e := p.Recipe.Ladle.Eval
		b, err := json.Marshal(greedyMetadata{Data: e.Data, Split: e.Split, Strict: p.strict(), Ingredients: g.Ingredients,
			Accuracy: g.Accuracy, Steps: g.Steps, Individual: g.Individual})
		if err == nil {
			md[p.Method.Select.MetadataKey] = string(b)
		}
	}
	if len(p.alignRep) > 0 {
		b, err := json.Marshal(alignMetadata{Reference: p.alignRef, Seed: p.alignSeed, Models: p.alignRep})
		if err == nil {
			md["ladle.align"] = string(b)
		}
	}
}
