package labs

import (
	"fmt"
	"math"
	"os"
	"strings"

	"ladle/core/eval"
	"ladle/core/nn"
)

// Lab 3: robust weight signatures (Cai et al., 2023). A small CNN is pre-trained on
// clean digits, then fine-tuned three times from that start: on clean digits, on
// blurred digits and on low-contrast digits. The robustness a corruption taught sits
// mostly in the shallow layers: the signature (the robust model's change in conv1 and
// conv2, minus its projection on the clean model's change) is extracted, quantised to
// 16 levels, and patched into the clean model, which then copes with the corruption.
// Signatures compose by addition and come off again by subtraction.

const (
	rwsTitle   = "Robust weight signatures: patch robustness into a model"
	rwsSummary = "A small CNN fine-tuned on clean, blurred and low-contrast digits. The robustness lives in the first two conv layers: extract it as a tiny quantised signature, patch it into the clean model, compose two signatures, and remove one again."
)

var rwsDef = def{name: "robust-signatures", title: rwsTitle, summary: rwsSummary, build: buildRWS}

const rwsPaper = "Robust Weight Signatures: Gaining Robustness as Easy as Patching Weights? (Cai et al., ICML 2023), https://arxiv.org/abs/2302.12480"

// rwsSpec: conv(8) relu maxpool conv(16) relu flatten fc(64) relu fc(10) over 1×8×8.
var rwsSpec = archSpec{input: []int{1, digitsSide, digitsSide}, scale: 1.0 / digitsMax,
	layers: []layerSpec{conv("conv1", 8), relu(), maxpool(), conv("conv2", 16), relu(), flatten(),
		linear("fc1", 64), relu(), linear("fc2", digitsClasses)}}

// corruption is a deterministic image corruption; results are rounded to whole
// pixel values, as the stored data holds them.
type corruption struct {
	name, adj, about string
	apply            func(px []float32)
}

var rwsCorruptions = []corruption{
	{"blur", "blurred", "a 3×3 binomial blur applied twice", func(px []float32) { blur(px); blur(px) }},
	{"contrast", "low-contrast", "v → 0.3·v + 5.6, pixels squeezed toward mid-grey", func(px []float32) {
		for i, v := range px {
			px[i] = float32(float64(0.3*float64(v)) + 5.6)
		}
	}},
}

func (c corruption) rounded(px []float32) {
	c.apply(px)
	for i, v := range px {
		px[i] = float32(math.Floor(float64(v) + 0.5))
	}
}

// sigLayers are the shallow layers that carry a signature.
var sigLayers = []string{"conv1", "conv2"}

func extractRecipe(c corruption) string {
	return fmt.Sprintf("# Extract the %s signature: the change the %s fine-tune made to the shallow layers,\n"+
		"# minus its projection on the clean fine-tune's change; quantised to 16 levels (U8 codes).\n"+
		"merge_method: rws_extract\nbase_model: pre.safetensors\nmodels:\n  - model: clean.safetensors\n  - model: %s.safetensors\n"+
		"parameters:\n  layers: [conv1, conv2]\n  quantize: {levels: 16, type: linear}\n", c.name, c.name, c.name)
}

func patchRecipe(comment, target string, sigs ...string) string {
	s := comment + "merge_method: rws_patch\nbase_model: " + target + "\nmodels:\n"
	for _, g := range sigs {
		s += "  - model: " + g + "\n    parameters: {alpha: 1.0}\n"
	}
	return s
}

func buildRWS(b *builder) (*Lab, error) {
	sp := splitDigits(b.all, labSplitSeed, labTestFrac, labValFrac)
	pre, err := newNet(rwsSpec)
	if err != nil {
		return nil, err
	}
	pre.init(5)
	pre.train(sp.train, trainConfig{epochs: 10, batch: 32, lr: 0.05, momentum: 0.9, decay: true, seed: 5})
	preT := pre.tensors()
	// Fine-tunes: clean, then one per corruption, every training image corrupted.
	tuned := make([]map[string]nn.Tensor, 1+len(rwsCorruptions))
	parallel(len(tuned), func(i int) {
		n, _ := newNet(rwsSpec)
		_ = n.load(preT)
		cfg := trainConfig{epochs: 8, batch: 32, lr: 0.02, momentum: 0.9, decay: true, seed: uint64(20 + i)}
		if i > 0 {
			c := rwsCorruptions[i-1]
			cfg.augment = func(_ *rng, px []float32) { c.rounded(px) }
		}
		n.train(sp.train, cfg)
		tuned[i] = n.tensors()
	})

	lab := &Lab{Title: rwsTitle, Summary: rwsSummary, Paper: rwsPaper, Data: "data.safetensors"}
	type trained struct {
		file, about string
		ts          map[string]nn.Tensor
	}
	models := []trained{
		{"pre.safetensors", "pre-trained: 10 epochs of SGD (lr 0.05 falling linearly to 0, momentum 0.9) on clean digits", preT},
		{"clean.safetensors", "pre.safetensors fine-tuned for 8 epochs on clean digits (lr 0.02 falling to 0)", tuned[0]},
	}
	for i, c := range rwsCorruptions {
		models = append(models, trained{c.name + ".safetensors", "pre.safetensors fine-tuned for 8 epochs on " + c.adj + " digits (" + c.about + "; lr 0.02 falling to 0)", tuned[i+1]})
	}
	for _, m := range models {
		if err := b.writeModel(m.file, rwsSpec, m.ts, m.about); err != nil {
			return nil, err
		}
		lab.Files = append(lab.Files, m.file)
		lab.Models = append(lab.Models, ModelInfo{File: m.file, About: m.about})
	}
	test := sp.test.quantized()
	tests := map[string]*set{"": test}
	lab.Splits = []SplitInfo{{Split: "", About: "test, clean digits", Samples: test.Len()}}
	for _, c := range rwsCorruptions {
		d := test.mapped(func(_ int, px []float32) { c.rounded(px) })
		tests[c.name] = d
		lab.Splits = append(lab.Splits, SplitInfo{Split: c.name, About: "test, " + c.adj + " (" + c.about + ")", Samples: d.Len()})
	}
	dsets := []*eval.Dataset{test.dataset("")}
	for _, c := range rwsCorruptions {
		dsets = append(dsets, tests[c.name].dataset(c.name))
	}
	if err := b.writeData(lab.Data, dsets...); err != nil {
		return nil, err
	}

	// Signatures, through rws_extract.
	var sigFiles []string
	for i, c := range rwsCorruptions {
		file := "extract.yaml"
		if i > 0 {
			file = "extract-" + c.name + ".yaml"
		}
		if err := b.write(file, []byte(extractRecipe(c))); err != nil {
			return nil, err
		}
		r, err := b.runRecipe(file)
		if err != nil {
			return nil, err
		}
		sig := c.name + ".sig.safetensors"
		if err := b.write(sig, r.data); err != nil {
			return nil, err
		}
		sigFiles = append(sigFiles, sig)
		lab.Models = append(lab.Models, ModelInfo{File: sig, About: fmt.Sprintf("the %s signature: written by %s (conv1 and conv2, 16 levels)", c.name, file)})
	}
	recipes := []struct{ name, file, text string }{
		{"Extract the blur signature", "extract.yaml", ""},
		{"Patch blur robustness into the clean model", "patch.yaml", patchRecipe("# Patch the blur signature into the clean model: θ = θ_clean + α·RWS_blur.\n", "clean.safetensors", sigFiles[0])},
		{"Patch contrast robustness into the clean model", "patch-contrast.yaml", patchRecipe("# Patch the contrast signature into the clean model.\n", "clean.safetensors", sigFiles[1])},
		{"Compose both signatures", "compose.yaml", patchRecipe("# Compose: add both signatures to the clean model (this is how patched.safetensors was made).\n", "clean.safetensors", sigFiles...)},
		{"Remove the contrast signature again", "remove.yaml", "# Remove: subtract the contrast signature from the doubly patched model;\n# what is left equals patch.yaml's output up to float rounding.\n" +
			"merge_method: rws_remove\nbase_model: patched.safetensors\nmodels:\n  - model: " + sigFiles[1] + "\n    parameters: {alpha: 1.0}\n"},
		{"Extract the contrast signature", "extract-contrast.yaml", ""},
	}
	outs := map[string]map[string]nn.Tensor{}
	for _, r := range recipes {
		lab.Recipes = append(lab.Recipes, Recipe{Name: r.name, File: r.file})
		if r.text == "" {
			continue
		}
		if err := b.write(r.file, []byte(r.text)); err != nil {
			return nil, err
		}
		res, err := b.runRecipe(r.file)
		if err != nil {
			return nil, err
		}
		if r.file == "compose.yaml" {
			if err := b.write("patched.safetensors", res.data); err != nil {
				return nil, err
			}
			lab.Models = append(lab.Models, ModelInfo{File: "patched.safetensors", About: "clean.safetensors with both signatures patched in: written by compose.yaml (the target of remove.yaml)"})
		}
		ts, err := res.tensors(rwsSpec, r.file)
		if err != nil {
			return nil, err
		}
		outs[r.file] = ts
	}
	lab.Files = append(lab.Files, sigFiles...)
	lab.Files = append(lab.Files, "patched.safetensors", lab.Data)

	// Scores on every split.
	acc := func(ts map[string]nn.Tensor, split string) (float64, error) {
		s, err := evalTensors(rwsSpec, ts, tests[split], nil)
		return s.Accuracy, err
	}
	splitName := map[string]string{"": "clean", "blur": "blurred", "contrast": "low-contrast"}
	order := []string{"", "blur", "contrast"}
	lab.Numbers = map[string]float64{}
	key := func(s string) string {
		if s == "" {
			return "clean"
		}
		return s
	}
	score := func(label, file string, ts map[string]nn.Tensor, into *[]Score, prefix string) error {
		for _, s := range order {
			a, err := acc(ts, s)
			if err != nil {
				return err
			}
			sc := Score{Name: label + " on " + splitName[s] + " digits", Accuracy: round4(a), Split: s}
			if strings.HasSuffix(file, ".yaml") {
				sc.Recipe = file
			} else {
				sc.Model = file
			}
			*into = append(*into, sc)
			lab.Numbers[prefix+"_on_"+key(s)] = round4(a)
		}
		return nil
	}
	for _, m := range models {
		if err := score(m.file, m.file, m.ts, &lab.Results.Ingredients, m.file[:len(m.file)-len(".safetensors")]); err != nil {
			return nil, err
		}
	}
	for _, r := range []struct{ label, file, prefix string }{
		{"clean + blur signature", "patch.yaml", "patched_blur"},
		{"clean + contrast signature", "patch-contrast.yaml", "patched_contrast"},
		{"clean + both signatures", "compose.yaml", "composed"},
		{"both − contrast signature", "remove.yaml", "removed"},
	} {
		if err := score(r.label, r.file, outs[r.file], &lab.Results.Soups, r.prefix); err != nil {
			return nil, err
		}
	}
	// Removal restores patch.yaml's model up to float rounding.
	maxDiff := 0.0
	for name, t := range outs["patch.yaml"] {
		for i, v := range t.Data {
			maxDiff = max(maxDiff, math.Abs(float64(v)-float64(outs["remove.yaml"][name].Data[i])))
		}
	}
	lab.Numbers["remove_max_abs_difference"] = maxDiff
	// Sizes: the quantised signature file against the full checkpoint file.
	full, err := fileSize(b.path("clean.safetensors"))
	if err != nil {
		return nil, err
	}
	lab.Numbers["checkpoint_bytes"] = float64(full)
	minRatio := math.Inf(1)
	for i, c := range rwsCorruptions {
		n, err := fileSize(b.path(sigFiles[i]))
		if err != nil {
			return nil, err
		}
		lab.Numbers[c.name+"_signature_bytes"] = float64(n)
		minRatio = min(minRatio, float64(full)/float64(n))
	}
	lab.Numbers["smallest_size_ratio"] = round4(minRatio)

	num := lab.Numbers
	gainBlur := 100 * (num["patched_blur_on_blur"] - num["clean_on_blur"])
	gainContrast := 100 * (num["patched_contrast_on_contrast"] - num["clean_on_contrast"])
	num["patch_blur_gain_points"] = round4(gainBlur)
	num["patch_contrast_gain_points"] = round4(gainContrast)
	lab.Claims = []Claim{
		{Claim: fmt.Sprintf("Patching the blur signature raises the clean model's accuracy on blurred digits by at least 5 points: %s → %s.",
			pct(num["clean_on_blur"]), pct(num["patched_blur_on_blur"])), Holds: gainBlur >= 5},
		{Claim: fmt.Sprintf("Patching the contrast signature raises the clean model's accuracy on low-contrast digits by at least 5 points: %s → %s.",
			pct(num["clean_on_contrast"]), pct(num["patched_contrast_on_contrast"])), Holds: gainContrast >= 5},
		{Claim: fmt.Sprintf("A quantised signature file is at least 10x smaller than the full checkpoint: %.0f bytes or less against %d (%.0fx).",
			float64(full)/minRatio, full, minRatio), Holds: minRatio >= 10},
		{Claim: fmt.Sprintf("Removing a signature restores the model it was patched into, up to float rounding (largest difference %.2g).", maxDiff),
			Holds: maxDiff <= 1e-5},
	}
	lab.Try = []string{
		"Press Run merge (extract.yaml is in the editor): the blur signature is a tiny file (U8 codes for conv1 and conv2 only); compare the size on the Download button with the checkpoints' in 1. Models.",
		"Press Patch blur robustness into the clean model, then Run merge; in 4. Evaluate pick the split blur and press Evaluate, then the split test (clean digits) and Evaluate again.",
		"Press Compose both signatures and Run merge: one model, both signatures; evaluate it on the splits blur and contrast.",
		"Press Remove the contrast signature again and Run merge: the contrast signature comes off patched.safetensors again; evaluate it as above.",
		"Change alpha (0.5, 1.5) in the signature's alpha field in 1. Models, or in the editor, then Run merge and Evaluate: the signature is a direction you can scale.",
		"Press Measure live: the table above is recomputed in this tab, next to the figures measured when the lab was built.",
	}
	lab.Expect = []string{
		fmt.Sprintf("The clean model scores %s on clean digits but %s on blurred and %s on low-contrast ones.",
			pct(num["clean_on_clean"]), pct(num["clean_on_blur"]), pct(num["clean_on_contrast"])),
		fmt.Sprintf("With the blur signature: %s on blurred digits; with the contrast signature: %s on low-contrast digits (at a small cost on clean digits: %s and %s).",
			pct(num["patched_blur_on_blur"]), pct(num["patched_contrast_on_contrast"]), pct(num["patched_blur_on_clean"]), pct(num["patched_contrast_on_clean"])),
		fmt.Sprintf("Both at once: %s blurred, %s low-contrast: signatures add, with some interference.",
			pct(num["composed_on_blur"]), pct(num["composed_on_contrast"])),
	}
	return lab, nil
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
