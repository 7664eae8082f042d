// Package spec is a merge recipe as data: the types package recipe parses YAML
// into, their canonical text, and the names of the `ladle:` block. It links no YAML
// library, so that the playground's page program can hold, edit and write recipes
// while parsing and checking stay in the engine workers (package recipe).
//
// Invariants:
//
//   - Normalise is the one canonical form: package recipe installs the YAML
//     library's writer, and without it Text writes the same bytes for the recipes a
//     form writes (tested on a corpus in package recipe); whatever Text writes
//     parses back to the same recipe (fuzzed).
//   - Normalising twice gives the same bytes, and model paths stay as written
//     (never resolved to absolute paths, which would leak the author's folders into
//     a shared checkpoint).
//   - A recipe has models or slices, never both.
package spec
