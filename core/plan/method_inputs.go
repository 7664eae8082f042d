package plan

import (
	"context"
	"fmt"

	"ladle/core/ckpt"
	"ladle/core/merge"
	"ladle/core/tensor"
)

// companion is one companion parameter's checkpoints (merge.Param.Companion), one per
// model in the plan's model order.
type companion struct {
	param string
	srcs  []ckpt.Source
}

// prepareMethodInputs opens and checks what the method declares besides the models
// (companion checkpoints), and runs its Layout and DecodeInput hooks.
func (p *Plan) prepareMethodInputs(open Opener) error {
	for _, prm := range p.Method.Params {
		if !prm.Companion {
			continue
		}
		c := companion{param: prm.Name}
		for k := range p.Models {
			i := p.modelIdx[k]
			where := fmt.Sprintf("models[%d].parameters.%s", i, prm.Name)
			s, ok := p.Recipe.Models[i].Parameters[prm.Name]
			if !ok {
				s, ok = p.Recipe.Parameters[prm.Name]
			}
			path, _ := s.Scalar.(string)
			if !ok || path == "" {
				return errorf(where, "missing: %s needs a companion checkpoint for each model (%s)", p.Method.Name, prm.Doc)
			}
			src, err := open(path)
			if err != nil {
				return errorf(where, "cannot open %s: %v", path, err)
			}
			p.opened = append(p.opened, src)
			if err := compareTensors(p.Models[k], src, p.ModelNames[k], fmt.Sprintf("the %s checkpoint %s", prm.Name, path), false); err != nil {
				return err
			}
			c.srcs = append(c.srcs, src)
		}
		p.companions = append(p.companions, c)
	}
	if err := p.prepareLayout(); err != nil {
		return err
	}
	return p.prepareDecode()
}

// readCompanions reads each companion's tensor for every model into the job.
func (x *executor) readCompanions(ctx context.Context, j *merge.Job, t ckpt.Info, set *bufSet) error {
	n := int(t.NumElements())
	j.Companions = map[string][][]float32{}
	slot := 0
	for _, c := range x.plan.companions {
		for _, src := range c.srcs {
			for len(set.companions) <= slot {
				set.companions = append(set.companions, nil)
			}
			info, _ := x.plan.lookup(src, t.Name)
			set.companions[slot] = grow(set.companions[slot], n)
			if err := readF32(ctx, src, info, set.companions[slot], x.threads); err != nil {
				return err
			}
			j.Companions[c.param] = append(j.Companions[c.param], set.companions[slot])
			slot++
		}
	}
	return nil
}

// globalCut is one model's model-wide trim (`trim_scope: model`, a declared option).
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
