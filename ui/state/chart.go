package state

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Chart is the geometry of an interpolation chart, ready for an inline <svg> with
// viewBox "0 0 Width Height": accuracy (left axis) and loss (right axis) against alpha.
// Coordinates are formatted strings so the template only places them.
type Chart struct {
	Width, Height int
	// The plot box.
	Left, Right, Top, Bottom string
	// Polyline points ("x,y x,y ...") and the dots with their tooltips.
	AccPoints, LossPoints string
	AccDots, LossDots     []Dot
	// The aligned path, drawn dashed, when the curve has one ("" otherwise).
	AlignedAccPoints, AlignedLossPoints string
	XTicks                              []Tick // below the plot, X holds the position
	AccTicks, LossTicks                 []Tick // left and right, Y holds the position
	// Summary describes the curve in words, for screen readers and the caption.
	Summary string
}

// Dot is one data point.
type Dot struct {
	X, Y  string
	Label string
}

// Tick is one axis label at (X, Y); At is the tick's position along its axis (the y of
// a grid line for the value axes, the x for alpha).
type Tick struct {
	X, Y  string
	At    string
	Label string
}

const (
	chartW, chartH = 480, 260
	plotL, plotR   = 52.0, 428.0
	plotT, plotB   = 14.0, 214.0
)

func coord(v float64) string { return fmt.Sprintf("%.1f", v) }

// CurveChart lays out a curve; nil when it has fewer than two points.
func CurveChart(curve []CurvePoint) *Chart {
	if len(curve) < 2 {
		return nil
	}
	pts := append([]CurvePoint(nil), curve...)
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].Alpha < pts[j].Alpha })
	x0, x1 := pts[0].Alpha, pts[len(pts)-1].Alpha
	if x1 == x0 {
		x1 = x0 + 1
	}
	accLo, accHi := 1.0, 0.0
	lossHi := 0.0
	aligned := true
	for _, p := range pts {
		accLo, accHi = math.Min(accLo, p.Accuracy), math.Max(accHi, p.Accuracy)
		lossHi = math.Max(lossHi, p.Loss)
		if p.AlignedLoss == nil || p.AlignedAccuracy == nil {
			aligned = false
			continue
		}
		accLo, accHi = math.Min(accLo, *p.AlignedAccuracy), math.Max(accHi, *p.AlignedAccuracy)
		lossHi = math.Max(lossHi, *p.AlignedLoss)
	}
	// accuracy axis: from a tenth below the lowest point to 100%
	accLo = math.Max(0, math.Floor(accLo*10-0.5)/10)
	accHi = 1
	lossStep := niceStep(lossHi / 4)
	lossTop := lossStep * 4
	if lossTop <= 0 {
		lossTop, lossStep = 1, 0.25
	}
	for lossTop < lossHi {
		lossTop += lossStep
	}
	xs := func(a float64) float64 { return plotL + (a-x0)/(x1-x0)*(plotR-plotL) }
	ya := func(v float64) float64 { return plotB - (v-accLo)/(accHi-accLo)*(plotB-plotT) }
	yl := func(v float64) float64 { return plotB - v/lossTop*(plotB-plotT) }
	c := &Chart{Width: chartW, Height: chartH, Left: coord(plotL), Right: coord(plotR), Top: coord(plotT), Bottom: coord(plotB)}
	var acc, loss []string
	best := pts[0]
	for _, p := range pts {
		x, a, l := xs(p.Alpha), ya(p.Accuracy), yl(p.Loss)
		acc = append(acc, coord(x)+","+coord(a))
		loss = append(loss, coord(x)+","+coord(l))
		c.AccDots = append(c.AccDots, Dot{coord(x), coord(a), fmt.Sprintf("alpha %g: accuracy %s", p.Alpha, Percent(p.Accuracy))})
		c.LossDots = append(c.LossDots, Dot{coord(x), coord(l), fmt.Sprintf("alpha %g: loss %.3g", p.Alpha, p.Loss)})
		if p.Accuracy > best.Accuracy {
			best = p
		}
	}
	c.AccPoints, c.LossPoints = strings.Join(acc, " "), strings.Join(loss, " ")
	if aligned {
		var aacc, aloss []string
		for _, p := range pts {
			x := coord(xs(p.Alpha))
			aacc = append(aacc, x+","+coord(ya(*p.AlignedAccuracy)))
			aloss = append(aloss, x+","+coord(yl(*p.AlignedLoss)))
		}
		c.AlignedAccPoints, c.AlignedLossPoints = strings.Join(aacc, " "), strings.Join(aloss, " ")
	}
	for i := 0; i <= 4; i++ {
		a := x0 + (x1-x0)*float64(i)/4
		c.XTicks = append(c.XTicks, Tick{X: coord(xs(a)), Y: coord(plotB + 18), At: coord(xs(a)), Label: trimFloat(a)})
		v := accLo + (accHi-accLo)*float64(i)/4
		c.AccTicks = append(c.AccTicks, Tick{X: coord(plotL - 6), Y: coord(ya(v) + 4), At: coord(ya(v)), Label: trimFloat(math.Round(v*1000)/10) + "%"})
		l := lossTop * float64(i) / 4
		c.LossTicks = append(c.LossTicks, Tick{X: coord(plotR + 6), Y: coord(yl(l) + 4), At: coord(yl(l)), Label: trimFloat(l)})
	}
	c.Summary = fmt.Sprintf("Accuracy and loss of the models between alpha %s and %s; the best accuracy, %s, is at alpha %s.",
		trimFloat(x0), trimFloat(pts[len(pts)-1].Alpha), Percent(best.Accuracy), trimFloat(best.Alpha))
	return c
}

// niceStep rounds a step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || !finite(raw) {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(f float64) string {
	s := fmt.Sprintf("%.3f", f)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s
}
