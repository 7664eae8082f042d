package labs

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/eval"
	"ladle/core/nn"
	"ladle/core/plan"
	"ladle/core/recipe"
)

// mergeResult is a recipe run in-process, as the page and `ladle merge` run it.
type mergeResult struct {
	data   []byte // the merged checkpoint
	greedy *eval.GreedyResult
}

// runRecipe runs one of the lab's recipe files through core/plan (the method
// registry and executor the page uses), with model paths resolved in the lab's
// folder, whole-model steps included (greedy selection, `ladle: {align: true}`),
// and returns the merged checkpoint's bytes.
func (b *builder) runRecipe(file string) (*mergeResult, error) {
	text, err := os.ReadFile(b.path(file))
	if err != nil {
		return nil, err
	}
	return b.runRecipeText(file, text)
}

// runRecipeText runs a recipe given as text (file names it in messages).
func (b *builder) runRecipeText(file string, text []byte) (*mergeResult, error) {
	r, err := recipe.Parse(text, file, b.dir)
	if err != nil {
		return nil, err
	}
	p, err := plan.Prepare(r, plan.FileOpener(b.dir))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	defer p.Close()
	ctx := context.Background()
	opts := plan.Options{}
	if err := p.Preprocess(ctx, opts); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var buf bytes.Buffer
	w, err := safetensors.NewWriter(&buf, p.OutputTensors(), p.Metadata(opts))
	if err != nil {
		return nil, err
	}
	if err := p.Execute(ctx, w, opts); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return &mergeResult{data: buf.Bytes(), greedy: p.GreedyResult()}, nil
}

// tensors reads a whole merged model back.
func (m *mergeResult) tensors(spec archSpec, name string) (map[string]nn.Tensor, error) {
	return readModel(m.data, spec, name)
}

// readModel reads the tensors a network of spec needs from a checkpoint in memory.
func readModel(data []byte, spec archSpec, name string) (map[string]nn.Tensor, error) {
	src, err := ckpt.OpenReaderAt(bytes.NewReader(data), int64(len(data)), name)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return nn.ReadTensors(spec.Arch(), src)
}
