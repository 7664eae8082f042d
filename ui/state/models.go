package state

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Tensor is one tensor of a dropped model, as the engine's inspect reports it.
type Tensor struct {
	Name  string  `json:"name"`
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"`
}

// ModelFile is a dropped (or lab) checkpoint.
type ModelFile struct {
	Name     string            `json:"name"`
	Format   string            `json:"format"`
	Size     int64             `json:"size"`
	Metadata map[string]string `json:"metadata,omitempty"`
	Tensors  []Tensor          `json:"tensors"`
	Error    string            `json:"error,omitempty"` // why it could not be read
}

// SignatureKey is the metadata key that marks a robust weight signature (what an
// RWS extraction writes): a direction for a few layers, patched into a model, never a
// network of its own.
const SignatureKey = "ladle.rws"

// IsSignature reports whether the file is a robust weight signature.
func (m ModelFile) IsSignature() bool {
	_, ok := m.Metadata[SignatureKey]
	return ok
}

// Parameters is the total element count.
func (m ModelFile) Parameters() int64 {
	var n int64
	for _, t := range m.Tensors {
		n += numel(t.Shape)
	}
	return n
}

// DTypes lists the model's dtypes with their parameter counts, largest first.
func (m ModelFile) DTypes() string {
	counts := map[string]int64{}
	for _, t := range m.Tensors {
		counts[t.DType] += numel(t.Shape)
	}
	names := make([]string, 0, len(counts))
	for k := range counts {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if counts[names[i]] != counts[names[j]] {
			return counts[names[i]] > counts[names[j]]
		}
		return names[i] < names[j]
	})
	return strings.Join(names, ", ")
}

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// Compat summarises how well the loaded models fit together for a merge.
type Compat struct {
	Models     int        // readable models compared
	Shared     int        // tensors every model has with the same shape
	Mismatches []Mismatch // tensors missing somewhere or shaped differently
}

// Mismatch is one tensor that does not line up across the models.
type Mismatch struct {
	Tensor string
	Detail string
}

// OK reports whether the models can be merged tensor by tensor.
func (c Compat) OK() bool { return c.Models >= 1 && len(c.Mismatches) == 0 }

// Summary is the one-line description the model list shows.
func (c Compat) Summary() string {
	switch {
	case c.Models == 0:
		return "Drop checkpoints to start."
	case c.Models == 1:
		return fmt.Sprintf("1 model, %d tensors. Add another to merge.", c.Shared)
	case c.OK():
		return fmt.Sprintf("%d models share all %d tensors: ready to merge.", c.Models, c.Shared)
	}
	return fmt.Sprintf("%d models share %d tensors; %d do not line up (listed below).", c.Models, c.Shared, len(c.Mismatches))
}

// Compatibility compares the readable models by tensor name and shape.
func Compatibility(models []ModelFile) Compat {
	var ok []ModelFile
	for _, m := range models {
		if m.Error == "" && !m.IsAdapter() {
			ok = append(ok, m)
		}
	}
	c := Compat{Models: len(ok)}
	if len(ok) == 0 {
		return c
	}
	shapes := make([]map[string][]int64, len(ok))
	all := map[string]bool{}
	var order []string
	for i, m := range ok {
		shapes[i] = map[string][]int64{}
		for _, t := range m.Tensors {
			shapes[i][t.Name] = t.Shape
			if !all[t.Name] {
				all[t.Name] = true
				order = append(order, t.Name)
			}
		}
	}
	for _, name := range order {
		var missing []string
		var shapesSeen []string
		first, same := []int64(nil), true
		for i, m := range ok {
			s, has := shapes[i][name]
			if !has {
				missing = append(missing, m.Name)
				continue
			}
			if first == nil {
				first = s
			} else if !slices.Equal(first, s) {
				same = false
			}
			shapesSeen = append(shapesSeen, fmt.Sprintf("%s %v", m.Name, s))
		}
		switch {
		case len(missing) > 0:
			c.Mismatches = append(c.Mismatches, Mismatch{name, "missing in " + strings.Join(missing, ", ")})
		case !same:
			c.Mismatches = append(c.Mismatches, Mismatch{name, "shapes differ: " + strings.Join(shapesSeen, "; ")})
		default:
			c.Shared++
		}
	}
	return c
}
