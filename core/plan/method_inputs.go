package plan

import (
	"context"
	"fmt"

	"ladle/core/ckpt"
	"ladle/core/merge"
	"ladle/core/tensor"
)

// prepareMethodInputs opens and checks what some methods need besides the models:
// fisher's companion checkpoints and the RWS layouts.
func (p *Plan) prepareMethodInputs(open Opener) error {
	switch p.Method.Name {
	case "fisher":
		for k := range p.Models {
			i := p.modelIdx[k]
			s, ok := p.Recipe.Models[i].Parameters["fisher"]
			path, _ := s.Scalar.(string)
			if !ok || path == "" {
				return errorf(fmt.Sprintf("models[%d].parameters.fisher", i), "missing: fisher merging needs each model's diagonal Fisher checkpoint (make one with `ladle fisher`)")
			}
			src, err := open(path)
			if err != nil {
				return errorf(fmt.Sprintf("models[%d].parameters.fisher", i), "cannot open %s: %v", path, err)
			}
			p.opened = append(p.opened, src)
			if err := compareTensors(p.Models[k], src, p.ModelNames[k], "the Fisher checkpoint "+path, false); err != nil {
				return err
			}
			p.fisher = append(p.fisher, src)
		}
	case "rws_extract", "rws_patch", "rws_remove":
		return p.prepareRWS()
	}
	return nil
}

func (x *executor) readFisher(ctx context.Context, j *merge.Job, t ckpt.Info, set *bufSet) error {
	n := int(t.NumElements())
	for len(set.fisher) < len(x.plan.fisher) {
		set.fisher = append(set.fisher, nil)
	}
	for k, src := range x.plan.fisher {
		info, _ := x.plan.lookup(src, t.Name)
		set.fisher[k] = grow(set.fisher[k], n)
		if err := readF32(ctx, src, info, set.fisher[k], x.threads); err != nil {
			return err
		}
		j.Fisher = append(j.Fisher, set.fisher[k])
	}
	return nil
}

// globalCut is one model's model-wide trim (TIES' original `trim_scope: model`).
type globalCut struct {
	g   *tensor.GlobalTopK
	pos map[string]int
}

func (c *globalCut) cut(name string) (tensor.Cut, error) {
	pos, ok := c.pos[name]
	if !ok {
		return tensor.CutNone, nil
	}
	return c.g.Cut(pos)
}

// modelWideTrim streams every model's deltas twice through an exact model-wide
// top-k, so that the merge pass can trim each tensor to the model's global threshold.
// Positions follow the reference's tensor order, which fixes how equal magnitudes
// across tensors are broken (lower position first).
func (x *executor) modelWideTrim() error {
	p := x.plan
	pos := map[string]int{}
	for i, t := range p.merged {
		pos[t.Name] = i
	}
	base := make([]float32, 0)
	model := make([]float32, 0)
	for k, src := range p.Models {
		density := 1.0
		if v, ok := p.param(mustParam(p.Method, "density"), p.modelIdx[k], "", 0); ok {
			density, _ = v.(float64)
		}
		g, err := tensor.NewGlobalTopK(density)
		if err != nil {
			return errorf(fmt.Sprintf("models[%d].parameters.density", p.modelIdx[k]), "%v", err)
		}
		pass := func(second bool) error {
			for i, t := range p.merged {
				if err := x.ctx.Err(); err != nil {
					return err
				}
				n := int(t.NumElements())
				base, model = grow(base, n), grow(model, n)
				if err := readF32(x.ctx, p.Base, t, base, x.threads); err != nil {
					return err
				}
				info, _ := p.lookup(src, t.Name)
				if err := readF32(x.ctx, src, info, model, x.threads); err != nil {
					return err
				}
				if second {
					err = g.Pass2(i, model, base)
				} else {
					err = g.Pass1(model, base)
				}
				if err != nil {
					return fmt.Errorf("tensor %q: %w", t.Name, err)
				}
			}
			return nil
		}
		if err := pass(false); err != nil {
			return err
		}
		if g.EndPass1() {
			if err := pass(true); err != nil {
				return err
			}
			if err := g.EndPass2(); err != nil {
				return err
			}
		}
		x.cuts = append(x.cuts, &globalCut{g: g, pos: pos})
	}
	return nil
}

func mustParam(m *merge.Method, name string) merge.Param {
	if prm, ok := m.Param(name); ok {
		return *prm
	}
	return merge.Param{Name: name, Type: merge.Float}
}
