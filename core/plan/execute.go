package plan

import (
	"context"
	"fmt"
	"runtime"
	"unsafe"

	"ladle/core/ckpt"
	"ladle/core/compute"
	"ladle/core/dtype"
	"ladle/core/merge"
	"ladle/core/recipe"
)

// Progress reports how far Execute has come. Bytes count input data read.
type Progress struct {
	Tensor       string // the tensor just finished
	TensorsDone  int
	TensorsTotal int
	BytesDone    int64
	BytesTotal   int64
}

// MaxThreads bounds Options.Threads (and a recipe's ladle.threads): beyond the cores
// goroutines only cost memory, and each holds per-worker scratch.
const MaxThreads = 1024

// Options tune one run of Execute. The zero value uses one thread per core.
type Options struct {
	// Threads bounds the goroutines that read, decode and merge a tensor; 0 means the
	// recipe's ladle.threads, else runtime.GOMAXPROCS. The output does not depend on it.
	Threads int
	// Seed, when SeedSet, overrides the recipe's ladle.seed (the --seed flag).
	Seed    uint64
	SeedSet bool
	// Output picks which output to write when the recipe asks for several (0 .. Outputs()-1).
	Output int
	// Progress, when set, is called after each tensor, from Execute's goroutine.
	Progress func(Progress)
	// Compute, when set, runs the merge kernels it implements (a WebGPU device in the
	// page); it gives the CPU's exact bits or declines, so the output does not
	// depend on it.
	Compute compute.Merger
}

// OutputTensors lists the tensors of the merged checkpoint, in order: the sink must be
// created with exactly this list.
func (p *Plan) OutputTensors() []ckpt.Info {
	if p.slices != nil {
		return p.slicedOutputs()
	}
	if p.onlyComputed() {
		return p.layout.outputs
	}
	out := make([]ckpt.Info, len(p.inputs))
	for i, t := range p.inputs {
		out[i] = t
		if t.DType.IsFloat() && p.OutDType != dtype.Invalid {
			out[i].DType = p.OutDType
		}
	}
	return out
}

// Metadata is the merged checkpoint's __metadata__: the normalised recipe (with the
// seed actually used, and this output's value of a list-valued parameter), the
// architecture spec when the reference model carries one, and "format": "pt". After
// Preprocess it also records what the whole-model steps found: a selection's record
// under its merge.Selection.MetadataKey (the steps, accuracies and ingredients, JSON)
// and "ladle.align" (per model, the sweeps and the distances to the reference before
// and after, JSON); and the method's Layout metadata.
func (p *Plan) Metadata(opts Options) map[string]string {
	r := *p.Recipe
	r.Ladle.Seed, r.Ladle.SeedSet = p.Recipe.Ladle.Seed, p.Recipe.Ladle.SeedSet
	if opts.SeedSet {
		r.Ladle.Seed, r.Ladle.SeedSet = opts.Seed, true
	}
	if v := p.variants[min(opts.Output, len(p.variants)-1)]; len(v) > 0 {
		params := map[string]recipe.Setting{}
		for k, s := range r.Parameters {
			params[k] = s
		}
		for k, val := range v {
			params[k] = recipe.Scalar(val)
		}
		r.Parameters = params
	}
	md := map[string]string{"format": "pt", recipe.MetadataKey: string(r.Normalise())}
	if p.slices != nil {
		return md
	}
	if arch, ok := p.ref.Metadata()["ladle.arch"]; ok {
		md["ladle.arch"] = arch
	}
	p.wholeModelMetadata(md)
	if p.layout != nil {
		for k, v := range p.layout.Metadata {
			md[k] = v
		}
	}
	return md
}

// BytesTotal is how many bytes of input data Execute reads (one pass; a model-wide
// trim reads the models twice more).
func (p *Plan) BytesTotal() int64 {
	var total int64
	for _, q := range p.slices {
		total += q.BytesTotal()
	}
	for _, t := range p.inputs {
		if p.onlyComputed() && !p.layout.selected[t.Name] {
			continue
		}
		total += p.inputBytes(t)
	}
	return total
}

// inputBytes is how much input data merging (or copying) one tensor reads.
func (p *Plan) inputBytes(t ckpt.Info) int64 {
	if !t.DType.IsFloat() || !p.computes(t.Name) {
		return t.Bytes()
	}
	var total int64
	for _, src := range p.readers(t.Name) {
		if info, ok := p.lookup(src, t.Name); ok {
			total += info.Bytes()
		}
	}
	return total
}

// Execute runs the merge, writing the tensors of OutputTensors into sink in order. On
// error (or cancellation) the sink holds a partial checkpoint that the caller must
// discard.
func (p *Plan) Execute(ctx context.Context, sink ckpt.Sink, opts Options) error {
	if opts.Output < 0 || opts.Output >= len(p.variants) {
		return fmt.Errorf("output %d does not exist: the recipe makes %d", opts.Output, len(p.variants))
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = p.Recipe.Ladle.Threads // ladle: {threads: N}
	}
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	threads = min(threads, MaxThreads)
	if p.slices != nil {
		return p.executeSlices(ctx, sink, opts)
	}
	if err := p.Preprocess(ctx, opts); err != nil {
		return err
	}
	seed := p.seed
	if opts.SeedSet {
		seed = opts.Seed
	}
	x := &executor{plan: p, ctx: ctx, sink: sink, threads: threads, seed: seed, variant: p.variants[opts.Output], progress: opts.Progress, compute: opts.Compute}
	x.bytesTotal = p.BytesTotal()
	x.tensorsTotal = len(p.OutputTensors())
	x.noMap = readIntoBuffers
	if p.options.TrimScope == merge.TrimModel {
		if err := x.modelWideTrim(); err != nil {
			return err
		}
	}
	if p.onlyComputed() {
		return x.runComputed()
	}
	if threads > 1 && runtime.GOMAXPROCS(0) > 1 {
		x.behind = startWriteBehind()
	}
	err := x.pipeline(p.inputs, func(t ckpt.Info) bool { return t.DType.IsFloat() && p.computes(t.Name) },
		func(t ckpt.Info, j *merge.Job) error {
			if j == nil {
				return x.emit(func() error { return x.copyTensor(t) }, nil)
			}
			return x.mergeTensor(t, j)
		})
	if x.behind != nil {
		if werr := x.behind.finish(); err == nil {
			err = werr
		}
	}
	return err
}

// emit runs write, on the write-behind goroutine when there is one (then after runs
// once it is done), else at once.
func (x *executor) emit(write func() error, after func()) error {
	if x.behind != nil {
		return x.behind.submit(write, after)
	}
	err := write()
	if after != nil {
		after()
	}
	return err
}

// computes reports whether the method merges this float tensor: those its Layout
// chose, and with partial models those at least one model holds (the others are
// copied from the reference).
func (p *Plan) computes(name string) bool {
	if p.layout != nil && !p.layout.selected[name] {
		return false
	}
	if p.Method.PartialModels {
		return len(p.readers(name)) > 1
	}
	return true
}

// readers lists the inputs read for a tensor: the base (when the method has one), then
// the models that hold it.
func (p *Plan) readers(name string) []ckpt.Source {
	var out []ckpt.Source
	if p.Base != nil {
		out = append(out, p.Base)
	}
	for _, m := range p.Models {
		if _, ok := p.lookup(m, name); ok || !p.Method.PartialModels {
			out = append(out, m)
		}
	}
	return out
}

type executor struct {
	plan         *Plan
	ctx          context.Context
	sink         ckpt.Sink
	threads      int
	seed         uint64
	variant      merge.Params
	progress     func(Progress)
	compute      compute.Merger
	bufs         [][]float32 // reused input buffers: base, then models
	out          []float32
	done         int
	bytesDone    int64
	bytesTotal   int64
	tensorsTotal int
	noMap        bool         // read every input into buffers (see readIntoBuffers)
	behind       *writeBehind // writes merged tensors while the next one merges (nil: write at once)
	cuts         []*globalCut
}

func (x *executor) report(name string) {
	x.done++
	if x.progress != nil {
		x.progress(Progress{Tensor: name, TensorsDone: x.done, TensorsTotal: x.tensorsTotal,
			BytesDone: x.bytesDone, BytesTotal: x.bytesTotal})
	}
}

// copyTensor passes a tensor through from the reference model unchanged.
func (x *executor) copyTensor(t ckpt.Info) error {
	src := x.plan.ref
	if c := x.plan.copyFrom; c != nil {
		if info, ok := x.plan.lookup(c, t.Name); ok && info.DType == t.DType {
			src = c
		}
	}
	r, err := src.Tensor(t.Name)
	if err != nil {
		return err
	}
	if err := x.sink.BeginTensor(t.Name); err != nil {
		return err
	}
	to := t.DType
	if t.DType.IsFloat() && x.plan.OutDType != dtype.Invalid {
		to = x.plan.OutDType
	}
	if err := ckpt.ConvertTensor(x.sink, r, t, to); err != nil {
		return fmt.Errorf("%s: %w", src.Path(), err)
	}
	return nil
}

// job builds the merge job of one tensor: inputs read into reused buffers, parameters
// resolved for the tensor's name and layer position.
func (x *executor) job(ctx context.Context, t ckpt.Info, set *bufSet) (*merge.Job, error) {
	p := x.plan
	n := int(t.NumElements())
	readers := p.readers(t.Name)
	for len(set.inputs) < len(readers) {
		set.inputs = append(set.inputs, nil)
	}
	inputs := make([][]float32, len(readers))
	for k, src := range readers {
		info, _ := p.lookup(src, t.Name)
		if v, ok := x.mapped(src, info, set); ok {
			inputs[k] = v
			continue
		}
		set.inputs[k] = grow(set.inputs[k], n)
		if err := readF32(ctx, src, info, set.inputs[k], x.threads); err != nil {
			return nil, err
		}
		if p.codes != nil {
			if err := x.dequantise(ctx, src, t.Name, set.inputs[k]); err != nil {
				return nil, err
			}
		}
		inputs[k] = set.inputs[k]
	}
	for k := range inputs {
		if inputs[k] == nil {
			inputs[k] = []float32{} // a tensor of no elements: present, not missing (a nil Base means "no base")
		}
	}
	j := &merge.Job{Tensor: t.Name, Shape: t.Shape, Seed: x.seed, Options: p.options, Workers: x.threads, Compute: x.compute}
	if p.Base != nil {
		j.Base, inputs = inputs[0], inputs[1:]
		j.BaseName = p.Recipe.BaseModel
	}
	j.Models = inputs
	tpos := p.positions[t.Name]
	j.Params = merge.Params{}
	for _, prm := range p.Method.Params {
		if prm.Ladle || prm.PerModel {
			continue
		}
		if v, ok := p.param(prm, -1, t.Name, tpos); ok {
			j.Params[prm.Name] = v
		}
	}
	for k, v := range x.variant {
		j.Params[k] = v
	}
	for k, src := range p.Models {
		if p.Method.PartialModels {
			if _, ok := p.lookup(src, t.Name); !ok {
				continue
			}
		}
		mp := merge.Params{}
		for _, prm := range p.Method.Params {
			if !prm.PerModel {
				continue
			}
			if v, ok := p.param(prm, p.modelIdx[k], t.Name, tpos); ok {
				mp[prm.Name] = v
			}
		}
		j.ModelParams = append(j.ModelParams, mp)
		j.ModelIDs = append(j.ModelIDs, p.modelIdx[k])
		j.ModelNames = append(j.ModelNames, p.ModelNames[k])
	}
	if len(p.companions) > 0 {
		if err := x.readCompanions(ctx, j, t, set); err != nil {
			return nil, err
		}
	}
	if x.cuts != nil {
		for _, c := range x.cuts {
			cut, err := c.cut(t.Name)
			if err != nil {
				return nil, err
			}
			j.Cuts = append(j.Cuts, cut)
		}
	}
	return j, nil
}

// readIntoBuffers turns memory maps off, so that tests can compare both ways in.
var readIntoBuffers = false

// mapped gives a float32 input straight from its file's memory map, when it is stored
// as little-endian float32 in a plain file at an aligned offset (see mapTensor). The
// set keeps the mapping until the tensor is merged.
func (x *executor) mapped(src ckpt.Source, info ckpt.Info, set *bufSet) ([]float32, bool) {
	if info.DType != dtype.F32 || !littleEndian || x.noMap {
		return nil, false
	}
	r, err := src.Tensor(info.Name)
	if err != nil || r.Size() != info.Bytes() || r.Size() == 0 {
		return nil, false
	}
	data, release, file, ok := mapTensor(r, r.Size())
	if !ok {
		return nil, false
	}
	if uintptr(unsafe.Pointer(&data[0]))%4 != 0 {
		release()
		return nil, false
	}
	set.release = append(set.release, release)
	start := uintptr(unsafe.Pointer(&data[0]))
	set.maps = append(set.maps, mappedInput{start: start, end: start + uintptr(len(data)), file: file})
	return unsafe.Slice((*float32)(unsafe.Pointer(&data[0])), len(data)/4), true
}

// param resolves a parameter for one tensor (model < 0: global), without the default.
func (p *Plan) param(prm merge.Param, model int, tensor string, t float64) (any, bool) {
	var s recipe.Setting
	var ok bool
	if model >= 0 {
		s, ok = p.Recipe.Models[model].Parameters[prm.Name]
	}
	if !ok {
		s, ok = p.Recipe.Parameters[prm.Name]
	}
	if !ok {
		return nil, false
	}
	switch {
	case prm.Type == merge.StringList && s.Strings != nil:
		return s.Strings, true
	case prm.Multi && s.Gradient != nil:
		return nil, false // the variant supplies it
	}
	return p.Recipe.Param(prm.Name, model, tensor, t)
}

// inRecipe names the recipe in an error found while merging, so that a message
// about a tensor and an input also says which recipe ran into it.
func (p *Plan) inRecipe(err error) error {
	if p.Recipe == nil || p.Recipe.File == "" {
		return err
	}
	return fmt.Errorf("%s: %w", p.Recipe.File, err)
}

func (x *executor) mergeTensor(t ckpt.Info, j *merge.Job) error {
	n := int(t.NumElements())
	var out []float32
	recycle := func() {}
	if x.behind != nil {
		out = x.behind.buffer(n)
		recycle = func() { x.behind.recycle(out) }
	} else {
		x.out = grow(x.out, n)
		out = x.out
	}
	if err := x.plan.Method.Merge(j, out); err != nil {
		recycle()
		return x.plan.inRecipe(err)
	}
	if err := x.ctx.Err(); err != nil {
		recycle()
		return err
	}
	to := t.DType
	if x.plan.OutDType != dtype.Invalid {
		to = x.plan.OutDType
	}
	if i := ckpt.OverflowIndex(out, to); i >= 0 && !x.plan.options.AllowNonFinite {
		recycle()
		return x.plan.inRecipe(fmt.Errorf("tensor %q: merged element %d is %g, too large for out_dtype %s (it would become infinity); use out_dtype: bfloat16 or float32", t.Name, i, out[i], to))
	}
	return x.emit(func() error {
		if err := x.sink.BeginTensor(t.Name); err != nil {
			return err
		}
		if err := writeF32(x.sink, out, to); err != nil {
			return fmt.Errorf("writing tensor %q: %w", t.Name, err)
		}
		return nil
	}, recycle)
}
