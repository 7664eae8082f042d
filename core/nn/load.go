package nn

import (
	"fmt"
	"math"

	"ladle/core/ckpt"
	"ladle/core/dtype"
)

// Load binds arch to the tensors of a checkpoint. Every tensor the arch needs must be
// present, floating-point, with the right shape; errors name the file, the layer, the
// tensor and the shape wanted. Only the needed tensors are read.
func Load(arch *Arch, src ckpt.Source) (*Model, error) {
	tensors, err := ReadTensors(arch, src)
	if err != nil {
		return nil, err
	}
	return NewModel(arch, tensors)
}

// ReadTensors reads, as float32, exactly the tensors arch needs from src (checking
// their shapes first), for callers that combine models before building one.
func ReadTensors(arch *Arch, src ckpt.Source) (map[string]Tensor, error) {
	if err := arch.Validate(); err != nil {
		return nil, err
	}
	infos := map[string]ckpt.Info{}
	for _, t := range src.Tensors() {
		infos[t.Name] = t
	}
	m, err := build(arch, func(name string) ([]int, bool) {
		t, ok := infos[name]
		if !ok {
			return nil, false
		}
		shape := make([]int, len(t.Shape))
		for i, d := range t.Shape {
			if d < 0 || d > math.MaxInt32 {
				return []int{-1}, true // cannot match any wanted shape: reported as a mismatch
			}
			shape[i] = int(d)
		}
		return shape, true
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Path(), err)
	}
	out := make(map[string]Tensor, len(m.params))
	for _, p := range m.params {
		info := infos[p.Name]
		if !info.DType.IsFloat() {
			return nil, fmt.Errorf("%s: tensor %q is %s; a model's weights must be floating-point", src.Path(), p.Name, info.DType)
		}
		raw, err := ckpt.ReadAll(src, p.Name)
		if err != nil {
			return nil, err
		}
		data := make([]float32, numel(p.Shape))
		if err := dtype.DecodeF32(data, raw, info.DType); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", src.Path(), p.Name, err)
		}
		out[p.Name] = Tensor{Shape: p.Shape, Data: data}
	}
	return out, nil
}
