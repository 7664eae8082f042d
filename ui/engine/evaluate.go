package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/compute"
	"ladle/core/eval"
	"ladle/core/nn"
	"ladle/core/plan"
	"ladle/core/recipe"
	"ladle/ui/wire"
)

// TypeEvaluate asks for the accuracy, loss and sample count of models on a dataset;
// TypeEvaluated answers it.
const (
	TypeEvaluate  = "evaluate"
	TypeEvaluated = "evaluated"
)

// NamedRecipe is a recipe an evaluate request merges in memory and then evaluates
// under Name (a sweep point: "alpha=0.3").
type NamedRecipe struct {
	Name   string `json:"name"`
	Recipe string `json:"recipe"`
}

// EvalSpec is what an evaluate request asks, beside its files.
type EvalSpec struct {
	// Models names the files to evaluate (as a merge recipe names them).
	Models []string `json:"models,omitempty"`
	// Recipes are merged (as one whole request would) and the results evaluated, after
	// Models.
	Recipes []NamedRecipe `json:"recipes,omitempty"`
	// Data names the dataset file among the files; Split picks x.NAME/y.NAME ("" or
	// "test": x and y).
	Data  string `json:"data"`
	Split string `json:"split,omitempty"`
	// Arch is an ARCH.json text for every model; "" uses each checkpoint's ladle.arch.
	Arch string `json:"arch,omitempty"`
}

// EvalResult is one model's score, with numbers as the exact decimal strings that
// `ladle eval --json` prints for the same file, split and architecture; Error is set
// instead when the model could not be evaluated.
type EvalResult struct {
	Model    string  `json:"model"`
	Accuracy string  `json:"accuracy,omitempty"`
	Loss     string  `json:"loss,omitempty"`
	N        string  `json:"n,omitempty"`
	Error    string  `json:"error,omitempty"`
	Seconds  float64 `json:"seconds"`
	// Part is set, and the figures are not, in the answer to a part of a split
	// evaluation: the page joins the parts with wire.CombineEval.
	Part *EvalPart `json:"part,omitempty"`
}

// EvalPart is one part's partial score: where its samples start, how many were
// classified right, and each one's loss (eval.Part).
type EvalPart = wire.EvalPart

// Evaluated answers an evaluate request: one result per model, then per recipe, in
// the request's order.
type Evaluated struct {
	Type    string       `json:"type"`
	ID      string       `json:"id"`
	Results []EvalResult `json:"results"`
	Seconds float64      `json:"seconds"`
}

// EvalProgress reports a running evaluation: the models done and the samples of the
// current one.
type EvalProgress struct {
	Type         string `json:"type"`
	ID           string `json:"id"`
	ModelsDone   int    `json:"modelsDone"`
	ModelsTotal  int    `json:"modelsTotal"`
	SamplesDone  int    `json:"samplesDone"`
	SamplesTotal int    `json:"samplesTotal"`
	Model        string `json:"model"`
}

// FormatNumber writes a number as `ladle eval --json` does (encoding/json's float64
// and int forms), so that the page shows exactly the command's strings.
func FormatNumber(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// evaluate runs an evaluate request: the dataset is read once, then each model and
// each recipe's merge is evaluated in turn. A model that cannot be evaluated gets an
// error in its row; a dataset that cannot be read fails the request.
func (e *Engine) evaluate(ctx context.Context, req Request, files []File) {
	start := e.env.Now()
	spec := req.Eval
	if spec == nil || len(spec.Models)+len(spec.Recipes) == 0 {
		e.fail(req.ID, &requestError{where: "models", msg: "nothing to evaluate: name models or recipes"})
		return
	}
	if spec.Data == "" {
		e.fail(req.ID, &requestError{where: "data", msg: "no dataset: give data, the name of a dataset file (a safetensors file with x and y)"})
		return
	}
	if p := req.Part; p != nil && (p.Count < 1 || p.Index < 0 || p.Index >= p.Count || len(spec.Models) != 1 || len(spec.Recipes) != 0) {
		e.fail(req.ID, &requestError{where: "part", msg: fmt.Sprintf("part {index: %d, count: %d} of an evaluation: want 0 <= index < count and exactly one model (no recipes)", p.Index, p.Count)})
		return
	}
	open := Opener(files)
	data, err := loadData(open, spec.Data, spec.Split)
	if err != nil {
		e.fail(req.ID, err)
		return
	}
	var arch *nn.Arch
	if spec.Arch != "" {
		if arch, err = nn.ParseArch([]byte(spec.Arch)); err != nil {
			e.fail(req.ID, &requestError{where: "arch", msg: "the architecture (ARCH.json) is not valid: " + err.Error()})
			return
		}
	}
	total := len(spec.Models) + len(spec.Recipes)
	prog := e.evalProgress(req.ID, total)
	results := make([]EvalResult, 0, total)
	for i := range total {
		t0 := e.env.Now()
		var r EvalResult
		var err error
		if i < len(spec.Models) {
			r.Model = spec.Models[i]
			r, err = e.evalModel(ctx, r.Model, open, arch, data, req.Part, func(d, n int) { prog(i, d, n, r.Model) })
		} else {
			nr := spec.Recipes[i-len(spec.Models)]
			r, err = e.evalRecipe(ctx, nr, req, files, arch, data, func(d, n int) { prog(i, d, n, nr.Name) })
		}
		if ctx.Err() != nil {
			e.post(Cancelled{Type: TypeCancelled, ID: req.ID})
			return
		}
		if err != nil {
			r.Error = Describe(err).Message
		}
		r.Seconds = e.env.Now().Sub(t0).Seconds()
		results = append(results, r)
	}
	prog(total, 0, 0, "")
	e.post(Evaluated{Type: TypeEvaluated, ID: req.ID, Results: results, Seconds: e.env.Now().Sub(start).Seconds()})
}

// loadData reads one split of the dataset file named name.
func loadData(open func(string) (ckpt.Source, error), name, split string) (*eval.Dataset, error) {
	src, err := open(name)
	if errors.Is(err, errNoSuchFile) {
		return nil, &requestError{where: "data", msg: fmt.Sprintf("no dataset file named %q was sent", name)}
	}
	if err != nil {
		return nil, err
	}
	defer src.Close()
	d, err := eval.FromSource(src, split)
	if err != nil {
		return nil, &ckpt.FormatError{File: name, Msg: err.Error()}
	}
	return d, nil
}

// evalModel evaluates one checkpoint among the request's files.
func (e *Engine) evalModel(ctx context.Context, name string, open func(string) (ckpt.Source, error), arch *nn.Arch, data *eval.Dataset, part *Part, progress func(done, total int)) (EvalResult, error) {
	r := EvalResult{Model: name}
	src, err := open(name)
	if errors.Is(err, errNoSuchFile) {
		return r, fmt.Errorf("no file named %q was sent", name)
	}
	if err != nil {
		return r, err
	}
	defer src.Close()
	return evalSource(ctx, r, src, arch, data, part, progress)
}

// evalSource evaluates an opened checkpoint: arch, else its own ladle.arch. With a
// part, only that part of the samples (eval.SplitSamples), and the answer holds their
// losses instead of the figures.
func evalSource(ctx context.Context, r EvalResult, src ckpt.Source, arch *nn.Arch, data *eval.Dataset, part *Part, progress func(done, total int)) (EvalResult, error) {
	if arch == nil {
		if _, ok := src.Metadata()[nn.MetadataKey]; !ok { // (nn's message gives the command's --arch)
			return r, fmt.Errorf("%s: the checkpoint carries no architecture (no %q metadata): drop an ARCH.json that describes it, and every model is evaluated with it", r.Model, nn.MetadataKey)
		}
		a, err := nn.ArchOf(src)
		if err != nil {
			return r, named(r.Model, err)
		}
		arch = a
	}
	tensors, err := nn.ReadTensors(arch, src)
	if err != nil {
		return r, named(r.Model, err)
	}
	m, err := nn.NewModel(arch, tensors)
	if err != nil {
		return r, named(r.Model, err)
	}
	// On the CPU, exact: the same bits as ladle eval on any machine. A GPU forwarder
	// (WebGPU in the page) sums in its own order: its figures agree with ladle eval's
	// up to that rounding (package compute).
	m.SetExact(true)
	m.SetForwarder(compute.FromContext(ctx).Forward)
	if part != nil {
		b := eval.SplitSamples(data.Len(), part.Count)
		p, err := eval.EvaluatePart(ctx, m, data, b[part.Index], b[part.Index+1], eval.DefaultBatch, progress)
		if err != nil {
			return r, err
		}
		r.Part = &p
		return r, nil
	}
	res, err := eval.EvaluateContext(ctx, m, data, eval.DefaultBatch, progress)
	if err != nil {
		return r, err
	}
	r.Accuracy, r.Loss, r.N = FormatNumber(res.Accuracy), FormatNumber(res.Loss), FormatNumber(res.N)
	return r, nil
}

// evalRecipe merges a recipe into memory, as one whole merge request would, and
// evaluates the result.
func (e *Engine) evalRecipe(ctx context.Context, nr NamedRecipe, req Request, files []File, arch *nn.Arch, data *eval.Dataset, progress func(done, total int)) (EvalResult, error) {
	r := EvalResult{Model: nr.Name}
	rec, err := recipe.Parse([]byte(nr.Recipe), "", "")
	if err != nil {
		return r, err
	}
	open := Opener(files)
	p, err := plan.Prepare(rec, func(name string) (ckpt.Source, error) {
		src, err := open(name)
		if errors.Is(err, errNoSuchFile) {
			return nil, fmt.Errorf("no file named %q was sent", name)
		}
		return src, err
	})
	if err != nil {
		return r, err
	}
	defer p.Close()
	opts := plan.Options{Threads: req.Threads, Compute: compute.FromContext(ctx).Merge}
	if req.Seed != nil {
		opts.Seed, opts.SeedSet = *req.Seed, true
	}
	var buf bytes.Buffer
	if err := runWhole(ctx, p, &buf, opts); err != nil {
		return r, err
	}
	src, err := safetensors.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()), nr.Name)
	if err != nil {
		return r, err
	}
	defer src.Close()
	return evalSource(ctx, r, src, arch, data, nil, progress)
}

// evalProgress rate-limits an evaluation's progress messages like a merge's.
func (e *Engine) evalProgress(id string, total int) func(model, done, n int, name string) {
	var last time.Time
	return func(model, done, n int, name string) {
		now := e.env.Now()
		final := model >= total
		if !final && e.env.ProgressEvery > 0 && !last.IsZero() && now.Sub(last) < e.env.ProgressEvery {
			return
		}
		last = now
		e.post(EvalProgress{Type: TypeProgress, ID: id, ModelsDone: model, ModelsTotal: total, SamplesDone: done, SamplesTotal: n, Model: name})
	}
}

// named prefixes an error with the model's name, unless it already starts with it.
func named(name string, err error) error {
	if strings.HasPrefix(err.Error(), name+": ") {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}
