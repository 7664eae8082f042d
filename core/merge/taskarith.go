package merge

const (
	taskArithPaper   = "Editing Models with Task Arithmetic (Ilharco et al., 2023), https://arxiv.org/abs/2212.04089"
	tiesPaper        = "TIES-Merging: Resolving Interference When Merging Models (Yadav et al., 2023), https://arxiv.org/abs/2306.01708"
	darePaper        = "Language Models are Super Mario: Absorbing Abilities from Homologous Models as a Free Lunch (DARE, Yu et al., 2024), https://arxiv.org/abs/2311.03099"
	breadcrumbsPaper = "Model Breadcrumbs: Scaling Multi-Task Model Merging with Sparse Masks (Davari and Belilovsky, 2024), https://arxiv.org/abs/2312.06795"
	dellaPaper       = "DELLA-Merging: Reducing Interference in Model Merging through Magnitude-Based Sampling (Deep et al., 2024), https://arxiv.org/abs/2406.11617"
)

func normalizeParam(def bool, consensus bool) Param {
	doc := "Divide Σ wᵢδᵢ by Σ wᵢ (a sum with |Σ wᵢ| < 1e-8 counts as 1)."
	if consensus {
		doc = "Divide the agreeing entries' sum by the sum of their weights, Σ mᵢwᵢ (a sum of 0 counts as 1)."
	}
	return Param{Name: "normalize", Type: Bool, Default: def, Doc: doc}
}

func int8MaskParam() Param {
	return Param{Name: "int8_mask", Type: Bool, Default: false,
		Doc: "Accepted so mergekit recipes run unchanged; Ladle keeps masks exact and ignores it."}
}

// gtaParams are the parameters every member of the family takes.
func gtaParams(normalize, consensus bool, extra ...Param) []Param {
	ps := []Param{weightParam()}
	ps = append(ps, extra...)
	return append(ps, lambdaParam(), normalizeParam(normalize, consensus), int8MaskParam())
}

func gtaMethod(name, summary, paper string, sp sparsifier, cons consensus, params []Param) *Method {
	return &Method{
		Name: name, Summary: summary, Paper: paper, Params: params,
		NeedsBase: true, MinModels: 1,
		Random: sp == spRandom || sp == spDella,
		merge:  func(j *Job, out []float32) error { return mergeGTA(j, out, sp, cons) },
	}
}

// sweptDensity marks a density as its method's main scalar.
func sweptDensity(p Param) Param {
	p.Sweep = densityAxis
	return p
}

func gtaMethods() []*Method {
	trimDensity := sweptDensity(densityParam(1.0, "Fraction of each task vector's entries kept: exactly floor(density·numel) of largest |δ|, equal magnitudes broken by lower index. 1 keeps everything, and k = 0 keeps nothing."))
	dareDensity := sweptDensity(densityParam(1.0, "Probability that each task-vector entry is kept (1 keeps all)."))
	rescale := Param{Name: "rescale", Type: Bool, Default: true,
		Doc: "Divide kept entries by density (the paper's rescale; see the Ladle option rescale_mode)."}
	rescaleMode := Param{Name: "rescale_mode", Type: String, Default: RescalePaper, Choices: []string{RescalePaper, RescaleL1}, Ladle: true,
		Doc: "paper: kept entries are divided by density. l1: kept entries are scaled so the tensor's L1 norm matches the undropped delta's, as current mergekit does."}
	trimScope := Param{Name: "trim_scope", Type: String, Default: TrimTensor, Choices: []string{TrimTensor, TrimModel}, Ladle: true,
		Doc: "tensor: trim each tensor to its density (mergekit). model: trim over the whole model at once, exactly, as the TIES paper's code does (the density must then be the same for every tensor of a model)."}
	bcDensity := sweptDensity(densityParam(1.0, "Fraction of each tensor kept below the dropped top: floor(density·numel) entries. 1 keeps everything (n_top then shrinks to 0)."))
	gamma := Param{Name: "gamma", Type: Float, Default: 0.01, Min: fptr(0), Max: fptr(1), PerModel: true,
		Doc: "Fraction of largest-magnitude entries dropped as outliers: n_top = floor(gamma·numel); when n_top plus the kept entries exceed the tensor, n_top shrinks first. 0 keeps the top."}
	dellaDensity := sweptDensity(densityParam(nil, "Average keep probability of each row's entries; density ± epsilon must lie in (0, 1)."))
	epsilon := Param{Name: "epsilon", Type: Float, Default: 0.15, Min: fptr(0), Max: fptr(0.5), PerModel: true,
		Doc: "Spread of the keep probabilities: p runs linearly from density − ε for the smallest |δ| of a row to density + ε for the largest."}

	return []*Method{
		gtaMethod("task_arithmetic",
			"Adds weighted task vectors to the base: θ = θ0 + λ Σ wᵢ(θᵢ − θ0). A negative weight removes a task (forgetting); +1, +1, −1 forms an analogy.",
			taskArithPaper, spNone, consSum, withSweep(gtaParams(false, false), "lambda", "lambda: the scale of the summed task vectors", false)),
		gtaMethod("ties",
			"TIES-Merging: trim each task vector to its largest entries, elect a sign per parameter, and average only the entries that agree with it.",
			tiesPaper, spMagnitude, consTies, append(gtaParams(true, true, trimDensity), trimScope)),
		gtaMethod("dare_linear",
			"DARE: drop task-vector entries at random (keeping each with probability density), rescale the kept ones by 1/density, then add them as task arithmetic does.",
			darePaper, spRandom, consSum, append(gtaParams(false, false, dareDensity, rescale), rescaleMode, seedParam())),
		gtaMethod("dare_ties",
			"DARE's random drop and rescale, then TIES' sign election and disjoint merge.",
			darePaper, spRandom, consTies, append(gtaParams(false, true, dareDensity, rescale), rescaleMode, seedParam())),
		gtaMethod("breadcrumbs",
			"Model Breadcrumbs: per tensor, drop the largest-magnitude outliers (gamma) and the small entries, keep the band between, then add as task arithmetic does.",
			breadcrumbsPaper, spBand, consSum, gtaParams(false, false, bcDensity, gamma)),
		gtaMethod("breadcrumbs_ties",
			"Model Breadcrumbs' outlier-and-small-entry mask, then TIES' sign election and disjoint merge.",
			breadcrumbsPaper, spBand, consTies, gtaParams(false, true, bcDensity, gamma)),
		gtaMethod("della",
			"DELLA: drop entries at random with keep probabilities that grow with magnitude rank within each row, rescale by 1/p, then TIES' sign election and disjoint merge.",
			dellaPaper, spDella, consTies, append(gtaParams(true, true, dellaDensity, epsilon), seedParam())),
		gtaMethod("della_linear",
			"DELLA's magnitude-ranked random drop and 1/p rescale, then added as task arithmetic does.",
			dellaPaper, spDella, consSum, append(gtaParams(false, false, dellaDensity, epsilon), seedParam())),
	}
}
