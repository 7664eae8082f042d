package plan

import (
	"context"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"

	"ladle/core/ckpt"
	"ladle/core/dtype"
	"ladle/core/merge"
	"ladle/core/recipe"
)

// Slices: mergekit's frankenmerge (`slices:` in a recipe). Each slice takes the same
// number of consecutive layers from each of its sources and merges them, with the
// recipe's method, into the next layers of the output: output layer j, the i-th of its
// slice, is layer FROM + i of each source, with the layer number in its names rewritten
// to j. A tensor's layer is the first all-digit component of its name. Tensors without
// a layer come from the first slice's sources, with its parameters, when the name
// holds "embed" (but not "embed_out"), "wte" or "wpe", else from the last slice's
// (norms, heads). The output is written pre, layers, post.
//
// Each slice becomes a plan of its own over renamed views of its sources (sliceView),
// so every rule of a whole-model merge applies within the slice: gradients run over
// the slice's layers (t = i/(L − 1)), a base listed among the sources is the base, and
// the output is streamed tensor by tensor.

// Sliced reports whether the plan is a frankenmerge of layer ranges (`slices:`).
func (p *Plan) Sliced() bool { return p.slices != nil }

// prepareSlices plans a `slices:` recipe: one plan per slice. keep, when not nil,
// restricts each slice's views to those output tensors (PrepareOnly).
func prepareSlices(r *recipe.Recipe, m *merge.Method, open Opener, read ReadFile, keep map[string]bool) (p *Plan, err error) {
	p = &Plan{Recipe: r, Method: m, seed: r.Ladle.Seed, read: read, variants: []merge.Params{{}}}
	defer func() {
		if err != nil {
			p.Close()
			p = nil
		}
	}()
	switch {
	case m.Select != nil || m.NeedsEval:
		return p, errorf("slices", "%s evaluates whole models; it cannot merge layer ranges", m.Name)
	case m.Layout != nil || m.DecodeInput != nil || m.PartialModels:
		return p, errorf("slices", "%s works on signatures of whole models; it cannot merge layer ranges", m.Name)
	case r.Ladle.Align:
		return p, errorf("ladle.align", "alignment permutes whole models; it does not apply to layer ranges (slices)")
	case r.Ladle.TrimScope == recipe.TrimScopeModel:
		return p, errorf("ladle.trim_scope", "a model-wide trim does not apply to layer ranges (slices); use trim_scope: tensor")
	}
	for _, prm := range m.Params {
		if s, ok := r.Parameters[prm.Name]; ok && prm.Multi && s.Gradient != nil {
			return p, errorf("parameters."+prm.Name, "a list of values asks for several outputs, which slices do not make; give one value")
		}
	}
	if r.OutDType != "" {
		d, err := dtype.ParseLoose(r.OutDType)
		if err != nil {
			return p, errorf("out_dtype", "%v", err)
		}
		p.OutDType = d
	}
	sources := map[string]*slicedModel{}
	get := func(path, where string) (*slicedModel, error) {
		if sm, ok := sources[path]; ok {
			return sm, nil
		}
		src, err := open(path)
		if err != nil {
			return nil, errorf(where, "cannot open %s: %v", path, err)
		}
		p.opened = append(p.opened, src)
		sm := newSlicedModel(src)
		sources[path] = sm
		return sm, nil
	}
	next := 0 // the output's next layer number
	for s, sl := range r.Slices {
		where := fmt.Sprintf("slices[%d]", s)
		length := sl.Sources[0].To - sl.Sources[0].From
		sub := &recipe.Recipe{MergeMethod: r.MergeMethod, Parameters: map[string]recipe.Setting{}, DType: r.DType, OutDType: r.OutDType,
			Ladle: r.Ladle, Dir: r.Dir}
		maps.Copy(sub.Parameters, r.Parameters)
		maps.Copy(sub.Parameters, sl.Parameters) // the slice's parameters over the global ones
		views := map[string]ckpt.Source{}
		for k, src := range sl.Sources {
			swhere := fmt.Sprintf("%s.sources[%d]", where, k)
			if src.To-src.From != length {
				return p, errorf(swhere+".layer_range", "spans %d layers, the slice's first source %d; every source of a slice gives the same number of layers", src.To-src.From, length)
			}
			sm, err := get(src.Model, swhere+".model")
			if err != nil {
				return p, err
			}
			if sm.layers == 0 {
				return p, errorf(swhere+".layer_range", "%s has no numbered layers (none of its tensor names has an all-digit part, as model.layers.3.mlp.up_proj.weight does), so a layer range cannot cut it; slices are for layered models: merge it whole, listing it under models: without slices", src.Model)
			}
			if src.To > sm.layers {
				return p, errorf(swhere+".layer_range", "[%d, %d] goes past the layers of %s, which has %d (0 to %d): the range's end is exclusive, so the widest is [0, %d]", src.From, src.To, src.Model, sm.layers, sm.layers-1, sm.layers)
			}
			key := fmt.Sprintf("%s [layers %d-%d]", src.Model, src.From, src.To-1)
			if _, dup := views[key]; dup {
				return p, errorf(swhere, "the same layers of %s appear twice in the slice", src.Model)
			}
			views[key] = sm.view(key, src.From, src.To, next, s == 0, s == len(r.Slices)-1)
			if src.Model == r.BaseModel {
				sub.BaseModel = key
			}
			sub.Models = append(sub.Models, recipe.Model{Path: key, Parameters: src.Parameters})
		}
		if r.BaseModel != "" && sub.BaseModel == "" && (m.NeedsBase || m.OptionalBase) {
			return p, errorf(where+".sources", "base_model %s is not among the slice's sources; in a slices recipe the base gives its layers in every slice, as in mergekit", r.BaseModel)
		}
		q, err := PrepareWith(sub, func(path string) (ckpt.Source, error) {
			v, ok := views[path]
			if !ok {
				return nil, fmt.Errorf("no slice source %q", path)
			}
			return restrict(v, keep), nil
		}, read)
		if err != nil {
			return p, fmt.Errorf("%s: %w", where, err)
		}
		p.slices = append(p.slices, q)
		next += length
	}
	seen := map[string]bool{}
	for _, q := range p.slices {
		for _, t := range q.OutputTensors() {
			if seen[t.Name] {
				return p, errorf("slices", "tensor %q would be written twice; check that the slices' models share one architecture", t.Name)
			}
			seen[t.Name] = true
		}
	}
	return p, nil
}

// slicedModel is a source with its tensors grouped by layer.
type slicedModel struct {
	src       ckpt.Source
	layers    int                 // highest layer number + 1
	byLayer   map[int][]ckpt.Info // in file order
	pre, post []ckpt.Info
	comp      map[string]int // the index of the layer component in each name
}

func newSlicedModel(src ckpt.Source) *slicedModel {
	sm := &slicedModel{src: src, byLayer: map[int][]ckpt.Info{}, comp: map[string]int{}}
	for _, t := range src.Tensors() {
		parts := strings.Split(t.Name, ".")
		layer, at := -1, -1
		for i, part := range parts {
			if n, err := strconv.Atoi(part); err == nil && part != "" && part[0] >= '0' && part[0] <= '9' {
				layer, at = n, i
				break
			}
		}
		switch {
		case layer >= 0:
			sm.byLayer[layer] = append(sm.byLayer[layer], t)
			sm.comp[t.Name] = at
			sm.layers = max(sm.layers, layer+1)
		case isEmbedding(t.Name):
			sm.pre = append(sm.pre, t)
		default:
			sm.post = append(sm.post, t)
		}
	}
	return sm
}

// isEmbedding: the unnumbered tensors that go before the layers.
func isEmbedding(name string) bool {
	return (strings.Contains(name, "embed") && !strings.Contains(name, "embed_out")) ||
		strings.Contains(name, "wte") || strings.Contains(name, "wpe")
}

// view shows layers [from, to) renumbered from first, with the pre tensors when
// withPre and the post tensors when withPost.
func (sm *slicedModel) view(name string, from, to, first int, withPre, withPost bool) *sliceView {
	v := &sliceView{Source: sm.src, name: name, orig: map[string]string{}}
	add := func(t ckpt.Info, renamed string) {
		v.orig[renamed] = t.Name
		t.Name = renamed
		v.tensors = append(v.tensors, t)
	}
	if withPre {
		for _, t := range sm.pre {
			add(t, t.Name)
		}
	}
	for l := from; l < to; l++ {
		for _, t := range sm.byLayer[l] {
			parts := strings.Split(t.Name, ".")
			parts[sm.comp[t.Name]] = strconv.Itoa(first + l - from)
			add(t, strings.Join(parts, "."))
		}
	}
	if withPost {
		for _, t := range sm.post {
			add(t, t.Name)
		}
	}
	return v
}

// sliceView is a source's layer range under the output's names. Closing it leaves
// the source open (the sliced plan closes it).
type sliceView struct {
	ckpt.Source
	name    string
	tensors []ckpt.Info
	orig    map[string]string
}

func (v *sliceView) Path() string         { return v.name }
func (v *sliceView) Tensors() []ckpt.Info { return v.tensors }
func (v *sliceView) Close() error         { return nil }
func (v *sliceView) Tensor(name string) (*io.SectionReader, error) {
	orig, ok := v.orig[name]
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q", v.name, name)
	}
	return v.Source.Tensor(orig)
}

// slicedOutputs concatenates the slices' outputs: pre, layers, post.
func (p *Plan) slicedOutputs() []ckpt.Info {
	var out []ckpt.Info
	for _, q := range p.slices {
		out = append(out, q.OutputTensors()...)
	}
	return out
}

// executeSlices runs the slices' plans one after the other into the sink.
func (p *Plan) executeSlices(ctx context.Context, sink ckpt.Sink, opts Options) error {
	total := len(p.slicedOutputs())
	bytesTotal := p.BytesTotal()
	done, bytesDone := 0, int64(0)
	for _, q := range p.slices {
		o := opts
		if opts.Progress != nil {
			o.Progress = func(pr Progress) {
				pr.TensorsDone += done
				pr.TensorsTotal = total
				pr.BytesDone += bytesDone
				pr.BytesTotal = bytesTotal
				opts.Progress(pr)
			}
		}
		if err := q.Execute(ctx, sink, o); err != nil {
			return err
		}
		done += len(q.OutputTensors())
		bytesDone += q.BytesTotal()
	}
	return nil
}
