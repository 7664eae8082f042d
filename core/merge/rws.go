package merge

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"ladle/core/tensor"
)

const rwsPaper = "Robust Weight Signatures: Gaining Robustness as Easy as Patching Weights? (Cai et al., 2023), https://arxiv.org/abs/2302.12480"

var rwsExtractMethod = &Method{
	Name:    "rws_extract",
	Summary: "Extracts a robust weight signature: the part of (θ_robust − θ_pre) orthogonal to (θ_clean − θ_pre), for the shallow layers only; optionally quantised. The output is a small signature checkpoint.",
	Paper:   rwsPaper,
	Params: []Param{
		{Name: "layers", Type: StringList, Default: nil,
			Doc: "Tensors that carry the signature: name patterns (globs, or a layer prefix such as conv1). Unset: the first 7 weight tensors of rank ≥ 2 in checkpoint order, with their biases."},
		{Name: "quantize", Type: Map, Default: nil,
			Doc: "Optional per-tensor linear quantisation, e.g. {levels: 16, type: linear}; with at most 256 levels the signature stores U8 codes plus min and max.",
			Fields: []Param{
				{Name: "levels", Type: Int, Required: true, Min: fptr(2), Max: fptr(1 << 16), Doc: "Number of levels Q."},
				{Name: "type", Type: String, Default: "linear", Choices: []string{"linear"}, Doc: "Quantiser: linear between the tensor's min and max."},
			}},
	},
	NeedsBase: true, // θ_pre
	MinModels: 2,
	MaxModels: 2,
	Roles:     []string{"clean", "robust"},
	Layout:    rwsExtractLayout,
	merge:     mergeRWSExtract,
}

// A robust weight signature checkpoint holds, for each signed tensor NAME, either its
// float values, or (quantised to at most 256 levels) U8 codes under NAME plus a
// two-element F32 tensor NAME + RangeSuffix = [min, max]. Its metadata key RWSKey holds
// JSON: {"corruption", "layers", "quantize": {"levels", "type"}}. Keeping min and max in
// tensors, not in the header, lets the header be written before any data is computed.
const RWSKey = "ladle.rws"

// RWSInfo is the JSON under RWSKey.
type RWSInfo struct {
	Corruption string       `json:"corruption"`
	Layers     []string     `json:"layers"`
	Quantize   *RWSQuantize `json:"quantize,omitempty"`
}

// RWSQuantize describes a quantised signature.
type RWSQuantize struct {
	Levels int    `json:"levels"`
	Type   string `json:"type"`
}

// rwsExtractLayout signs only the selected layers, into a checkpoint of them alone,
// stored as U8 codes when `quantize` asks for at most 256 levels.
func rwsExtractLayout(in *LayoutInput) (*Layout, error) {
	var refs []TensorRef
	for _, t := range in.Reference.Tensors {
		if t.Float {
			refs = append(refs, TensorRef{Name: t.Name, Shape: t.Shape})
		}
	}
	patterns, ok := toStrings(in.Params["layers"])
	if !ok {
		return nil, fmt.Errorf("parameters.layers: expected a list of name patterns")
	}
	names, err := RWSLayers(refs, patterns)
	if err != nil {
		return nil, fmt.Errorf("parameters.layers: %v", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("parameters.layers: selects no tensor: the model has no weight tensor of rank 2 or more; name the layers to sign")
	}
	l := &Layout{Compute: names, OnlyComputed: true, Metadata: map[string]string{}}
	info := RWSInfo{Corruption: corruptionName(in.Models[1].Name), Layers: names}
	if q, ok := toMap(in.Params["quantize"]); ok && q != nil {
		levels, _ := toInt(q["levels"])
		typ, _ := q["type"].(string)
		if typ == "" {
			typ = "linear"
		}
		info.Quantize = &RWSQuantize{Levels: levels, Type: typ}
		if levels <= 256 {
			l.CodeLevels = levels
		}
	}
	enc, _ := json.Marshal(info)
	l.Metadata[RWSKey] = string(enc)
	return l, nil
}

// corruptionName names a signature after its robust model's file ("gaussian_noise.safetensors" → "gaussian_noise").
func corruptionName(model string) string {
	base := path.Base(strings.ReplaceAll(model, "\\", "/"))
	if i := strings.IndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	return base
}

// rwsDecodeSignature checks a signature against the target before anything is read:
// every tensor is one the target has, float or U8 codes with their range, and codes
// only with a quantisation in the metadata, whose levels it returns.
func rwsDecodeSignature(model, target *Headers) (int, error) {
	var info RWSInfo
	if raw, ok := model.Metadata[RWSKey]; ok {
		if err := json.Unmarshal([]byte(raw), &info); err != nil {
			return 0, fmt.Errorf("its %s metadata is not valid JSON: %v", RWSKey, err)
		}
	}
	targets := map[string]TensorHeader{}
	for _, t := range target.Tensors {
		targets[t.Name] = t
	}
	have := map[string]bool{}
	for _, t := range model.Tensors {
		have[t.Name] = true
	}
	for _, t := range model.Tensors {
		if strings.HasSuffix(t.Name, RangeSuffix) {
			continue
		}
		tt, ok := targets[t.Name]
		if !ok {
			return 0, fmt.Errorf("holds tensor %q, which the target %s lacks", t.Name, target.Name)
		}
		switch {
		case t.DType == "U8" && tt.DType != "U8":
			if info.Quantize == nil {
				return 0, fmt.Errorf("tensor %q is U8 codes but the signature's %s metadata names no quantisation", t.Name, RWSKey)
			}
			if !have[t.Name+RangeSuffix] {
				return 0, fmt.Errorf("quantised tensor %q has no %s tensor with its min and max", t.Name, t.Name+RangeSuffix)
			}
		case !t.Float:
			return 0, fmt.Errorf("tensor %q is %s; a signature holds floating-point values or U8 codes", t.Name, t.DType)
		}
	}
	if info.Quantize == nil {
		return 0, nil
	}
	return info.Quantize.Levels, nil
}

// mergeRWSExtract computes RWS = d − (<d, a>/<a, a>)·a with a = θ_clean − θ_pre and
// d = θ_robust − θ_pre (task vectors rounded to float32; a = 0 gives RWS = d), then
// applies the optional quantisation in place and hands the U8 codes to Job.Quant.
func mergeRWSExtract(j *Job, out []float32) error {
	pre, clean, robust := j.Base, j.Models[0], j.Models[1]
	var g [4]float64
	tensor.GramDiff([][]float32{clean, robust}, pre, 0, len(out), g[:], nil)
	coef := 0.0
	if g[0] > 0 {
		coef = g[1] / g[0]
	}
	err := j.run(out, 0, func(_ *scratch, lo, hi int) {
		for c := lo; c < hi; c++ {
			a, d := clean[c]-pre[c], robust[c]-pre[c]
			out[c] = float32(float64(d) - float64(coef*float64(a)))
		}
	})
	if err != nil {
		return err
	}
	if j.Quant != nil {
		j.Quant.Levels = 0
	}
	q := j.object("quantize")
	if q == nil {
		return nil
	}
	levels, _ := toInt(q["levels"])
	var codes []uint8
	if j.Quant != nil && levels <= 256 {
		if len(j.Quant.Codes) != len(out) {
			j.Quant.Codes = make([]uint8, len(out))
		}
		codes = j.Quant.Codes
	}
	lo, hi, err := tensor.QuantizeLinear(out, levels, codes, out)
	if err != nil {
		return j.errorf("%v; the inputs hold non-finite values", err)
	}
	if codes != nil {
		j.Quant.Min, j.Quant.Max, j.Quant.Levels = lo, hi, levels
	}
	return nil
}

func rwsApplyMethod(name, summary string, sign float64) *Method {
	return &Method{
		Name:    name,
		Summary: summary,
		Paper:   rwsPaper,
		Params: []Param{
			{Name: "alpha", Type: Float, Default: 1.0, PerModel: true,
				Doc: "Coefficient αc of this signature (applied once: the reference code's α² is not copied)."},
		},
		NeedsBase:     true, // θ_target
		MinModels:     1,
		PartialModels: true,
		DecodeInput:   rwsDecodeSignature,
		merge: func(j *Job, out []float32) error {
			if len(j.Models) == 0 {
				copy(out, j.Base) // outside the signed layers: θ_target
				return nil
			}
			as := make([]float64, len(j.Models))
			for i := range as {
				as[i] = sign * j.modelFloat(i, "alpha")
			}
			return j.run(out, 0, func(s *scratch, lo, hi int) {
				acc := s.float64s(0, hi-lo)
				weightedSum(acc, j.Models, as, lo, hi)
				b := j.Base[lo:hi]
				for c, a := range acc {
					out[lo+c] = float32(float64(b[c]) + a)
				}
			})
		},
	}
}

var (
	rwsPatchMethod = rwsApplyMethod("rws_patch",
		"Patches robustness into a model: θ = θ_target + Σ αc·RWS_c over the given signatures (the models); tensors outside the signatures are copied from the target.", 1)
	rwsRemoveMethod = rwsApplyMethod("rws_remove",
		"Removes signatures again: θ = θ_target − Σ αc·RWS_c, the exact inverse of rws_patch up to float rounding.", -1)
)

// RWSDefaultLayers is how many weight tensors rws_extract signs by default.
const RWSDefaultLayers = 7

// TensorRef names one float tensor of a checkpoint and its shape.
type TensorRef struct {
	Name  string
	Shape []int64
}

// RWSLayers returns the names of the tensors rws_extract signs, in checkpoint order.
// tensors lists the checkpoint's float tensors in file order. With no patterns: the
// first RWSDefaultLayers tensors of rank ≥ 2 whose name ends in "weight", each with its
// bias (the same name ending in "bias" instead). A pattern matches a name when
// path.Match does (globs: *, ?, [...]) or, for a pattern without glob characters, when
// the name starts with the pattern followed by a dot (a layer prefix such as conv1).
func RWSLayers(tensors []TensorRef, patterns []string) ([]string, error) {
	have := map[string]bool{}
	for _, t := range tensors {
		have[t.Name] = true
	}
	chosen := map[string]bool{}
	if len(patterns) == 0 {
		n := 0
		for _, t := range tensors {
			if n == RWSDefaultLayers {
				break
			}
			if len(t.Shape) >= 2 && strings.HasSuffix(t.Name, "weight") {
				chosen[t.Name] = true
				if bias := strings.TrimSuffix(t.Name, "weight") + "bias"; have[bias] {
					chosen[bias] = true
				}
				n++
			}
		}
	} else {
		for _, p := range patterns {
			if _, err := path.Match(p, ""); err != nil {
				return nil, fmt.Errorf("rws_extract: bad layer pattern %q: %v", p, err)
			}
			matched := false
			for _, t := range tensors {
				ok, _ := path.Match(p, t.Name)
				if !ok && !strings.ContainsAny(p, "*?[\\") {
					ok = strings.HasPrefix(t.Name, p+".")
				}
				if ok {
					chosen[t.Name] = true
					matched = true
				}
			}
			if !matched {
				return nil, fmt.Errorf("rws_extract: layer pattern %q matches no tensor; check the names with `ladle inspect`", p)
			}
		}
	}
	var names []string
	for _, t := range tensors {
		if chosen[t.Name] {
			names = append(names, t.Name)
		}
	}
	return names, nil
}
