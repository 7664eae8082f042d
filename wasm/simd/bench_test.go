//go:build js && wasm

package simd

import (
	"math/rand/v2"
	"testing"
)

// benchProduct times the module's product on one of burn-mnist's shapes and reports
// GMAC/s (multiply-adds per second); the Go product's figure is the same shape with
// Install undone.
func benchProduct(b *testing.B, m, n, k int, implicit, module bool) {
	if module {
		install(b)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	np := (n + 15) &^ 15
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	a := fill(m * k)
	var bm []float32
	var rows []int32
	ldb := np
	if implicit {
		bm, ldb = fill(k+np+64), 0
		rows = make([]int32, k)
		for l := range rows {
			rows[l] = int32(l % 64)
		}
	} else {
		bm = fill(k * np)
	}
	c := make([]float32, m*np)
	bias := fill(m)
	// warm up: V8 runs a function's first calls in its baseline compiler while the
	// optimising one works in the background
	for range 200 {
		Product(m, np, k, a, k, bm, ldb, rows, c, np, bias, true)
	}
	b.ResetTimer()
	for b.Loop() {
		if !Product(m, np, k, a, k, bm, ldb, rows, c, np, bias, true) {
			b.Fatal("declined")
		}
	}
	b.ReportMetric(float64(m*np*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
}

func BenchmarkProductConv3(b *testing.B) { benchProduct(b, 24, 22*24, 144, true, true) }
func BenchmarkProductConv2(b *testing.B) { benchProduct(b, 16, 24*26, 72, true, true) }
func BenchmarkProductFC1(b *testing.B)   { benchProduct(b, 16, 32, 11616, false, true) }
