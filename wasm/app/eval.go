//go:build js && wasm

package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"syscall/js"

	"ladle/ui/state"
	"ladle/ui/wire"
	"ladle/wasm/jsutil"
)

// The page's evaluation (ui.EvalHost): evaluate requests spread over the engine
// workers, the live curve's points merged and evaluated in them, and a merge result's
// greedy soup trace read from its header.

// evalRun is one evaluation or sweep: its requests, so that Stop can reach them.
type evalRun struct {
	mu        sync.Mutex
	reqs      map[string]int // request id → worker
	cancelled bool
}

func (r *evalRun) add(id string, w int) {
	r.mu.Lock()
	r.reqs[id] = w
	r.mu.Unlock()
}

func (r *evalRun) stopped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cancelled
}

// cancel stops every request of the run.
func (h *host) cancelRun(r *evalRun) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.cancelled = true
	reqs := make(map[string]int, len(r.reqs))
	for id, w := range r.reqs {
		reqs[id] = w
	}
	r.mu.Unlock()
	for id, w := range reqs {
		h.pool.cancel(w, id)
	}
}

// takeArch keeps the .json files of a drop that are not sharded indexes: each is read
// as the ARCH.json of evaluations; the other inputs are returned.
func (h *host) takeArch(files []input) []input {
	var rest []input
	for _, in := range files {
		name := strings.ToLower(in.names[0])
		if len(in.files) != 1 || !strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".index.json") {
			rest = append(rest, in)
			continue
		}
		f, fname := in.files[0], in.names[0]
		go func() {
			text, err := jsutil.Await(f.Call("text"))
			h.update(func() {
				if err != nil {
					h.app.SetNotice(fmt.Sprintf("%s could not be read: %v", fname, err))
					return
				}
				var spec struct {
					Layers []json.RawMessage `json:"layers"`
				}
				if json.Unmarshal([]byte(text.String()), &spec) != nil || len(spec.Layers) == 0 {
					h.app.SetNotice(fmt.Sprintf("%s is not an architecture (ARCH.json with input_shape and layers), nor a checkpoint.", fname))
					return
				}
				h.app.SetArch(fname, text.String())
			})
		}()
	}
	return rest
}

// evalFiles are the files of the named loaded models and of the dataset, and the
// result Blob (named state.ResultName) when withResult.
func (h *host) evalFiles(models []string, withResult bool) input {
	var in input
	add := func(name string) {
		if f, ok := h.files[name]; ok {
			in.files = append(in.files, f.files...)
			in.names = append(in.names, f.names...)
		}
	}
	for _, m := range models {
		add(m)
	}
	add(h.app.Eval.Dataset)
	if withResult && h.resultBlob.Truthy() {
		in.files = append(in.files, h.resultBlob)
		in.names = append(in.names, state.ResultName)
	}
	return in
}

// allFiles are every loaded file (models and datasets), as a merge gets them.
func (h *host) allFiles() input {
	var names []string
	for _, m := range h.app.Models {
		if m.Error == "" {
			names = append(names, m.Name)
		}
	}
	for _, d := range h.app.Datasets {
		names = append(names, d.Name)
	}
	return h.evalFiles(names, false)
}

func (h *host) evalSpec(models []string, recipes []wire.NamedRecipe) map[string]any {
	spec := map[string]any{"data": h.app.Eval.Dataset, "split": h.app.Eval.Split}
	if h.app.Eval.ArchText != "" {
		spec["arch"] = h.app.Eval.ArchText
	}
	if len(models) > 0 {
		spec["models"] = strs(models)
	}
	if len(recipes) > 0 {
		var rs []any
		for _, r := range recipes {
			rs = append(rs, map[string]any{"name": r.Name, "recipe": r.Recipe})
		}
		spec["recipes"] = rs
	}
	return spec
}

func strs(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// Evaluate scores every loaded model, and the result when there is one.
func (h *host) Evaluate() {
	if ok, _ := h.app.CanEvaluate(); !ok || h.pool == nil {
		return
	}
	h.evaluate(h.app.EvalModels(), h.app.ResultIsModel() && h.resultBlob.Truthy())
}

// evaluate starts scoring models (and the result) on the workers. The render lock is
// held.
func (h *host) evaluate(models []string, withResult bool) {
	names := append([]string(nil), models...)
	if withResult {
		names = append([]string{state.ResultName}, names...)
	}
	if len(names) == 0 {
		return
	}
	// An evaluation under way (the result's, after a merge) is superseded: cancelled,
	// and its late answers ignored (a new ID). A worker stops it between batches; a
	// forward pass on the GPU finishes first (its readback cannot be interrupted).
	h.cancelRun(h.evalCur)
	id := h.app.StartEval(names)
	r := &evalRun{reqs: map[string]int{}}
	h.evalCur = r
	// Idle workers take parts of a model's samples (state.PlanEval); the parts'
	// losses combine into exactly the whole evaluation's figures (wire.CombineEval).
	tasks := state.PlanEval(names, h.pool.size())
	h.app.SetEvalWorkers(id, state.EvalWorkers(tasks))
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := make([]float64, len(tasks))
	parts := map[string][]wire.EvalResult{} // a split model's answered parts
	failed := ""
	for k, task := range tasks {
		var ms []string
		res := false
		for _, n := range task.Models {
			if n == state.ResultName {
				res = true
			} else {
				ms = append(ms, n)
			}
		}
		if res {
			ms = append([]string{state.ResultName}, ms...)
		}
		files := h.evalFiles(ms, res)
		msg := map[string]any{"type": wire.TypeEvaluate, "files": files.jsFiles(), "names": files.jsNames(), "eval": h.evalSpec(ms, nil)}
		weight := 1.0 // of a model, in the progress
		if task.Parts > 1 {
			msg["part"] = map[string]any{"index": task.Part, "count": task.Parts}
			weight = 1 / float64(task.Parts)
		}
		rid, ch := h.pool.request(task.Worker, msg)
		r.add(rid, task.Worker)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range ch {
				switch str(m.Get("type")) {
				case wire.TypeProgress:
					f := num(m, "modelsDone")
					if t := num(m, "samplesTotal"); t > 0 {
						f += num(m, "samplesDone") / t
					}
					mu.Lock()
					done[k] = f * weight
					sum := 0.0
					for _, d := range done {
						sum += d
					}
					mu.Unlock()
					h.update(func() { h.app.OnEvalProgress(id, sum) })
				case wire.TypeEvaluated:
					res := evalResults(m)
					if task.Parts > 1 {
						mu.Lock()
						name := task.Models[0]
						parts[name] = append(parts[name], res...)
						complete := len(parts[name]) == task.Parts
						res = nil
						if complete {
							res = []wire.EvalResult{wire.CombineEval(parts[name])}
						}
						mu.Unlock()
					}
					if len(res) > 0 {
						rows := evalRows(res)
						h.update(func() { h.app.OnEvalRows(id, rows) })
					}
					return
				case wire.TypeCancelled:
					return
				default:
					mu.Lock()
					if failed == "" {
						failed = errorText(m)
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		msg := failed
		if r.stopped() {
			msg = "Stopped."
		}
		h.update(func() { h.app.OnEvalEnd(id, msg) })
	}()
}

// num reads a number field of a message (0 when absent).
func num(m js.Value, k string) float64 {
	v := m.Get(k)
	if v.Type() != js.TypeNumber {
		return 0
	}
	return v.Float()
}

// evalResults reads an evaluated answer's results.
func evalResults(m js.Value) []wire.EvalResult {
	var res []wire.EvalResult
	raw := js.Global().Get("JSON").Call("stringify", m.Get("results")).String()
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		return nil
	}
	return res
}

// evalRows are an evaluation's results as the table's rows.
func evalRows(res []wire.EvalResult) []state.EvalRow {
	rows := make([]state.EvalRow, len(res))
	for i, r := range res {
		rows[i] = state.EvalRow{Model: r.Model, Accuracy: r.Accuracy, Loss: r.Loss, N: r.N, Error: r.Error}
	}
	return rows
}

func (h *host) CancelEval() {
	h.cancelRun(h.evalCur)
	h.cancelRun(h.sweepCur)
	h.cancelRun(h.labCur)
}

// Sweep merges and evaluates the live curve's points, each worker taking the next
// point as it finishes one, so that points arrive in about grid order.
func (h *host) Sweep() {
	if ok, _ := h.app.CanSweep(); !ok || h.pool == nil {
		return
	}
	id, err := h.app.StartSweep()
	if err != nil {
		h.app.Sweep.Err = err.Error()
		return
	}
	h.cancelRun(h.sweepCur)
	r := &evalRun{reqs: map[string]int{}}
	h.sweepCur = r
	points := h.app.Sweep.Points
	jobs := make([]job, len(points))
	for i, p := range points {
		jobs[i] = job{data: h.app.Eval.Dataset, split: h.app.Eval.Split, arch: h.app.Eval.ArchText, recipe: p.Recipe, name: fmt.Sprintf("point %d", i)}
	}
	files := h.allFiles()
	go func() {
		msg := h.runJobs(r, jobs, files, func(i int, row state.EvalRow) {
			h.update(func() { h.app.OnSweepPoint(id, i, row) })
		})
		if msg == "" && r.stopped() {
			msg = "Stopped."
		}
		h.update(func() { h.app.OnSweepEnd(id, msg) })
	}()
}

// MergePoint loads a point's recipe into the editor and merges it as the result.
func (h *host) MergePoint(i int) {
	text := h.app.Sweep.PointRecipe(i)
	if text == "" {
		return
	}
	h.app.SetRecipeText(text)
	h.Run()
}

// afterMerge runs when a merge result is offered: its header is read, and then it is
// evaluated at once when a dataset is loaded (unless the header marks a signature,
// which is no network), and a greedy soup's trace is shown. The render lock is held.
func (h *host) afterMerge() {
	h.app.DropResultRow()
	h.app.SetGreedy(nil)
	blob := h.resultBlob
	if !blob.Truthy() {
		return
	}
	recipeText := h.app.RecipeText
	key := "" // where a whole-model selection records its trace
	if m := h.app.Method(); m != nil {
		key = m.SelectionKey
	}
	_, ch := h.pool.request(0, map[string]any{"type": wire.TypeInspect, "files": []any{blob}, "names": []any{state.ResultName}})
	go func() {
		m := final(ch)
		meta := js.Undefined()
		if str(m.Get("type")) == wire.TypeInspected {
			meta = m.Get("models").Index(0).Get("metadata")
		}
		has := func(k string) bool { return meta.Type() == js.TypeObject && meta.Get(k).Type() == js.TypeString }
		h.update(func() {
			if !h.resultBlob.Equal(blob) {
				return
			}
			h.app.SetResultSignature(has(state.SignatureKey))
			if h.app.ResultIsModel() && h.app.Eval.Dataset != "" && !h.app.Eval.Running {
				h.evaluate(nil, true)
			}
			if key == "" || !has(key) {
				return
			}
			g, err := state.ParseGreedyTrace(meta.Get(key).String(), h.app.RecipeModels(recipeText))
			if err != nil {
				h.app.SetNotice(err.Error())
				return
			}
			h.app.SetGreedy(g)
		})
	}()
}

// final waits for a request's final message, skipping progress.
func final(ch <-chan js.Value) js.Value {
	for m := range ch {
		if str(m.Get("type")) != wire.TypeProgress {
			return m
		}
	}
	return js.ValueOf(map[string]any{"type": "error", "error": map[string]any{"message": "the engine stopped answering"}})
}
