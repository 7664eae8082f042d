package recipe

import (
	"strconv"
	"strings"
)

// LayerPositions gives each tensor its position t in [0, 1] along the network, the
// variable gradients are interpolated over, following mergekit's rule for the layers
// of a stack: layer i of n has t = i/(n−1) (t = 1 when n = 1), tensors before the
// first layer (embeddings) have t = 0 and tensors after the last (heads) t = 1.
//
// Layers are found from the names, in checkpoint order:
//   - if names have a numbered component ("model.layers.7.mlp.weight", "blocks.3.w"),
//     each distinct number is a layer, ordered by value;
//   - otherwise each module (the name without its last component: "conv1" of
//     "conv1.weight") is a layer, in order of first appearance, so that a small CNN's
//     conv1, conv2, fc1 ... get increasing positions.
func LayerPositions(names []string) map[string]float64 {
	out := make(map[string]float64, len(names))
	indices := map[int]bool{}
	var numbered []int
	for _, n := range names {
		if i, ok := layerIndex(n); ok && !indices[i] {
			indices[i] = true
			numbered = append(numbered, i)
		}
	}
	if len(numbered) > 0 {
		rank := sortedRanks(numbered)
		seenLayer := false
		for _, n := range names {
			if i, ok := layerIndex(n); ok {
				seenLayer = true
				out[n] = position(rank[i], len(rank))
			} else if seenLayer {
				out[n] = 1
			} else {
				out[n] = 0
			}
		}
		return out
	}
	groups := map[string]int{}
	var order []string
	for _, n := range names {
		m := module(n)
		if _, ok := groups[m]; !ok {
			groups[m] = len(order)
			order = append(order, m)
		}
	}
	for _, n := range names {
		out[n] = position(groups[module(n)], len(order))
	}
	return out
}

func position(i, n int) float64 {
	if n <= 1 {
		return 1
	}
	return float64(i) / float64(n-1)
}

// layerIndex finds the first all-digit component of a dotted name.
func layerIndex(name string) (int, bool) {
	for _, part := range strings.Split(name, ".") {
		if part == "" {
			continue
		}
		if i, err := strconv.Atoi(part); err == nil && i >= 0 && part[0] != '+' && part[0] != '-' {
			return i, true
		}
	}
	return 0, false
}

func module(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[:i]
	}
	return ""
}

// sortedRanks maps each distinct index to its rank in ascending order.
func sortedRanks(idx []int) map[int]int {
	sorted := append([]int(nil), idx...)
	for i := 1; i < len(sorted); i++ { // insertion sort: layer counts are small
		for j := i; j > 0 && sorted[j] < sorted[j-1]; j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	rank := make(map[int]int, len(sorted))
	for r, i := range sorted {
		rank[i] = r
	}
	return rank
}
