package plan

import (
	"context"
	"fmt"

	"ladle/core/ckpt"
	"ladle/core/dtype"
	"ladle/core/merge"
	"ladle/core/tensor"
)

// What a method declares about its inputs and its output, beyond one Merge per float
// tensor (merge.Method's Layout, DecodeInput and Companion parameters), run here
// without knowing the method.

// layoutPlan is a method's Layout: the tensors it computes and the output's form.
type layoutPlan struct {
	merge.Layout
	selected map[string]bool
	outputs  []ckpt.Info // OnlyComputed: the output's tensors
}

// headers describes a source for the method's hooks.
func headers(src ckpt.Source, name string) *merge.Headers {
	h := &merge.Headers{Name: name, Metadata: src.Metadata()}
	for _, t := range src.Tensors() {
		h.Tensors = append(h.Tensors, merge.TensorHeader{Name: t.Name, DType: t.DType.String(), Float: t.DType.IsFloat(), Shape: t.Shape})
	}
	return h
}

// refHeaders is the reference's header with its recipe path as the name.
func (p *Plan) refHeaders() *merge.Headers {
	name := p.Recipe.BaseModel
	if p.Base == nil {
		name = p.ModelNames[0]
	}
	return headers(p.ref, name)
}

// prepareLayout runs the method's Layout hook, from the headers only.
func (p *Plan) prepareLayout() error {
	m := p.Method
	if m.Layout == nil {
		return nil
	}
	in := &merge.LayoutInput{Reference: p.refHeaders(), Params: merge.Params{}}
	for k, src := range p.Models {
		in.Models = append(in.Models, headers(src, p.ModelNames[k]))
	}
	for name, s := range p.Recipe.Parameters {
		switch {
		case s.Strings != nil:
			in.Params[name] = s.Strings
		case s.Gradient != nil:
			in.Params[name] = s.Gradient
		default:
			in.Params[name] = s.Scalar
		}
	}
	l, err := m.Layout(in)
	if err != nil {
		return &Error{Msg: err.Error()}
	}
	lp := &layoutPlan{Layout: *l, selected: map[string]bool{}}
	for _, n := range l.Compute {
		t, ok := p.lookup(p.ref, n)
		if !ok || !t.DType.IsFloat() {
			return errorf(p.refName(), "%s chose tensor %q, which is not a floating-point tensor of the reference", m.Name, n)
		}
		lp.selected[n] = true
	}
	if l.OnlyComputed {
		for _, t := range p.inputs {
			if !lp.selected[t.Name] {
				continue
			}
			out := ckpt.Info{Name: t.Name, DType: dtype.F32, Shape: t.Shape}
			if p.OutDType != dtype.Invalid {
				out.DType = p.OutDType
			}
			if l.CodeLevels > 0 {
				out.DType = dtype.U8
				lp.outputs = append(lp.outputs, out, ckpt.Info{Name: t.Name + merge.RangeSuffix, DType: dtype.F32, Shape: []int64{2}})
				continue
			}
			lp.outputs = append(lp.outputs, out)
		}
	}
	p.layout = lp
	return nil
}

// prepareDecode runs the method's DecodeInput hook on every model.
func (p *Plan) prepareDecode() error {
	m := p.Method
	if m.DecodeInput == nil {
		return nil
	}
	target := p.refHeaders()
	p.codes = map[ckpt.Source]int{}
	for k, src := range p.Models {
		levels, err := m.DecodeInput(headers(src, p.ModelNames[k]), target)
		if err != nil {
			return errorf(fmt.Sprintf("models[%d] %s", p.modelIdx[k], p.ModelNames[k]), "%v", err)
		}
		p.codes[src] = levels
	}
	return nil
}

// SignatureSize compares an output that holds only the computed tensors (a method
// whose Layout says OnlyComputed, such as a signature) with the full checkpoint: the
// bytes of the output's tensors and of the reference model's tensors.
func (p *Plan) SignatureSize() (signature, full int64, ok bool) {
	if p.layout == nil || !p.layout.OnlyComputed {
		return 0, 0, false
	}
	for _, t := range p.layout.outputs {
		signature += t.Bytes()
	}
	for _, t := range p.inputs {
		full += t.Bytes()
	}
	return signature, full, true
}

// onlyComputed reports whether the output holds only the computed tensors.
func (p *Plan) onlyComputed() bool { return p.layout != nil && p.layout.OnlyComputed }

// runComputed writes the computed tensors alone (OnlyComputed), as U8 codes with their
// range when the layout asks for codes.
func (x *executor) runComputed() error {
	p := x.plan
	var codes merge.Quantized
	var selected []ckpt.Info
	for _, t := range p.inputs {
		if p.layout.selected[t.Name] {
			selected = append(selected, t)
		}
	}
	levels := p.layout.CodeLevels
	return x.pipeline(selected, func(ckpt.Info) bool { return true }, func(t ckpt.Info, j *merge.Job) error {
		if levels > 0 {
			j.Quant = &codes
		}
		x.out = grow(x.out, int(t.NumElements()))
		if err := p.Method.Merge(j, x.out); err != nil {
			return p.inRecipe(err)
		}
		if err := x.sink.BeginTensor(t.Name); err != nil {
			return err
		}
		if levels > 0 {
			if codes.Levels == 0 {
				return fmt.Errorf("tensor %q: the quantiser gave no codes", t.Name)
			}
			if _, err := x.sink.Write(codes.Codes[:len(x.out)]); err != nil {
				return err
			}
			x.done++ // the codes; the pipeline counts the range tensor
			return x.sink.WriteTensor(t.Name+merge.RangeSuffix, f32Bytes([]float32{codes.Min, codes.Max}))
		}
		to := dtype.F32
		if p.OutDType != dtype.Invalid {
			to = p.OutDType
		}
		return writeF32(x.sink, x.out, to)
	})
}

// dequantise turns a model's tensor read as U8 codes (now 0..255 as float32) back into
// its values, with the range stored beside it, when the method's DecodeInput said the
// model holds codes.
func (x *executor) dequantise(ctx context.Context, src ckpt.Source, name string, values []float32) error {
	levels := x.plan.codes[src]
	info, _ := x.plan.lookup(src, name)
	if levels == 0 || info.DType != dtype.U8 {
		return nil
	}
	rng := make([]float32, 2)
	rinfo, _ := x.plan.lookup(src, name+merge.RangeSuffix)
	if rinfo.NumElements() != 2 {
		return &ckpt.FormatError{File: src.Path(), Tensor: name + merge.RangeSuffix, Msg: "a quantisation range holds two values, min and max"}
	}
	if err := readF32(ctx, src, rinfo, rng, 1); err != nil {
		return err
	}
	for i, c := range values {
		if int(c) >= levels {
			return &ckpt.FormatError{File: src.Path(), Tensor: name, Msg: fmt.Sprintf("code %d at element %d is not below the %d levels", int(c), i, levels)}
		}
		values[i] = tensor.Dequant(int(c), rng[0], rng[1], levels)
	}
	return nil
}
