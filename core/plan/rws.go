package plan

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"ladle/core/ckpt"
	"ladle/core/dtype"
	"ladle/core/merge"
	"ladle/core/tensor"
)

// A robust weight signature checkpoint holds, for each signed tensor NAME, either its
// float values, or (quantised to at most 256 levels) U8 codes under NAME plus a
// two-element F32 tensor NAME + RangeSuffix = [min, max]. Its metadata key RWSKey holds
// JSON: {"corruption", "layers", "quantize": {"levels", "type"}}. Keeping min and max in
// tensors, not in the header, lets the header be written before any data is computed.
const (
	RWSKey      = "ladle.rws"
	RangeSuffix = ".__quant_range"
)

// RWSInfo is the JSON under RWSKey.
type RWSInfo struct {
	Corruption string         `json:"corruption"`
	Layers     []string       `json:"layers"`
	Quantize   *RWSQuantize   `json:"quantize,omitempty"`
	Extra      map[string]any `json:"-"`
}

// RWSQuantize describes a quantised signature.
type RWSQuantize struct {
	Levels int    `json:"levels"`
	Type   string `json:"type"`
}

type rwsPlan struct {
	extract  bool
	selected map[string]bool
	levels   int // quantisation levels stored as U8 codes; 0: float values
	outputs  []ckpt.Info
	metadata map[string]string
	sigs     map[ckpt.Source]*signature // rws_patch / rws_remove inputs
}

// signature is an opened signature checkpoint.
type signature struct {
	info RWSInfo
}

func (p *Plan) prepareRWS() error {
	p.rws = &rwsPlan{selected: map[string]bool{}, metadata: map[string]string{}}
	if p.Method.Name == "rws_extract" {
		return p.prepareExtract()
	}
	// rws_patch / rws_remove: every model is a signature over some of the target's tensors.
	p.rws.sigs = map[ckpt.Source]*signature{}
	for k, src := range p.Models {
		where := fmt.Sprintf("models[%d] %s", p.modelIdx[k], p.ModelNames[k])
		sig := &signature{}
		if raw, ok := src.Metadata()[RWSKey]; ok {
			if err := json.Unmarshal([]byte(raw), &sig.info); err != nil {
				return errorf(where, "its %s metadata is not valid JSON: %v", RWSKey, err)
			}
		}
		for _, t := range src.Tensors() {
			if strings.HasSuffix(t.Name, RangeSuffix) {
				continue
			}
			target, ok := p.lookup(p.ref, t.Name)
			if !ok {
				return errorf(where, "holds tensor %q, which the target %s lacks", t.Name, p.Recipe.BaseModel)
			}
			switch {
			case t.DType == dtype.U8 && target.DType != dtype.U8:
				if sig.info.Quantize == nil {
					return errorf(where, "tensor %q is U8 codes but the signature's %s metadata names no quantisation", t.Name, RWSKey)
				}
				if _, ok := p.lookup(src, t.Name+RangeSuffix); !ok {
					return errorf(where, "quantised tensor %q has no %s tensor with its min and max", t.Name, t.Name+RangeSuffix)
				}
			case !t.DType.IsFloat():
				return errorf(where, "tensor %q is %s; a signature holds floating-point values or U8 codes", t.Name, t.DType)
			}
		}
		p.rws.sigs[src] = sig
	}
	return nil
}

func (p *Plan) prepareExtract() error {
	var refs []merge.TensorRef
	for _, t := range p.merged {
		refs = append(refs, merge.TensorRef{Name: t.Name, Shape: t.Shape})
	}
	var patterns []string
	if s, ok := p.Recipe.Parameters["layers"]; ok {
		if s.Strings != nil {
			patterns = s.Strings
		} else if str, ok := s.Scalar.(string); ok {
			patterns = []string{str}
		}
	}
	names, err := merge.RWSLayers(refs, patterns)
	if err != nil {
		return errorf("parameters.layers", "%v", err)
	}
	if len(names) == 0 {
		return errorf("parameters.layers", "selects no tensor: the model has no weight tensor of rank 2 or more; name the layers to sign")
	}
	p.rws.extract = true
	info := RWSInfo{Corruption: corruptionName(p.ModelNames[1]), Layers: names}
	if s, ok := p.Recipe.Parameters["quantize"]; ok {
		q, _ := s.Scalar.(map[string]any)
		levels, _ := q["levels"].(float64)
		typ, _ := q["type"].(string)
		if typ == "" {
			typ = "linear"
		}
		info.Quantize = &RWSQuantize{Levels: int(levels), Type: typ}
		if levels <= 256 {
			p.rws.levels = int(levels)
		}
	}
	for _, n := range names {
		p.rws.selected[n] = true
		t, _ := p.lookup(p.ref, n)
		out := ckpt.Info{Name: n, DType: dtype.F32, Shape: t.Shape}
		if p.OutDType != dtype.Invalid {
			out.DType = p.OutDType
		}
		if p.rws.levels > 0 {
			out.DType = dtype.U8
			p.rws.outputs = append(p.rws.outputs, out, ckpt.Info{Name: n + RangeSuffix, DType: dtype.F32, Shape: []int64{2}})
			continue
		}
		p.rws.outputs = append(p.rws.outputs, out)
	}
	enc, _ := json.Marshal(info)
	p.rws.metadata[RWSKey] = string(enc)
	return nil
}

// corruptionName names a signature after its robust model's file ("gaussian_noise.safetensors" → "gaussian_noise").
func corruptionName(model string) string {
	base := path.Base(strings.ReplaceAll(model, "\\", "/"))
	if i := strings.IndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	return base
}

// SignatureSize compares an rws_extract output with the full checkpoint: the bytes of
// the signature's tensors and of the reference model's tensors.
func (p *Plan) SignatureSize() (signature, full int64, ok bool) {
	if p.rws == nil || !p.rws.extract {
		return 0, 0, false
	}
	for _, t := range p.rws.outputs {
		signature += t.Bytes()
	}
	for _, t := range p.inputs {
		full += t.Bytes()
	}
	return signature, full, true
}

// runExtract writes the signature of each selected tensor.
func (x *executor) runExtract() error {
	p := x.plan
	var codes merge.Quantized
	var selected []ckpt.Info
	for _, t := range p.inputs {
		if p.rws.selected[t.Name] {
			selected = append(selected, t)
		}
	}
	return x.pipeline(selected, func(ckpt.Info) bool { return true }, func(t ckpt.Info, j *merge.Job) error {
		if p.rws.levels > 0 {
			j.Quant = &codes
		}
		x.out = grow(x.out, int(t.NumElements()))
		if err := p.Method.Merge(j, x.out); err != nil {
			return err
		}
		if err := x.sink.BeginTensor(t.Name); err != nil {
			return err
		}
		if p.rws.levels > 0 {
			if codes.Levels == 0 {
				return fmt.Errorf("tensor %q: the quantiser gave no codes", t.Name)
			}
			if _, err := x.sink.Write(codes.Codes[:len(x.out)]); err != nil {
				return err
			}
			x.done++ // the codes; the pipeline counts the range tensor
			return x.sink.WriteTensor(t.Name+RangeSuffix, f32Bytes([]float32{codes.Min, codes.Max}))
		}
		to := dtype.F32
		if p.OutDType != dtype.Invalid {
			to = p.OutDType
		}
		return writeF32(x.sink, x.out, to)
	})
}

// dequantise turns a signature tensor read as U8 codes (now 0..255 as float32) back
// into its values, with the range stored beside it.
func (x *executor) dequantise(ctx context.Context, src ckpt.Source, name string, values []float32) error {
	sig := x.plan.rws.sigs[src]
	info, _ := x.plan.lookup(src, name)
	if sig == nil || info.DType != dtype.U8 || sig.info.Quantize == nil {
		return nil
	}
	rng := make([]float32, 2)
	rinfo, _ := x.plan.lookup(src, name+RangeSuffix)
	if rinfo.NumElements() != 2 {
		return &ckpt.FormatError{File: src.Path(), Tensor: name + RangeSuffix, Msg: "a quantisation range holds two values, min and max"}
	}
	if err := readF32(ctx, src, rinfo, rng, 1); err != nil {
		return err
	}
	levels := sig.info.Quantize.Levels
	for i, c := range values {
		if int(c) >= levels {
			return &ckpt.FormatError{File: src.Path(), Tensor: name, Msg: fmt.Sprintf("code %d at element %d is not below the %d levels", int(c), i, levels)}
		}
		values[i] = tensor.Dequant(int(c), rng[0], rng[1], levels)
	}
	return nil
}
