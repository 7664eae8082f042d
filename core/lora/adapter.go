package lora

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"ladle/core/ckpt"
)

// KeyPrefix starts every key PEFT's save_pretrained writes for a LoRA model.
const KeyPrefix = "base_model.model."

const (
	suffixA = ".lora_A.weight"
	suffixB = ".lora_B.weight"
)

// Adapter is an opened PEFT adapter: its config and its lora_A/lora_B pairs, checked
// against each other. Close releases the weights file.
type Adapter struct {
	// Dir is the adapter folder as the recipe names it.
	Dir     string
	Config  *Config
	Weights ckpt.Source
	// Pairs are the adapted modules, sorted by name.
	Pairs []Pair
}

// Pair is one adapted module M: lora_A [r, in] and lora_B [out, r] change M.weight.
type Pair struct {
	Module string
	A, B   ckpt.Info
	Rank   int
	Scale  float64
}

// Target is the name of the base tensor the pair changes.
func (p Pair) Target() string { return p.Module + ".weight" }

// AdapterError is a problem with an adapter's tensors: it names the folder's weights
// file and the key.
type AdapterError struct {
	File string
	Key  string
	Msg  string
}

func (e *AdapterError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s: tensor %q: %s", e.File, e.Key, e.Msg)
}

// Open opens the PEFT adapter folder dir: read reads adapter_config.json, open opens
// adapter_model.safetensors, else adapter_model.bin. When the folder has no config,
// the error satisfies errors.Is(err, fs.ErrNotExist).
func Open(dir string, open func(path string) (ckpt.Source, error), read func(path string) ([]byte, error)) (*Adapter, error) {
	cfgPath := path.Join(dir, ConfigFile)
	data, err := read(cfgPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a PEFT adapter folder: it has no %s (%w)", dir, ConfigFile, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("%s: %v", cfgPath, err)
	}
	cfg, err := ParseConfig(data, cfgPath)
	if err != nil {
		return nil, err
	}
	weights, err := open(path.Join(dir, WeightsFile))
	if errors.Is(err, fs.ErrNotExist) {
		weights, err = open(path.Join(dir, WeightsFileTorch))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("the adapter folder %s holds neither %s nor %s", dir, WeightsFile, WeightsFileTorch)
		}
	}
	if err != nil {
		return nil, err
	}
	a, err := New(dir, cfg, weights)
	if err != nil {
		weights.Close()
		return nil, err
	}
	return a, nil
}

// New checks an adapter's weights against its config and pairs them up. It reads
// only the weights' index.
func New(dir string, cfg *Config, weights ckpt.Source) (*Adapter, error) {
	file := weights.Path()
	if file == "" {
		file = path.Join(dir, WeightsFile)
	}
	bad := func(key, format string, args ...any) error {
		return &AdapterError{File: file, Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	as, bs := map[string]ckpt.Info{}, map[string]ckpt.Info{}
	for _, t := range weights.Tensors() {
		k := t.Name
		switch {
		case strings.Contains(k, "lora_embedding_"):
			return nil, bad(k, "an embedding LoRA (lora_embedding_A/B) is not supported; Ladle applies lora_A/lora_B pairs of linear layers")
		case strings.Contains(k, "lora_magnitude_vector"):
			return nil, bad(k, "a DoRA magnitude vector is not supported; merge the adapter into its model with PEFT's merge_and_unload first")
		case !strings.HasPrefix(k, KeyPrefix):
			return nil, bad(k, "not a key PEFT writes for a LoRA model (they start with %q)", KeyPrefix)
		case strings.HasSuffix(k, suffixA):
			as[strings.TrimSuffix(strings.TrimPrefix(k, KeyPrefix), suffixA)] = t
		case strings.HasSuffix(k, suffixB):
			bs[strings.TrimSuffix(strings.TrimPrefix(k, KeyPrefix), suffixB)] = t
		case strings.HasSuffix(k, ".bias"):
			return nil, bad(k, "the adapter trains biases (PEFT's bias: all or lora_only), which Ladle does not apply; save the adapter with bias: none")
		case strings.Contains(k, "modules_to_save"):
			return nil, bad(k, "a full copy of a module (PEFT's modules_to_save) is not supported; Ladle applies lora_A/lora_B pairs only")
		default:
			return nil, bad(k, "not a lora_A or lora_B weight; Ladle applies lora_A/lora_B pairs of linear layers only")
		}
	}
	a := &Adapter{Dir: dir, Config: cfg, Weights: weights}
	for m, ta := range as {
		tb, ok := bs[m]
		if !ok {
			return nil, bad(ta.Name, "has no partner %s", KeyPrefix+m+suffixB)
		}
		if !ta.DType.IsFloat() || !tb.DType.IsFloat() {
			return nil, bad(ta.Name, "lora_A is %s and lora_B %s; both must be floating-point", ta.DType, tb.DType)
		}
		if len(ta.Shape) != 2 || len(tb.Shape) != 2 {
			return nil, bad(ta.Name, "lora_A is %v and lora_B %v; a LoRA of a linear layer has 2-D factors (convolution LoRAs are not supported)", ta.Shape, tb.Shape)
		}
		r := ta.Shape[0]
		if tb.Shape[1] != r {
			return nil, bad(tb.Name, "lora_B is %v but lora_A is %v: B's columns must equal A's rows (the rank)", tb.Shape, ta.Shape)
		}
		if want := cfg.Rank(m); int64(want) != r {
			return nil, bad(ta.Name, "rank %d, but %s gives this module r = %d (check r and rank_pattern)", r, ConfigFile, want)
		}
		a.Pairs = append(a.Pairs, Pair{Module: m, A: ta, B: tb, Rank: int(r), Scale: cfg.Scale(m)})
	}
	for m, tb := range bs {
		if _, ok := as[m]; !ok {
			return nil, bad(tb.Name, "has no partner %s", KeyPrefix+m+suffixA)
		}
	}
	if len(a.Pairs) == 0 {
		return nil, bad("", "holds no lora_A/lora_B pairs")
	}
	sort.Slice(a.Pairs, func(i, j int) bool { return a.Pairs[i].Module < a.Pairs[j].Module })
	return a, nil
}

// Close releases the adapter's weights file.
func (a *Adapter) Close() error { return a.Weights.Close() }
