package engine

import (
	"context"
	"slices"

	"ladle/core/analyze"
	"ladle/core/ckpt"
	"ladle/core/plan"
)

// The analyze request (page → worker) and its answer.
const (
	TypeAnalyze  = "analyze"
	TypeAnalyzed = "analyzed"
)

// AnalyzeRequest is the analyze request's settings: which of the request's files
// (by name, as a recipe names them) is the base and which are the models.
type AnalyzeRequest struct {
	Base string `json:"base"`
	// Models are the models in order; empty means every file but the base.
	Models []string `json:"models,omitempty"`
	// Density is the TIES density of ties_agree; nil means analyze.DefaultDensity.
	Density *float64 `json:"density,omitempty"`
}

// Analyzed answers an analyze request with what `ladle analyze --json` prints.
type Analyzed struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Result  *analyze.Result `json:"result"`
	Seconds float64         `json:"seconds"`
}

// analyze measures task vectors tensor by tensor (package ladle/core/analyze), sending
// progress as a merge does: tensors and bytes read.
func (e *Engine) analyze(ctx context.Context, req Request, files []File) {
	start := e.env.Now()
	a := req.Analyze
	if a == nil || a.Base == "" {
		e.fail(req.ID, &requestError{where: "analyze", msg: "an analyze request needs analyze.base: the name of the base model's file"})
		return
	}
	density := analyze.DefaultDensity
	if a.Density != nil {
		density = *a.Density
	}
	names := a.Models
	if len(names) == 0 {
		for _, f := range files {
			if f.Name != a.Base {
				names = append(names, f.Name)
			}
		}
	}
	open := Opener(files)
	var sources []ckpt.Source
	defer func() {
		for _, s := range sources {
			s.Close()
		}
	}()
	input := func(name string) (analyze.Input, error) {
		src, err := open(name)
		if err == errNoSuchFile {
			var have []string
			for _, f := range files {
				have = append(have, f.Name)
			}
			return analyze.Input{}, &missingFileError{name: name, have: have}
		}
		if err != nil {
			return analyze.Input{}, err
		}
		sources = append(sources, src)
		return analyze.Input{Name: name, Source: src}, nil
	}
	base, err := input(a.Base)
	if err != nil {
		e.fail(req.ID, err)
		return
	}
	var models []analyze.Input
	for _, n := range names {
		m, err := input(n)
		if err != nil {
			e.fail(req.ID, err)
			return
		}
		models = append(models, m)
	}
	shared, err := analyze.Shared(base, models)
	if err != nil {
		e.fail(req.ID, err)
		return
	}
	var total int64
	for _, t := range shared {
		total += t.Bytes() * int64(len(models)+1)
	}
	var done int64
	progress := e.progressFunc(req.ID)
	res, err := analyze.Analyze(ctx, base, models, analyze.Options{Density: density, Progress: func(n, of int, tensor string) {
		i := slices.IndexFunc(shared, func(t ckpt.Info) bool { return t.Name == tensor })
		if i >= 0 {
			done += shared[i].Bytes() * int64(len(models)+1)
		}
		progress(plan.Progress{Tensor: tensor, TensorsDone: n, TensorsTotal: of, BytesDone: done, BytesTotal: total})
	}})
	if ctx.Err() != nil {
		e.post(Cancelled{Type: TypeCancelled, ID: req.ID})
		return
	}
	if err != nil {
		e.fail(req.ID, err)
		return
	}
	e.post(Analyzed{Type: TypeAnalyzed, ID: req.ID, Result: res, Seconds: e.env.Now().Sub(start).Seconds()})
}
