package state

// EvalTask is one evaluate request of an evaluation: the models a worker scores
// whole, or (Parts > 1) part Part of Parts of one model's samples.
type EvalTask struct {
	Worker      int
	Models      []string
	Part, Parts int
}

// PlanEval spreads an evaluation of models over workers engine workers. With at least
// as many models as workers, each worker scores whole models (model i on worker i mod
// workers), as splitting would only add work. With fewer, the idle workers take parts
// of the models' samples: every worker gets one request, and each model is split over
// about workers/len(models) of them (the first models take one more), so that no
// model takes longer than it would whole in one worker. The parts of a model combine
// exactly (wire.CombineEval), so the split changes no figure.
func PlanEval(models []string, workers int) []EvalTask {
	workers = max(workers, 1)
	if len(models) == 0 {
		return nil
	}
	if len(models) >= workers {
		tasks := make([]EvalTask, workers)
		for i := range tasks {
			tasks[i] = EvalTask{Worker: i, Parts: 1}
		}
		for i, m := range models {
			tasks[i%workers].Models = append(tasks[i%workers].Models, m)
		}
		return tasks
	}
	var tasks []EvalTask
	w := 0
	for i, m := range models {
		parts := workers / len(models)
		if i < workers%len(models) {
			parts++
		}
		for p := range parts {
			tasks = append(tasks, EvalTask{Worker: w, Models: []string{m}, Part: p, Parts: parts})
			w++
		}
	}
	return tasks
}

// EvalWorkers is how many workers a plan keeps busy.
func EvalWorkers(tasks []EvalTask) int {
	seen := map[int]bool{}
	for _, t := range tasks {
		if len(t.Models) > 0 {
			seen[t.Worker] = true
		}
	}
	return len(seen)
}
