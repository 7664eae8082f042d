package lora

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/gonum/mat"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
)

// Report is what Extract wrote, tensor by tensor.
type Report struct {
	Rank    int
	Tensors []TensorReport
	// Skipped are the tensors that changed but that a LoRA adapter cannot carry
	// (not 2-D, not a .weight, not floating-point), with why.
	Skipped []Skipped
}

// TensorReport is one extracted matrix: its rank and its relative reconstruction
// error ‖δ − B·A‖F / ‖δ‖F, measured on the factors as written (F32).
type TensorReport struct {
	Name     string  `json:"name"`
	Rank     int     `json:"rank"`
	Norm     float64 `json:"delta_norm"`
	RelError float64 `json:"relative_error"`
	// Bound is the Eckart–Young error of the exact rank-r SVD, relative to ‖δ‖F.
	Bound float64 `json:"eckart_young"`
}

// Skipped is a changed tensor the adapter leaves out.
type Skipped struct {
	Name string `json:"name"`
	Why  string `json:"why"`
}

// ExtractOptions tune Extract.
type ExtractOptions struct {
	// BaseName is written as base_model_name_or_path (default: the base's path).
	BaseName string
	// Progress, when set, is called after each tensor.
	Progress func(done, total int, name string)
}

// Extract writes the PEFT adapter folder dir holding the rank-r truncated SVD of
// every 2-D float .weight tensor that differs between ft and base (see the package
// doc). The folder appears whole or not at all; an existing adapter folder at dir is
// replaced, any other existing folder or file is an error.
func Extract(ctx context.Context, base, ft ckpt.Source, rank int, dir string, opt ExtractOptions) (*Report, error) {
	if rank < 1 {
		return nil, fmt.Errorf("rank %d: want a rank of at least 1", rank)
	}
	if err := checkTarget(dir); err != nil {
		return nil, err
	}
	baseInfo := map[string]ckpt.Info{}
	for _, t := range base.Tensors() {
		baseInfo[t.Name] = t
	}
	rep := &Report{Rank: rank}
	type factor struct {
		module string
		a, b   []float32
		r      int
		in     int
		out    int
	}
	var factors []factor
	fts := ft.Tensors()
	for n, t := range fts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, ok := baseInfo[t.Name]
		if !ok {
			return nil, fmt.Errorf("%s: tensor %q is not in the base %s: extract an adapter from a fine-tune of this base", ft.Path(), t.Name, base.Path())
		}
		if !slices.Equal(b.Shape, t.Shape) {
			return nil, fmt.Errorf("%s: tensor %q is %v, but %v in the base %s: extract an adapter from a fine-tune of this base", ft.Path(), t.Name, t.Shape, b.Shape, base.Path())
		}
		if !t.DType.IsFloat() || !b.DType.IsFloat() {
			continue
		}
		delta, err := readDelta(base, ft, b, t)
		if err != nil {
			return nil, err
		}
		if allZero(delta) {
			continue
		}
		switch {
		case len(t.Shape) != 2:
			rep.Skipped = append(rep.Skipped, Skipped{t.Name, fmt.Sprintf("%d-D: a LoRA adapter changes matrices only", len(t.Shape))})
			continue
		case !strings.HasSuffix(t.Name, ".weight"):
			rep.Skipped = append(rep.Skipped, Skipped{t.Name, "not a module's .weight, which PEFT keys need"})
			continue
		}
		rows, cols := int(t.Shape[0]), int(t.Shape[1])
		a, bm, r, tr, err := factorize(delta, rows, cols, rank)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %v", ft.Path(), t.Name, err)
		}
		tr.Name = t.Name
		rep.Tensors = append(rep.Tensors, tr)
		factors = append(factors, factor{module: strings.TrimSuffix(t.Name, ".weight"), a: a, b: bm, r: r, in: cols, out: rows})
		if opt.Progress != nil {
			opt.Progress(n+1, len(fts), t.Name)
		}
	}
	if len(factors) == 0 {
		return nil, fmt.Errorf("%s: no 2-D tensor differs from the base %s: there is nothing to extract", ft.Path(), base.Path())
	}
	// The config: r = rank, lora_alpha = r (scale 1); a matrix whose rank is below r
	// gets its own rank and alpha through the patterns.
	cfg := peftConfig{
		PeftType: "LORA", R: rank, LoraAlpha: float64(rank), FanInFanOut: false, Bias: "none",
		RankPattern: map[string]int{}, AlphaPattern: map[string]float64{}, InitLoraWeights: true,
		InferenceMode: true, BaseModel: opt.BaseName,
	}
	if cfg.BaseModel == "" {
		cfg.BaseModel = base.Path()
	}
	targets := map[string]bool{}
	var infos []ckpt.Info
	for _, f := range factors {
		if f.r != rank {
			cfg.RankPattern[f.module] = f.r
			cfg.AlphaPattern[f.module] = float64(f.r)
		}
		targets[f.module[strings.LastIndexByte(f.module, '.')+1:]] = true
		infos = append(infos,
			ckpt.Info{Name: KeyPrefix + f.module + suffixA, DType: dtype.F32, Shape: []int64{int64(f.r), int64(f.in)}},
			ckpt.Info{Name: KeyPrefix + f.module + suffixB, DType: dtype.F32, Shape: []int64{int64(f.out), int64(f.r)}})
	}
	for k := range targets {
		cfg.TargetModules = append(cfg.TargetModules, k)
	}
	sort.Strings(cfg.TargetModules)
	js, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	// Assembled in a staging folder that a signal's clean-up removes too.
	tmp, err := ckpt.MkdirStaging(filepath.Dir(filepath.Clean(dir)), "."+filepath.Base(filepath.Clean(dir))+".partial-")
	if err != nil {
		var oe *ckpt.OutputError
		if errors.As(err, &oe) {
			oe.Path = dir
		}
		return nil, err
	}
	defer ckpt.DoneStaging(tmp)
	defer os.RemoveAll(tmp)
	if err := ckpt.WriteFileAtomic(filepath.Join(tmp, ConfigFile), append(js, '\n')); err != nil {
		return nil, err
	}
	err = safetensors.WriteFile(filepath.Join(tmp, WeightsFile), infos, map[string]string{"format": "pt"}, func(w *safetensors.Writer) error {
		for i, f := range factors {
			if err := w.WriteTensor(infos[2*i].Name, f32Bytes(f.a)); err != nil {
				return err
			}
			if err := w.WriteTensor(infos[2*i+1].Name, f32Bytes(f.b)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	return rep, swapIn(tmp, dir)
}

// peftConfig is adapter_config.json as PEFT's LoraConfig writes it (the keys that
// matter for loading; PEFT fills the others with defaults).
type peftConfig struct {
	AlphaPattern    map[string]float64 `json:"alpha_pattern"`
	BaseModel       string             `json:"base_model_name_or_path"`
	Bias            string             `json:"bias"`
	FanInFanOut     bool               `json:"fan_in_fan_out"`
	InferenceMode   bool               `json:"inference_mode"`
	InitLoraWeights bool               `json:"init_lora_weights"`
	LoraAlpha       float64            `json:"lora_alpha"`
	LoraDropout     float64            `json:"lora_dropout"`
	ModulesToSave   []string           `json:"modules_to_save"`
	PeftType        string             `json:"peft_type"`
	R               int                `json:"r"`
	RankPattern     map[string]int     `json:"rank_pattern"`
	TargetModules   []string           `json:"target_modules"`
	UseDora         bool               `json:"use_dora"`
	UseRSLoRA       bool               `json:"use_rslora"`
}

// checkTarget refuses to replace anything but an adapter folder.
func checkTarget(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists and is a file: give -o a folder name", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err != nil {
		return fmt.Errorf("%s exists and is not an adapter folder (it has no %s): choose another -o, or empty it", dir, ConfigFile)
	}
	return nil
}

// swapIn moves the finished folder tmp to dir, replacing an old adapter there.
func swapIn(tmp, dir string) error {
	if _, err := os.Stat(dir); err == nil {
		old := tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return err
		}
		if err := os.Rename(tmp, dir); err != nil {
			os.Rename(old, dir)
			return err
		}
		return os.RemoveAll(old)
	}
	return os.Rename(tmp, dir)
}

func readDelta(base, ft ckpt.Source, b, t ckpt.Info) ([]float64, error) {
	x, err := readF64(ft, t)
	if err != nil {
		return nil, err
	}
	y, err := readF64(base, b)
	if err != nil {
		return nil, err
	}
	for i := range x {
		x[i] -= y[i]
	}
	return x, nil
}

func allZero(x []float64) bool {
	for _, v := range x {
		if v != 0 {
			return false
		}
	}
	return true
}

// factorize returns A = Vrᵀ [r, cols] and B = Ur·diag(Sr) [rows, r] of the rank-r
// truncated SVD of delta (rows x cols, float64), r = min(rank, rows, cols), with the
// error report. Each singular pair's sign is fixed so that the largest entry of its
// right vector is positive (ties: the first), making the bytes independent of the
// signs the SVD routine picks.
func factorize(delta []float64, rows, cols, rank int) (a, b []float32, r int, rep TensorReport, err error) {
	k := min(rows, cols)
	r = min(rank, k)
	for _, x := range delta {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, nil, 0, rep, errors.New("the difference holds NaN or Inf")
		}
	}
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(rows, cols, delta), mat.SVDThin) {
		return nil, nil, 0, rep, errors.New("the SVD did not converge")
	}
	s := svd.Values(nil)
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	a = make([]float32, r*cols)
	b = make([]float32, rows*r)
	for j := 0; j < r; j++ {
		sign := 1.0
		best := -1.0
		for c := 0; c < cols; c++ {
			if x := math.Abs(v.At(c, j)); x > best {
				best, sign = x, math.Copysign(1, v.At(c, j))
			}
		}
		for c := 0; c < cols; c++ {
			a[j*cols+c] = float32(sign * v.At(c, j))
		}
		for i := 0; i < rows; i++ {
			b[i*r+j] = float32(sign * u.At(i, j) * s[j])
		}
	}
	var total, tail float64
	for j, x := range s {
		total += float64(x * x) // products rounded: no fused multiply-add
		if j >= r {
			tail += float64(x * x)
		}
	}
	// The error of the factors as written: ‖δ − B·A‖F, in float64.
	var errSq float64
	for i := 0; i < rows; i++ {
		for c := 0; c < cols; c++ {
			var sum float64
			for j := 0; j < r; j++ {
				sum += float64(float64(b[i*r+j]) * float64(a[j*cols+c]))
			}
			d := delta[i*cols+c] - sum
			errSq += float64(d * d)
		}
	}
	norm := math.Sqrt(total)
	rep = TensorReport{Rank: r, Norm: norm, RelError: math.Sqrt(errSq) / norm, Bound: math.Sqrt(tail) / norm}
	return a, b, r, rep, nil
}

func f32Bytes(x []float32) []byte {
	out := make([]byte, 4*len(x))
	for i, v := range x {
		bits := math.Float32bits(v)
		out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
	}
	return out
}
