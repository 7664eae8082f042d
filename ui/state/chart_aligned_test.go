package state

import (
	"strings"
	"testing"
)

// A curve with an aligned path (the re-basin lab) draws it too, on the same axes.
func TestCurveChartAlignedPath(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	curve := []CurvePoint{
		{Alpha: 0, Loss: 0.2, Accuracy: 0.96, AlignedLoss: f(0.2), AlignedAccuracy: f(0.96)},
		{Alpha: 0.5, Loss: 1.2, Accuracy: 0.6, AlignedLoss: f(0.25), AlignedAccuracy: f(0.95)},
		{Alpha: 1, Loss: 0.2, Accuracy: 0.95, AlignedLoss: f(0.2), AlignedAccuracy: f(0.95)},
	}
	c := CurveChart(curve)
	if c == nil || c.AlignedAccPoints == "" || c.AlignedLossPoints == "" {
		t.Fatalf("no aligned path: %+v", c)
	}
	if n := len(strings.Fields(c.AlignedAccPoints)); n != 3 {
		t.Errorf("%d aligned points, want 3", n)
	}
	plain := CurveChart([]CurvePoint{{Alpha: 0, Loss: 1, Accuracy: 0.5}, {Alpha: 1, Loss: 1, Accuracy: 0.5}})
	if plain.AlignedAccPoints != "" {
		t.Error("a curve without an alignment drew an aligned path")
	}
}
