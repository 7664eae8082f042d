//go:build js && wasm

package main

import (
	"encoding/json"
	"sync"
	"syscall/js"
	"time"

	"ladle/core/analyze"
	"ladle/ui/wire"
)

// analysisReq is the analysis in flight: its request, so that Cancel can reach it.
type analysisReq struct {
	mu  sync.Mutex
	id  string
	run int
}

// Analyze sends the analysis view's base and models to one engine worker, which
// reads them tensor by tensor (ladle/core/analyze) and answers ladle analyze --json's
// numbers. The render lock is held.
func (h *host) Analyze() {
	if !h.app.CanAnalyze() || h.pool == nil {
		return
	}
	base, models := h.app.AnalysisBase(), h.app.AnalysisModels()
	density, err := h.app.AnalysisDensity()
	if err != nil {
		return
	}
	var files input
	for _, name := range append([]string{base}, models...) {
		if in, ok := h.files[name]; ok {
			files.files = append(files.files, in.files...)
			files.names = append(files.names, in.names...)
		}
	}
	run := h.app.StartAnalysis(time.Now())
	names := make([]any, len(models))
	for i, m := range models {
		names[i] = m
	}
	id, ch := h.pool.request(0, map[string]any{"type": wire.TypeAnalyze, "files": files.jsFiles(), "names": files.jsNames(),
		"analyze": map[string]any{"base": base, "models": names, "density": density}})
	h.analysis.mu.Lock()
	h.analysis.id, h.analysis.run = id, run
	h.analysis.mu.Unlock()
	go func() {
		var last time.Time
		for m := range ch {
			switch str(m.Get("type")) {
			case wire.TypeProgress:
				if now := time.Now(); now.Sub(last) >= progressEvery {
					last = now
					p := progress(m)
					h.update(func() { h.app.OnAnalysisProgress(run, p) })
				}
				continue
			case wire.TypeAnalyzed:
				raw := jsonStringify(m.Get("result"))
				var res analyze.Result
				if err := json.Unmarshal([]byte(raw), &res); err != nil {
					h.update(func() { h.app.OnAnalysisEnd(run, "The engine's analysis could not be read: "+err.Error()) })
					return
				}
				h.update(func() { h.app.OnAnalyzed(run, base, density, &res, time.Now()) })
			case wire.TypeCancelled:
				h.update(func() { h.app.OnAnalysisEnd(run, "") })
			default:
				msg := errorText(m)
				h.update(func() { h.app.OnAnalysisEnd(run, "The analysis failed: "+msg) })
			}
			return
		}
	}()
}

// CancelAnalysis stops the analysis in flight.
func (h *host) CancelAnalysis() {
	h.analysis.mu.Lock()
	id := h.analysis.id
	h.analysis.mu.Unlock()
	if id != "" && h.app.Analysis.Running {
		h.pool.cancel(0, id)
	}
}

// jsonStringify is JSON.stringify(v).
func jsonStringify(v js.Value) string {
	return js.Global().Get("JSON").Call("stringify", v).String()
}
