package recipe

import "ladle/core/recipe/spec"

// The recipe as data lives in package spec, which links no YAML library (the page
// program uses it); this package parses it from YAML and writes the canonical YAML.
type (
	Recipe      = spec.Recipe
	Model       = spec.Model
	Slice       = spec.Slice
	SliceSource = spec.SliceSource
	Options     = spec.Options
	EvalOptions = spec.EvalOptions
	Setting     = spec.Setting
	Cond        = spec.Cond
)

// Defaults of the Ladle-only options.
const (
	TrimScopeTensor   = spec.TrimScopeTensor
	TrimScopeModel    = spec.TrimScopeModel
	RescalePaper      = spec.RescalePaper
	RescaleL1         = spec.RescaleL1
	SparseRequire     = spec.SparseRequire
	DefaultTrimScope  = spec.DefaultTrimScope
	DefaultRescaleMod = spec.DefaultRescaleMod
)

// Scalar returns a Setting holding one value.
func Scalar(v any) Setting { return spec.Scalar(v) }
