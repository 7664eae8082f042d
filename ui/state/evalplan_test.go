package state

import (
	"fmt"
	"slices"
	"testing"
)

func TestPlanEval(t *testing.T) {
	for workers := 1; workers <= MaxWorkers; workers++ {
		for n := 1; n <= 6; n++ {
			var models []string
			for i := range n {
				models = append(models, fmt.Sprintf("m%d", i))
			}
			tasks := PlanEval(models, workers)
			// every model is scored: whole once, or in parts 0..Parts-1 exactly once each
			parts := map[string][]int{}
			busy := map[int]int{}
			for _, task := range tasks {
				if task.Worker < 0 || task.Worker >= workers {
					t.Fatalf("%d models, %d workers: task on worker %d", n, workers, task.Worker)
				}
				busy[task.Worker]++
				if task.Parts > 1 && len(task.Models) != 1 {
					t.Errorf("%d models, %d workers: a part of %v", n, workers, task.Models)
				}
				for _, m := range task.Models {
					parts[m] = append(parts[m], task.Part)
					if task.Parts < 1 {
						t.Errorf("%d models, %d workers: %+v", n, workers, task)
					}
				}
			}
			for _, m := range models {
				p := parts[m]
				slices.Sort(p)
				count := len(p)
				for i, x := range p {
					if x != i {
						t.Errorf("%d models, %d workers: %s has parts %v", n, workers, m, p)
					}
				}
				if n >= workers && count != 1 {
					t.Errorf("%d models, %d workers: %s split in %d although no worker is idle", n, workers, m, count)
				}
			}
			// each worker gets one request; all are busy when there is work for them
			for w, k := range busy {
				if k != 1 {
					t.Errorf("%d models, %d workers: worker %d has %d requests", n, workers, w, k)
				}
			}
			if got := EvalWorkers(tasks); got != workers {
				t.Errorf("%d models, %d workers: %d workers busy", n, workers, got)
			}
		}
	}
	if PlanEval(nil, 2) != nil {
		t.Error("a plan for no models")
	}
	// one model on two workers: two halves
	if got := PlanEval([]string{"a"}, 2); len(got) != 2 || got[1].Worker != 1 || !slices.Equal(got[1].Models, []string{"a"}) || got[1].Part != 1 || got[1].Parts != 2 {
		t.Errorf("one model on two workers: %+v", got)
	}
}
