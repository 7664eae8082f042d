package eval

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"ladle/core/ckpt"
	_ "ladle/core/ckpt/safetensors" // datasets are safetensors files
	"ladle/core/dtype"
)

// ClassesKey is the metadata key that may name the classes: a JSON list whose i-th
// string is the name of label i (CSV imports with text labels write it).
const ClassesKey = "ladle.classes"

// Dataset is a labelled set of samples held in memory.
type Dataset struct {
	// Source names where the data came from (a file path), for errors.
	Source string
	// Split is the split's name; "" is the default split (tensors x and y).
	Split string
	// Shape is one sample's shape: x's shape without its first dimension.
	Shape []int
	// Exactly one of U8 and F32 holds the samples: Len() × Features() values, row-major.
	// Bytes stay bytes (a quarter of the memory); the model's input_scale maps them.
	U8  []uint8
	F32 []float32
	// Labels holds one class index (≥ 0) per sample.
	Labels []int
	// Classes optionally names the classes (nil when unknown).
	Classes []string
}

// NewDataset makes an in-memory dataset of float samples, each of the given shape.
func NewDataset(shape []int, x []float32, labels []int) (*Dataset, error) {
	d := &Dataset{Shape: append([]int(nil), shape...), F32: x, Labels: labels}
	return d, d.check()
}

// Len is the number of samples.
func (d *Dataset) Len() int { return len(d.Labels) }

// Features is the number of values of one sample.
func (d *Dataset) Features() int {
	n := 1
	for _, s := range d.Shape {
		n *= s
	}
	return n
}

// name is how errors refer to the dataset: its file and split.
func (d *Dataset) name() string {
	s := d.Source
	if s == "" {
		s = "dataset"
	}
	if d.Split != "" {
		s += " (split " + d.Split + ")"
	}
	return s
}

// check verifies that x and y agree and the labels are class indices.
func (d *Dataset) check() error {
	f := d.Features()
	for _, s := range d.Shape {
		if s <= 0 {
			return fmt.Errorf("%s: sample shape %v: every dimension must be positive", d.name(), d.Shape)
		}
	}
	nx := len(d.F32)
	if d.U8 != nil {
		nx = len(d.U8)
		if d.F32 != nil {
			return fmt.Errorf("%s: samples given both as bytes and as floats", d.name())
		}
	}
	if nx != len(d.Labels)*f {
		return fmt.Errorf("%s: x holds %d values, which is not %d samples (one per label in y) of %d values", d.name(), nx, len(d.Labels), f)
	}
	for i, y := range d.Labels {
		if y < 0 {
			return fmt.Errorf("%s: label y[%d] = %d is negative; labels are class indices 0, 1, ...", d.name(), i, y)
		}
	}
	return nil
}

// Batch writes samples [lo, hi) as float32 into dst (resized as needed) and returns it.
func (d *Dataset) Batch(dst []float32, lo, hi int) []float32 {
	f := d.Features()
	n := (hi - lo) * f
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	if d.U8 != nil {
		for i, v := range d.U8[lo*f : hi*f] {
			dst[i] = float32(v)
		}
	} else {
		copy(dst, d.F32[lo*f:hi*f])
	}
	return dst
}

// TestSplit is the name of the default split (tensors x and y).
const TestSplit = "test"

// Tensor names of a split: x and y for the default split "", x.NAME and y.NAME for
// split NAME (e.g. x.val, y.val), so that one file can hold train, val and test sets.
func tensorNames(split string) (x, y string) {
	if split == "" {
		return "x", "y"
	}
	return "x." + split, "y." + split
}

// SplitTensors names the tensors of a split in a file that holds the tensors has
// reports: x and y for the default split ""; for split "test" (TestSplit) x and y
// when the file holds both, else x.test and y.test; x.NAME and y.NAME for split NAME.
// FromSource, `ladle eval --split`, greedy soup's ladle.eval.split and the page's
// check all resolve a split by this rule.
func SplitTensors(split string, has func(name string) bool) (x, y string) {
	if split == TestSplit && has("x") && has("y") {
		split = ""
	}
	return tensorNames(split)
}

// Splits lists the splits of a dataset file: every x[.NAME] with a matching y[.NAME],
// the default split "" first.
func Splits(src ckpt.Source) []string {
	have := map[string]bool{}
	for _, t := range src.Tensors() {
		have[t.Name] = true
	}
	var out []string
	for _, t := range src.Tensors() {
		var split string
		if t.Name != "x" {
			s, ok := strings.CutPrefix(t.Name, "x.")
			if !ok || s == "" {
				continue
			}
			split = s
		}
		if _, y := tensorNames(split); have[y] {
			out = append(out, split)
		}
	}
	sort.Strings(out) // "" sorts first
	return out
}

// LoadDataset reads the default split of a dataset file: a safetensors file with x
// (N × sample shape, U8 or a float type) and y (N, an integer type, I64 as written
// here).
func LoadDataset(path string) (*Dataset, error) { return LoadSplit(path, "") }

// LoadSplit reads one split of a dataset file ("" for the default one).
func LoadSplit(path, split string) (*Dataset, error) {
	src, err := ckpt.Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return FromSource(src, split)
}

// FromSource reads one split of a dataset from an opened checkpoint (the browser
// opens files through ckpt.OpenReaderAt).
//
// Split "test" names the default split (x and y) of a file that has one, as the page
// and `ladle eval --split test` call it; a file without x and y may hold x.test and
// y.test instead.
func FromSource(src ckpt.Source, split string) (*Dataset, error) {
	xName, yName := SplitTensors(split, func(name string) bool { _, ok := ckpt.Lookup(src, name); return ok })
	if xName == "x" {
		split = ""
	}
	xi, okx := ckpt.Lookup(src, xName)
	yi, oky := ckpt.Lookup(src, yName)
	if !okx || !oky {
		missing := xName
		if okx {
			missing = yName
		}
		msg := fmt.Sprintf("%s: not a dataset with split %q: no tensor %q (a dataset holds x and y", src.Path(), split, missing)
		if s := Splits(src); len(s) > 0 {
			msg += fmt.Sprintf("; this file has splits %s", quoteSplits(s))
		}
		return nil, fmt.Errorf("%s)", msg)
	}
	d := &Dataset{Source: src.Path(), Split: split}
	if err := readX(src, xi, d); err != nil {
		return nil, err
	}
	if err := readY(src, yi, xi, d); err != nil {
		return nil, err
	}
	if d.Len() == 0 {
		return nil, fmt.Errorf("%s: tensor %q holds no samples", src.Path(), xName)
	}
	if s, ok := src.Metadata()[ClassesKey]; ok {
		if err := json.Unmarshal([]byte(s), &d.Classes); err != nil {
			return nil, fmt.Errorf("%s: metadata %q is not a JSON list of class names: %v", src.Path(), ClassesKey, err)
		}
	}
	return d, d.check()
}

func quoteSplits(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		if v == "" {
			v = "(default)"
		}
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

func readX(src ckpt.Source, xi ckpt.Info, d *Dataset) error {
	if len(xi.Shape) == 0 {
		return fmt.Errorf("%s: tensor %q is a scalar; want N × sample shape", src.Path(), xi.Name)
	}
	d.Shape = make([]int, 0, len(xi.Shape)-1)
	for _, s := range xi.Shape[1:] {
		if s <= 0 || s > math.MaxInt32 {
			return fmt.Errorf("%s: tensor %q has shape %v: sample dimensions must be positive", src.Path(), xi.Name, xi.Shape)
		}
		d.Shape = append(d.Shape, int(s))
	}
	raw, err := ckpt.ReadAll(src, xi.Name)
	if err != nil {
		return err
	}
	if xi.DType == dtype.U8 {
		d.U8 = raw
		return nil
	}
	if xi.DType == dtype.BOOL {
		return fmt.Errorf("%s: tensor %q is BOOL; samples must be U8 or floating-point", src.Path(), xi.Name)
	}
	d.F32 = make([]float32, xi.NumElements())
	if err := dtype.DecodeF32(d.F32, raw, xi.DType); err != nil {
		return fmt.Errorf("%s: tensor %q: %w", src.Path(), xi.Name, err)
	}
	return nil
}

func readY(src ckpt.Source, yi, xi ckpt.Info, d *Dataset) error {
	n := xi.Shape[0]
	if !(len(yi.Shape) == 1 || len(yi.Shape) == 2 && yi.Shape[1] == 1) {
		return fmt.Errorf("%s: tensor %q has shape %v; labels must be a vector [N]", src.Path(), yi.Name, yi.Shape)
	}
	if yi.Shape[0] != n {
		return fmt.Errorf("%s: %q holds %d samples but %q holds %d labels; they must match", src.Path(), xi.Name, n, yi.Name, yi.Shape[0])
	}
	var signed bool
	switch yi.DType {
	case dtype.I64, dtype.I32, dtype.I16, dtype.I8:
		signed = true
	case dtype.U64, dtype.U32, dtype.U16, dtype.U8:
	default:
		return fmt.Errorf("%s: tensor %q is %s; labels must be integers (I64)", src.Path(), yi.Name, yi.DType)
	}
	raw, err := ckpt.ReadAll(src, yi.Name)
	if err != nil {
		return err
	}
	size := yi.DType.Size()
	d.Labels = make([]int, n)
	for i := range d.Labels {
		b := raw[i*size : (i+1)*size]
		var u uint64
		switch size {
		case 1:
			u = uint64(b[0])
		case 2:
			u = uint64(binary.LittleEndian.Uint16(b))
		case 4:
			u = uint64(binary.LittleEndian.Uint32(b))
		case 8:
			u = binary.LittleEndian.Uint64(b)
		}
		v := int64(u)
		if signed { // sign-extend from the stored width
			shift := 64 - 8*size
			v = int64(u<<shift) >> shift
		}
		if v < 0 || v > math.MaxInt32 || !signed && u > math.MaxInt32 {
			return fmt.Errorf("%s: label %s[%d] = %d is not a class index (0 ≤ label < 2³¹)", src.Path(), yi.Name, i, v)
		}
		d.Labels[i] = int(v)
	}
	return nil
}
