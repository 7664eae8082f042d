package merge

// checkSparse enforces `ladle: {sparse: require}`: every input (the base, when the
// method uses one, and every model) must have its exact zeros at the same positions.
// With the same pattern, every method keeps those zeros exactly (the arithmetic maps
// 0s to 0); this turns a silent densification into an error.
func checkSparse(j *Job) error {
	type input struct {
		name string
		x    []float32
	}
	var ins []input
	if j.method.NeedsBase {
		ins = append(ins, input{"the base model", j.Base})
	}
	for i, x := range j.Models {
		ins = append(ins, input{j.modelName(i), x})
	}
	if len(ins) < 2 {
		return nil
	}
	ref := ins[0]
	for _, in := range ins[1:] {
		for e, v := range in.x {
			if (v == 0) != (ref.x[e] == 0) {
				zero, other := ref.name, in.name
				if v == 0 {
					zero, other = in.name, ref.name
				}
				return j.errorf("sparse: require, but the inputs' zero patterns differ (element %d is 0 in %s and not in %s); prune every model with the same mask, or drop `sparse: require` to merge anyway", e, zero, other)
			}
		}
	}
	return nil
}
