package plan

import (
	"bytes"
	"context"
	"fmt"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
	"ladle/core/eval"
	"ladle/core/nn"
)

// The alignment step (`ladle: {align: true}` in a recipe): before averaging, every
// model is permuted to match the reference, the base model when the method has one,
// else the first model (Git Re-Basin's weight matching, eval.Align), using the
// architecture of ladle.eval.arch or the reference's ladle.arch metadata.
//
// It runs in the planner, on whole models in memory: Preprocess reads each model's
// tensors, aligns them, and re-encodes the model as an in-memory safetensors
// checkpoint (same tensors, dtypes and order; tensors the arch does not read copied
// byte for byte), which then stands in for the model file in the streaming merge. The
// method's companion checkpoints (merge.Param.Companion) get the same permutation. The seed is the
// merge's seed (ladle.seed or --seed).

// AlignedModel is one entry of "ladle.align": a model (its path in the recipe) and
// what aligning it did (the permutations themselves are left out).
type AlignedModel struct {
	Model  string            `json:"model"`
	Report *eval.AlignReport `json:"report"`
}

type alignMetadata struct {
	Reference string         `json:"reference"`
	Seed      uint64         `json:"seed"`
	Models    []AlignedModel `json:"models"`
}

// SetAlign turns the alignment step on (or off) for this plan: Preprocess will align
// every model to the base (or the first model) before the merge. It checks that the
// architecture is known and fits the models; methods that merge partial checkpoints
// or signatures (PartialModels, DecodeInput, Layout) cannot be aligned. The recipe key `ladle: {align: true}` asks for
// it (the command line's merge reads that key and calls SetAlign).
func (p *Plan) SetAlign(on bool) error {
	if !on {
		p.align = false
		return nil
	}
	if p.slices != nil {
		return errorf("ladle.align", "alignment permutes whole models; it does not apply to layer ranges (slices)")
	}
	if p.prepped {
		return errorf("ladle.align", "the whole-model steps have already run; set the alignment before Preprocess and Execute")
	}
	if p.Method.PartialModels || p.Method.DecodeInput != nil || p.layout != nil {
		return errorf("ladle.align", "%s works on signatures and partial checkpoints; alignment applies to whole models of one architecture", p.Method.Name)
	}
	if err := p.resolveArch(); err != nil {
		return err
	}
	p.align = true
	return nil
}

// Aligned reports whether the alignment step is on.
func (p *Plan) Aligned() bool { return p.align }

// AlignReports lists, after Preprocess, what aligning each model did, in recipe order
// (models identical to the reference are not aligned and not listed); AlignReference
// names the model they were aligned to.
func (p *Plan) AlignReports() []AlignedModel { return p.alignRep }

// AlignReference is the recipe path of the model the others were aligned to.
func (p *Plan) AlignReference() string { return p.alignRef }

// alignModels replaces every model but the reference by its aligned copy.
func (p *Plan) alignModels(ctx context.Context, seed uint64) error {
	p.alignRef, p.alignSeed = p.refRecipePath(), seed
	refT, err := nn.ReadTensors(p.arch, p.ref)
	if err != nil {
		return fmt.Errorf("align: %w", err)
	}
	done := map[ckpt.Source]ckpt.Source{}
	for k, src := range p.Models {
		if err := ctx.Err(); err != nil {
			return err
		}
		if src == p.ref {
			continue
		}
		where := fmt.Sprintf("models[%d] %s", p.modelIdx[k], p.ModelNames[k])
		if mem, ok := done[src]; ok {
			p.Models[k] = mem
			continue
		}
		ts, err := nn.ReadTensors(p.arch, src)
		if err != nil {
			return errorf(where, "align: %v", err)
		}
		aligned, rep, err := eval.Align(p.arch, refT, ts, seed)
		if err != nil {
			return errorf(where, "%v", err)
		}
		mem, err := replaced(src, aligned, src.Path()+" (aligned)")
		if err != nil {
			return errorf(where, "align: %v", err)
		}
		if len(p.companions) > 0 {
			perms := map[string][]int{}
			for _, g := range rep.Groups {
				perms[g.Layer] = g.Perm
			}
			for c := range p.companions {
				comp := &p.companions[c]
				fs, err := nn.ReadTensors(p.arch, comp.srcs[k])
				if err != nil {
					return errorf(where, "align the %s checkpoint: %v", comp.param, err)
				}
				pf, err := eval.Permute(p.arch, fs, perms)
				if err != nil {
					return errorf(where, "align the %s checkpoint: %v", comp.param, err)
				}
				fm, err := replaced(comp.srcs[k], pf, comp.srcs[k].Path()+" (aligned)")
				if err != nil {
					return errorf(where, "align the %s checkpoint: %v", comp.param, err)
				}
				p.indexSource(fm)
				comp.srcs[k] = fm
			}
		}
		p.indexSource(mem)
		done[src] = mem
		p.Models[k] = mem
		for i := range rep.Groups {
			rep.Groups[i].Perm = nil // kept out of the metadata
		}
		p.alignRep = append(p.alignRep, AlignedModel{Model: p.ModelNames[k], Report: rep})
	}
	return nil
}

// refRecipePath is the reference model's path as the recipe writes it.
func (p *Plan) refRecipePath() string {
	if p.Base != nil {
		return p.Recipe.BaseModel
	}
	return p.ModelNames[0]
}

func (p *Plan) indexSource(src ckpt.Source) {
	if p.index == nil {
		return
	}
	idx := make(map[string]ckpt.Info, len(src.Tensors()))
	for _, t := range src.Tensors() {
		idx[t.Name] = t
	}
	p.index[src] = idx
}

// replaced re-encodes src in memory with the float tensors named in repl replaced.
func replaced(src ckpt.Source, repl map[string]nn.Tensor, path string) (ckpt.Source, error) {
	var buf bytes.Buffer
	w, err := safetensors.NewWriter(&buf, src.Tensors(), src.Metadata())
	if err != nil {
		return nil, err
	}
	if err := WriteReplacing(w, src, repl); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return safetensors.Open(bytes.NewReader(b), int64(len(b)), path)
}

// WriteReplacing writes every tensor of src, in src's order, into w (a sink created
// for src.Tensors()): the floating-point tensors named in repl are taken from repl
// and encoded in the tensor's own dtype (exact for values that came from it, such as
// permuted weights), the others are copied byte for byte.
func WriteReplacing(w ckpt.Sink, src ckpt.Source, repl map[string]nn.Tensor) error {
	for _, info := range src.Tensors() {
		t, ok := repl[info.Name]
		if !ok || !info.DType.IsFloat() {
			raw, err := ckpt.ReadAll(src, info.Name)
			if err != nil {
				return err
			}
			if err := w.WriteTensor(info.Name, raw); err != nil {
				return err
			}
			continue
		}
		if int64(len(t.Data)) != info.NumElements() {
			return fmt.Errorf("%s: tensor %q has %d elements, the replacement %d", src.Path(), info.Name, info.NumElements(), len(t.Data))
		}
		b := make([]byte, info.Bytes())
		if err := dtype.EncodeF32(b, t.Data, info.DType); err != nil {
			return fmt.Errorf("%s: tensor %q: %w", src.Path(), info.Name, err)
		}
		if err := w.WriteTensor(info.Name, b); err != nil {
			return err
		}
	}
	return nil
}
