package spec

import (
	"fmt"
	"sort"
	"strings"
)

// LadleKeys are the keys of the recipe's `ladle:` block.
var LadleKeys = []string{"seed", "trim_scope", "rescale_mode", "allow_nonfinite", "sparse", "threads", "align", "eval"}

// IsLadleKey reports whether name is a setting of the `ladle:` block.
func IsLadleKey(name string) bool {
	for _, k := range LadleKeys {
		if k == name {
			return true
		}
	}
	return false
}

// DidYouMean suggests the closest known name (" (did you mean %q?)"), or returns "".
func DidYouMean(name string, known []string) string {
	best, bestD := "", max(3, 1+len(name)/3)
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	for _, k := range sorted {
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// MsgNoModels is the parser's message for a recipe that lists no models, which the
// page tells apart (the message, not its type, crosses from the engine worker): there
// an unknown merge_method is said first, as the form follows the method.
const MsgNoModels = "missing: list the models to merge (models: [{model: a.safetensors}, ...])"
