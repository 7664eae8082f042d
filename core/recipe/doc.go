// Package recipe reads merge recipes in mergekit's YAML format, so that an existing
// mergekit configuration of whole models runs unchanged, plus a `ladle:` block for
// Ladle's own settings (seed, trim scope, rescale mode, ...), which mergekit ignores.
//
// A parameter's value is a scalar, a gradient (a list of numbers interpolated over the
// layers, see LayerPositions), or a list of {filter, value} conditions where the first
// filter that occurs in the tensor name wins. Lookups follow mergekit's precedence: a
// model's own parameters, then the global ones, then the method's default.
//
// YAML anchors, aliases and merge keys (`<<: *defaults`) are read as PyYAML reads
// them for mergekit: keys a mapping gives itself win over merged ones, and an earlier
// mapping in a `<<` list over a later one. Aliases may expand a recipe to at most
// maxExpandedValues values, so nested aliases cannot blow it up. Numbers are YAML's
// (0x10, 1_000, 1e-3); NaN and both infinities are refused.
//
// Invariants: Parse reads no checkpoint (validation against the method registry and the
// files happens before any tensor data is read, in the merge planner); errors carry the
// recipe file, the line and the key; Normalise gives canonical YAML that parses back to
// the same Recipe and is stored in every merged checkpoint's metadata under
// MetadataKey, so a result always says how it was made.
package recipe
