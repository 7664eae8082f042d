package merge

const mergekitPaper = "Arcee's MergeKit: A Toolkit for Merging Large Language Models (Goddard et al., 2024), https://arxiv.org/abs/2403.13257"

var passthroughMethod = &Method{
	Name: "passthrough",
	Summary: "Passes one model's tensors through, optionally scaled: θ = scale·θ₁. With `slices:` it assembles a model from layer ranges of several models " +
		"(mergekit's frankenmerge, as in SOLAR's depth up-scaling, arxiv.org/abs/2312.15166).",
	Paper: mergekitPaper,
	Params: []Param{
		{Name: "scale", Type: Float, Default: nil, PerModel: true,
			Doc: "Multiplies the model's tensors (often with a filter, e.g. [{filter: down_proj, value: 0.5}]); unset: an exact copy."},
	},
	MinModels: 1, MaxModels: 1,
	merge: mergePassthrough,
}

func mergePassthrough(j *Job, out []float32) error {
	x := j.Models[0]
	v := j.lookup(0, "scale")
	if v == nil {
		copy(out, x)
		return nil
	}
	s, _ := toFloat(v)
	return j.run(out, 0, func(_ *scratch, lo, hi int) {
		for e := lo; e < hi; e++ {
			out[e] = float32(s * float64(x[e]))
		}
	})
}
