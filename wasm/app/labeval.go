//go:build js && wasm

package main

import (
	"sync"

	"ladle/ui/state"
	"ladle/ui/wire"
)

// job is one evaluate request of a sweep or a lab measurement: a model file or a
// recipe to merge, on a dataset split.
type job struct {
	data, split, arch string
	model             string
	recipe, name      string
}

// runJobs sends each job as its own evaluate request, each worker taking the next job
// when it has answered one, so that results arrive in about the jobs' order. onRow
// gets each answer (from a goroutine); runJobs returns when all are answered, with the
// first failure of a whole request ("" when none).
func (h *host) runJobs(r *evalRun, jobs []job, files input, onRow func(i int, row state.EvalRow)) string {
	next := make(chan int, len(jobs))
	for i := range jobs {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := ""
	for w := range min(h.pool.size(), len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if r.stopped() {
					return
				}
				j := jobs[i]
				spec := map[string]any{"data": j.data, "split": j.split}
				if j.arch != "" {
					spec["arch"] = j.arch
				}
				if j.model != "" {
					spec["models"] = []any{j.model}
				} else {
					spec["recipes"] = []any{map[string]any{"name": j.name, "recipe": j.recipe}}
				}
				rid, ch := h.pool.request(w, map[string]any{"type": wire.TypeEvaluate, "files": files.jsFiles(), "names": files.jsNames(), "eval": spec})
				r.add(rid, w)
				m := final(ch)
				switch str(m.Get("type")) {
				case wire.TypeEvaluated:
					if rows := evalRows(evalResults(m)); len(rows) == 1 {
						onRow(i, rows[0])
					}
				case wire.TypeCancelled:
					return
				default:
					mu.Lock()
					if failed == "" {
						failed = errorText(m)
					}
					mu.Unlock()
					h.cancelRun(r)
					return
				}
			}
		}()
	}
	wg.Wait()
	return failed
}

// MeasureLab recomputes the open lab's table and curve in the tab: each ingredient
// evaluated, each recipe merged and evaluated, each curve point merged and evaluated,
// on the lab's dataset, spread over the workers.
func (h *host) MeasureLab() {
	lab, name := h.app.Labs.Lab, h.app.Labs.Open
	if lab == nil || lab.Data == "" || h.pool == nil || h.app.Labs.Live.Running {
		return
	}
	h.cancelRun(h.labCur)
	r := &evalRun{reqs: map[string]int{}}
	h.labCur = r
	id, labJobs := h.app.StartLabLive()
	files := h.allFiles()
	go func() {
		texts := map[string]string{}
		jobs := make([]job, len(labJobs))
		for i, lj := range labJobs {
			j := job{data: lab.Data, split: lj.Split, model: lj.Model, recipe: lj.RecipeText, name: lj.Key}
			if lj.Recipe != "" {
				text, ok := texts[lj.Recipe]
				if !ok {
					t, err := fetchText(labsRoot + name + "/" + lj.Recipe)
					if err != nil {
						h.update(func() { h.app.OnLabLiveEnd(id, err.Error()) })
						return
					}
					text, texts[lj.Recipe] = t, t
				}
				j.recipe = text
			}
			jobs[i] = j
		}
		failed := h.runJobs(r, jobs, files, func(i int, row state.EvalRow) {
			h.update(func() { h.app.OnLabJob(id, labJobs[i], row) })
		})
		if failed == "" && r.stopped() {
			failed = "Stopped."
		}
		h.update(func() { h.app.OnLabLiveEnd(id, failed) })
	}()
}
