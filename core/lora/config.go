package lora

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"ladle/core/lora/ref"
)

// ConfigFile and the weight files are the names PEFT's save_pretrained writes.
const (
	ConfigFile       = ref.ConfigFile
	WeightsFile      = ref.WeightsFile
	WeightsFileTorch = ref.WeightsFileTorch
)

// Config is what Ladle reads of adapter_config.json.
type Config struct {
	PeftType     string
	R            int
	Alpha        float64
	UseRSLoRA    bool
	FanInFanOut  bool
	RankPattern  []Pattern // in the file's order: the first match wins
	AlphaPattern []Pattern
	// TargetModules is kept for reports only: the file's pairs decide what changes.
	TargetModules []string
	// BaseModel is base_model_name_or_path, for reports.
	BaseModel string
}

// Pattern is one entry of rank_pattern or alpha_pattern.
type Pattern struct {
	Key   string
	Value float64
}

// rawConfig mirrors the JSON keys Ladle reads or refuses.
type rawConfig struct {
	PeftType         *string         `json:"peft_type"`
	R                *float64        `json:"r"`
	Alpha            *float64        `json:"lora_alpha"`
	UseRSLoRA        *bool           `json:"use_rslora"`
	FanInFanOut      *bool           `json:"fan_in_fan_out"`
	UseDoRA          *bool           `json:"use_dora"`
	RankPattern      json.RawMessage `json:"rank_pattern"`
	AlphaPattern     json.RawMessage `json:"alpha_pattern"`
	TargetModules    json.RawMessage `json:"target_modules"`
	LayerReplication json.RawMessage `json:"layer_replication"`
	BaseModel        *string         `json:"base_model_name_or_path"`
}

// ConfigError is a problem with adapter_config.json.
type ConfigError struct {
	File string
	Key  string // the JSON key at fault, "" for the file as a whole
	Msg  string
}

func (e *ConfigError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.File, e.Key, e.Msg)
}

// ParseConfig reads adapter_config.json. file names it in errors.
func ParseConfig(data []byte, file string) (*Config, error) {
	bad := func(key, format string, args ...any) error {
		return &ConfigError{File: file, Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	var raw rawConfig
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, bad("", "not an adapter config PEFT writes (%v)", err)
	}
	c := &Config{PeftType: "LORA"}
	if raw.PeftType != nil {
		c.PeftType = *raw.PeftType
	}
	if c.PeftType != "LORA" {
		return nil, bad("peft_type", "%q adapters are not LoRA adapters; Ladle applies LORA only", c.PeftType)
	}
	if raw.R == nil {
		return nil, bad("r", "missing: the adapter's rank")
	}
	r := *raw.R
	if r != math.Trunc(r) || r < 1 || r > 1<<20 {
		return nil, bad("r", "%v is not a rank (a whole number from 1)", r)
	}
	c.R = int(r)
	if raw.Alpha == nil {
		c.Alpha = 8 // LoraConfig's default
	} else {
		c.Alpha = *raw.Alpha
	}
	if math.IsNaN(c.Alpha) || math.IsInf(c.Alpha, 0) {
		return nil, bad("lora_alpha", "%v is not a finite number", c.Alpha)
	}
	if raw.UseRSLoRA != nil {
		c.UseRSLoRA = *raw.UseRSLoRA
	}
	if raw.FanInFanOut != nil {
		c.FanInFanOut = *raw.FanInFanOut
	}
	if raw.UseDoRA != nil && *raw.UseDoRA {
		return nil, bad("use_dora", "DoRA adapters (weight-decomposed LoRA) are not supported; merge the adapter into its model with PEFT's merge_and_unload first")
	}
	if len(raw.LayerReplication) > 0 && string(raw.LayerReplication) != "null" {
		return nil, bad("layer_replication", "adapters that replicate layers are not supported")
	}
	var err error
	if c.RankPattern, err = parsePatterns(raw.RankPattern); err != nil {
		return nil, bad("rank_pattern", "%v", err)
	}
	for _, p := range c.RankPattern {
		if p.Value != math.Trunc(p.Value) || p.Value < 1 || p.Value > 1<<20 {
			return nil, bad("rank_pattern", "%q: %v is not a rank (a whole number from 1)", p.Key, p.Value)
		}
	}
	if c.AlphaPattern, err = parsePatterns(raw.AlphaPattern); err != nil {
		return nil, bad("alpha_pattern", "%v", err)
	}
	if len(raw.TargetModules) > 0 {
		var list []string
		var one string
		switch {
		case json.Unmarshal(raw.TargetModules, &list) == nil:
			c.TargetModules = list
		case json.Unmarshal(raw.TargetModules, &one) == nil:
			c.TargetModules = []string{one}
		}
	}
	if raw.BaseModel != nil {
		c.BaseModel = *raw.BaseModel
	}
	return c, nil
}

// parsePatterns reads a JSON object of numbers keeping the file's key order, which
// decides which pattern wins when several match.
func parsePatterns(raw json.RawMessage) ([]Pattern, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("expected an object of module names to numbers")
	}
	var out []Pattern
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var v float64
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%q: expected a number", key)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%q: %v is not a finite number", key, v)
		}
		out = append(out, Pattern{Key: key, Value: v})
	}
	return out, nil
}

// match returns the value of the first pattern that module equals or ends with
// after a dot.
func match(ps []Pattern, module string) (float64, bool) {
	for _, p := range ps {
		if module == p.Key || strings.HasSuffix(module, "."+p.Key) {
			return p.Value, true
		}
	}
	return 0, false
}

// Rank is the rank the config gives module M (rank_pattern, else r).
func (c *Config) Rank(module string) int {
	if v, ok := match(c.RankPattern, module); ok {
		return int(v)
	}
	return c.R
}

// Scale is s for module M: lora_alpha/r, or lora_alpha/√r with use_rslora, each
// from its pattern when one matches.
func (c *Config) Scale(module string) float64 {
	alpha := c.Alpha
	if v, ok := match(c.AlphaPattern, module); ok {
		alpha = v
	}
	r := float64(c.Rank(module))
	if c.UseRSLoRA {
		return alpha / math.Sqrt(r)
	}
	return alpha / r
}
