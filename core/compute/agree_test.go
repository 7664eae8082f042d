package compute

import "testing"

func TestAgree(t *testing.T) {
	cpu := []float32{0, 1, 2, 5, 5.00005, 1}
	labels := []int{2, 0}
	// the same outputs agree; the near-tie is counted
	a := Agree(cpu, cpu, 3, labels)
	if !a.OK() || a.NearTies != 1 || a.Disagree != 0 || a.LossRel != 0 {
		t.Errorf("same outputs: %+v", a)
	}
	// swapping the near-tie's classes is allowed; changing a clear winner is not
	swapped := []float32{0, 1, 2, 5.00005, 5, 1}
	if a := Agree(cpu, swapped, 3, labels); a.Disagree != 0 || a.NearTies != 1 {
		t.Errorf("near-tie swapped: %+v", a)
	}
	wrong := []float32{0, 2.5, 2, 5, 5.00005, 1}
	if a := Agree(cpu, wrong, 3, labels); a.Disagree != 1 || a.OK() {
		t.Errorf("clear winner changed: %+v", a)
	}
	// a loss off by more than 1e-5 relative fails
	shifted := []float32{0, 1, 2.001, 5, 5.00005, 1}
	if a := Agree(cpu, shifted, 3, labels); a.OK() || a.LossRel <= LossRel {
		t.Errorf("loss shifted: %+v", a)
	}
}
