package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/compute"
	"ladle/core/lora"
	"ladle/core/merge"
	"ladle/core/plan"
	"ladle/core/recipe"
)

// DefaultProgressEvery is the shortest time between two progress messages of a merge.
const DefaultProgressEvery = 100 * time.Millisecond

// DefaultName is the result's file name when the request gives none.
const DefaultName = "merged.safetensors"

// Output receives a merged checkpoint's bytes. In the browser it collects Blob parts
// (jsutil.BlobWriter); in tests, a buffer.
type Output interface {
	io.Writer
	// Finish completes the output and returns what the page receives as `blob`.
	Finish() (any, error)
	// Abort drops what was written; the output is not used again.
	Abort()
}

// OutputSpec describes the output a merge is about to write.
type OutputSpec struct {
	Name    string // the result's file name
	Size    int64  // about how many bytes will be written (the tensors' data)
	Storage string // the request's storage choice: "", "memory", "opfs" or "auto"
}

// Env is what the engine needs from its host.
type Env struct {
	// Post sends one message (a value of this package's answer types) to the page.
	// Calls come from several goroutines, never at the same time.
	Post func(msg any)
	// NewOutput makes the output of a merge result.
	NewOutput func(spec OutputSpec) (Output, error)
	// Memory reports the engine's memory in bytes (the wasm instance's memory); may be nil.
	Memory func() int64
	// ProgressEvery is the shortest time between progress messages; 0 means
	// DefaultProgressEvery, a negative value sends one per tensor.
	ProgressEvery time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Compute, when set, gives the backend a request starts with (a WebGPU device
	// that passed its self-tests); nil members, and a nil Compute, mean the CPU. Go
	// calls it before it returns, so in a worker from the JS message handler: it must
	// never wait for the GPU (the handler would keep the event loop from settling the
	// Promise the GPU work awaits, and Go would stop the program as deadlocked).
	Compute func() compute.Backend
}

// Engine handles requests. It is safe for concurrent use.
type Engine struct {
	env     Env
	postMu  sync.Mutex
	mu      sync.Mutex
	running map[string]context.CancelFunc
}

// New makes an engine for a host.
func New(env Env) *Engine {
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.ProgressEvery == 0 {
		env.ProgressEvery = DefaultProgressEvery
	}
	return &Engine{env: env, running: map[string]context.CancelFunc{}}
}

// Ready sends the ready message.
func (e *Engine) Ready() { e.post(Ready{Type: TypeReady, WasmMemory: e.memory()}) }

// Handle answers one request and returns when it is answered (a merge: when it is done,
// failed or cancelled). A cancel request returns at once.
func (e *Engine) Handle(req Request, files []File) {
	if req.Type == TypeCancel {
		e.cancel(req.ID)
		return
	}
	ctx, done, err := e.start(req)
	if err != nil {
		e.fail(req.ID, err)
		return
	}
	defer done()
	e.handle(ctx, req, files)
}

// Go is Handle on a new goroutine, except that the request is registered before Go
// returns, so that a cancel sent right after it always finds it.
func (e *Engine) Go(req Request, files []File) {
	if req.Type == TypeCancel {
		e.cancel(req.ID)
		return
	}
	ctx, done, err := e.start(req)
	if err != nil {
		e.fail(req.ID, err)
		return
	}
	go func() {
		defer done()
		e.handle(ctx, req, files)
	}()
}

// Running reports how many requests are in progress.
func (e *Engine) Running() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.running)
}

func (e *Engine) start(req Request) (context.Context, func(), error) {
	ctx, cancel := context.WithCancel(context.Background())
	if e.env.Compute != nil {
		ctx = compute.NewContext(ctx, e.env.Compute())
	}
	if req.ID == "" {
		return ctx, cancel, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, busy := e.running[req.ID]; busy {
		cancel()
		return nil, nil, &requestError{where: "id", msg: fmt.Sprintf("a request with id %q is still running; give each request its own id", req.ID)}
	}
	e.running[req.ID] = cancel
	return ctx, func() {
		e.mu.Lock()
		delete(e.running, req.ID)
		e.mu.Unlock()
		cancel()
	}, nil
}

func (e *Engine) cancel(id string) {
	e.mu.Lock()
	cancel := e.running[id]
	e.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (e *Engine) post(msg any) {
	e.postMu.Lock()
	defer e.postMu.Unlock()
	e.env.Post(msg)
}

func (e *Engine) memory() int64 {
	if e.env.Memory == nil {
		return 0
	}
	return e.env.Memory()
}

func (e *Engine) fail(id string, err error) {
	e.post(Error{Type: TypeError, ID: id, Error: Describe(err)})
}

// handle runs one request; a panic in the core becomes an error message.
func (e *Engine) handle(ctx context.Context, req Request, files []File) {
	defer func() {
		if v := recover(); v != nil {
			e.fail(req.ID, fmt.Errorf("internal error (a bug in Ladle; please report it with the files and recipe): %v\n%s", v, debug.Stack()))
		}
	}()
	switch req.Type {
	case TypeMethods:
		e.post(Methods{Type: TypeMethods, ID: req.ID, Methods: merge.Describe()})
	case TypeInspect:
		e.inspect(req, files)
	case TypeMerge:
		e.merge(ctx, req, files)
	case TypeRead:
		e.read(ctx, req, files)
	case TypeEvaluate:
		e.evaluate(ctx, req, files)
	case TypeAnalyze:
		e.analyze(ctx, req, files)
	case TypeMemory:
		e.post(Memory{Type: TypeMemory, ID: req.ID, WasmMemory: e.memory()})
	case TypeCheck:
		parsed, msg := CheckRecipe(req.Recipe)
		e.post(Checked{Type: TypeChecked, ID: req.ID, Recipe: req.Recipe, Parsed: parsed, Message: msg})
	default:
		e.fail(req.ID, &requestError{where: "type", msg: fmt.Sprintf("unknown request type %q (known: methods, inspect, merge, evaluate, analyze, check, cancel, read, memory)", req.Type)})
	}
}

func (e *Engine) inspect(req Request, files []File) {
	if len(files) == 0 {
		e.fail(req.ID, &requestError{where: "files", msg: "no files to inspect"})
		return
	}
	folders := shardedFolders(files)
	adapters := adapterFolders(files)
	models := make([]Model, 0, len(files))
	seen := map[*folder]bool{}
	seenAdapter := map[string]bool{}
	for _, f := range files {
		var m Model
		var err error
		if dir := folderOf(f.Name); adapters[dir] {
			if seenAdapter[dir] {
				continue
			}
			seenAdapter[dir] = true
			m, err = inspectAdapter(dir, files)
		} else if fd := folders[folderOf(f.Name)]; fd != nil {
			if seen[fd] {
				continue
			}
			seen[fd] = true
			m, err = fd.inspect()
		} else {
			m, err = InspectFile(f)
		}
		if err != nil {
			e.fail(req.ID, err)
			return
		}
		models = append(models, m)
	}
	e.post(Inspected{Type: TypeInspected, ID: req.ID, Models: models})
}

// InspectFile opens a checkpoint and describes it from its index; it reads no tensor data.
func InspectFile(f File) (Model, error) {
	src, err := ckpt.OpenReaderAt(f.R, f.Size, f.Name)
	if err != nil {
		return Model{}, err
	}
	defer src.Close()
	return describe(f.Name, src), nil
}

// describe lists a checkpoint's tensors with their totals.
func describe(name string, src ckpt.Source) Model {
	m := Model{Name: name, Format: src.Format(), Metadata: src.Metadata(), Tensors: []Tensor{}}
	if m.Metadata == nil {
		m.Metadata = map[string]string{}
	}
	for _, t := range src.Tensors() {
		shape := t.Shape
		if shape == nil {
			shape = []int64{}
		}
		m.Tensors = append(m.Tensors, Tensor{Name: t.Name, DType: t.DType.String(), Shape: shape})
		m.Parameters += t.NumElements()
		m.Bytes += t.Bytes()
	}
	return m
}

// indexSuffix ends the name of a sharded safetensors checkpoint's index.
const indexSuffix = ".safetensors.index.json"

// maxIndex bounds the index file read into memory (safetensors refuses larger ones).
const maxIndex = 64 << 20

// folder is a sharded safetensors checkpoint among a request's files: the files whose
// names share the folder part ("mymodel/..."), one of them its index.
type folder struct {
	name  string          // "mymodel": the names' part before their last '/'
	index File            // mymodel/*.safetensors.index.json
	files map[string]File // every file of the folder by its last element
}

// folderOf is the folder part of a file name ("" for a plain name).
func folderOf(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	if i := strings.LastIndex(name, "/"); i > 0 {
		return name[:i]
	}
	return ""
}

// shardedFolders finds the folders of the request's files that hold an index (the
// first by name when a folder holds several).
func shardedFolders(files []File) map[string]*folder {
	out := map[string]*folder{}
	for _, f := range files {
		dir := folderOf(f.Name)
		if dir == "" {
			continue
		}
		fd := out[dir]
		if fd == nil {
			fd = &folder{name: dir, files: map[string]File{}}
			out[dir] = fd
		}
		fd.files[path.Base(strings.ReplaceAll(f.Name, "\\", "/"))] = f
		if strings.HasSuffix(strings.ToLower(f.Name), indexSuffix) && (fd.index.Name == "" || f.Name < fd.index.Name) {
			fd.index = f
		}
	}
	for dir, fd := range out {
		if fd.index.Name == "" {
			delete(out, dir)
		}
	}
	return out
}

// open opens the folder's sharded checkpoint over its files.
func (fd *folder) open() (ckpt.Source, error) {
	raw, err := io.ReadAll(io.LimitReader(io.NewSectionReader(fd.index.R, 0, fd.index.Size), maxIndex+1))
	if err != nil {
		return nil, &ckpt.FormatError{File: fd.index.Name, Msg: "reading the index: " + err.Error()}
	}
	return safetensors.OpenIndexWith(fd.index.Name, raw, func(shard string) (io.ReaderAt, int64, error) {
		f, ok := fd.files[shard]
		if !ok {
			return nil, 0, fmt.Errorf("the folder %s was sent without %s", fd.name, shard)
		}
		return f.R, f.Size, nil
	})
}

// inspect describes the folder's checkpoint as one model named after the folder.
func (fd *folder) inspect() (Model, error) {
	src, err := fd.open()
	if err != nil {
		return Model{}, err
	}
	defer src.Close()
	return describe(fd.name, src), nil
}

// Opener finds the checkpoints a recipe names among the request's files: a file by its
// full name; a sharded folder by its name ("mymodel") or its index's; else a folder or
// a file by the name's last element. BASE+FOLDER is BASE with the PEFT LoRA adapter
// folder FOLDER applied (package lora).
func Opener(files []File) plan.Opener {
	return lora.Opener(checkpointOpener(files), fileReader(files))
}

func checkpointOpener(files []File) plan.Opener {
	byName := map[string]File{}
	for _, f := range files {
		byName[f.Name] = f
	}
	folders := shardedFolders(files)
	byBase := map[string]*folder{}
	for _, fd := range folders {
		if other := byBase[path.Base(fd.name)]; other == nil || fd.name < other.name {
			byBase[path.Base(fd.name)] = fd
		}
	}
	return func(name string) (ckpt.Source, error) {
		clean := strings.TrimSuffix(strings.ReplaceAll(name, "\\", "/"), "/")
		if fd := folders[clean]; fd != nil {
			return fd.open()
		}
		f, ok := byName[name]
		if ok {
			if fd := folders[folderOf(f.Name)]; fd != nil && fd.index.Name == f.Name {
				return fd.open()
			}
			return ckpt.OpenReaderAt(f.R, f.Size, f.Name)
		}
		if fd := byBase[path.Base(clean)]; fd != nil {
			return fd.open()
		}
		f, ok = byName[path.Base(clean)]
		if !ok {
			return nil, errNoSuchFile
		}
		return ckpt.OpenReaderAt(f.R, f.Size, f.Name)
	}
}

func (e *Engine) merge(ctx context.Context, req Request, files []File) {
	start := e.env.Now()
	r, err := recipe.Parse([]byte(req.Recipe), "", "")
	if err != nil {
		e.fail(req.ID, err)
		return
	}
	open := Opener(files)
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	for dir := range shardedFolders(files) {
		names = append(names, dir)
	}
	sort.Strings(names)
	failed := "" // the file that failed to open: plan.Error keeps only its message
	opener := func(name string) (ckpt.Source, error) {
		src, err := open(name)
		if errors.Is(err, errNoSuchFile) {
			failed = name
			return nil, &missingFileError{name: name, have: names}
		}
		if err != nil {
			failed = name
			return nil, err
		}
		return src, nil
	}
	p, err := plan.Prepare(r, opener)
	if err != nil {
		info := Describe(err)
		if info.File == "" {
			info.File = failed
		}
		e.post(Error{Type: TypeError, ID: req.ID, Error: info})
		return
	}
	defer p.Close()
	opts := plan.Options{Threads: req.Threads, Output: req.Output, Compute: compute.FromContext(ctx).Merge}
	if req.Seed != nil {
		opts.Seed, opts.SeedSet = *req.Seed, true
	}
	if req.Output < 0 || req.Output >= p.Outputs() {
		e.fail(req.ID, &requestError{where: "output", msg: fmt.Sprintf("output %d does not exist: the recipe makes %d", req.Output, p.Outputs())})
		return
	}
	name := req.Name
	if name == "" {
		name = DefaultName
		if label := p.OutputLabel(req.Output); label != "" {
			name = "merged." + label + ".safetensors"
		}
	}
	var size int64
	for _, t := range p.OutputTensors() {
		size += t.Bytes()
	}
	if req.Part != nil && req.Part.Count > 1 {
		size /= int64(req.Part.Count)
	}
	out, err := e.env.NewOutput(OutputSpec{Name: name, Size: size, Storage: req.Storage})
	if err != nil {
		e.fail(req.ID, err)
		return
	}
	cw := &countingWriter{w: out}
	progress := e.progressFunc(req.ID)
	opts.Progress = progress
	if req.Part != nil && !(req.Part.Index == 0 && req.Part.Count == 1) {
		err = runPart(ctx, p, r, opener, cw, opts, *req.Part)
	} else {
		err = runWhole(ctx, p, cw, opts)
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		out.Abort()
		if ctx.Err() != nil {
			e.post(Cancelled{Type: TypeCancelled, ID: req.ID})
			return
		}
		e.fail(req.ID, err)
		return
	}
	blob, err := out.Finish()
	if err != nil {
		e.fail(req.ID, err)
		return
	}
	e.post(Done{Type: TypeDone, ID: req.ID, Name: name, Bytes: cw.n, Seconds: e.env.Now().Sub(start).Seconds(),
		WasmMemory: e.memory(), Part: req.Part, Blob: blob})
}

func runWhole(ctx context.Context, p *plan.Plan, out io.Writer, opts plan.Options) error {
	// Whole-model steps (greedy soup selection, alignment) run first, so that the
	// metadata written in the header records what they chose.
	if err := p.Preprocess(ctx, opts); err != nil {
		return err
	}
	w, err := safetensors.NewWriter(out, p.OutputTensors(), p.Metadata(opts))
	if err != nil {
		return err
	}
	if err := p.Execute(ctx, w, opts); err != nil {
		return err
	}
	return w.Close()
}

// progressFunc rate-limits a merge's progress messages: at most one per
// ProgressEvery, and always the last one.
func (e *Engine) progressFunc(id string) func(plan.Progress) {
	var last time.Time
	return func(pr plan.Progress) {
		now := e.env.Now()
		final := pr.TensorsDone >= pr.TensorsTotal
		if !final && e.env.ProgressEvery > 0 && !last.IsZero() && now.Sub(last) < e.env.ProgressEvery {
			return
		}
		last = now
		e.post(Progress{Type: TypeProgress, ID: id, TensorsDone: pr.TensorsDone, TensorsTotal: pr.TensorsTotal,
			BytesDone: pr.BytesDone, BytesTotal: pr.BytesTotal, Tensor: pr.Tensor, WasmMemory: e.memory()})
	}
}

// readChunk is the size of one read of the read benchmark, as the planner's reads of a
// float32 tensor.
const readChunk = 1 << 20

// read reads every tensor of every file through its Source, computing nothing: the
// page's own file-read throughput, for the benchmark.
func (e *Engine) read(ctx context.Context, req Request, files []File) {
	start := e.env.Now()
	var total int64
	buf := make([]byte, readChunk)
	for _, f := range files {
		src, err := ckpt.OpenReaderAt(f.R, f.Size, f.Name)
		if err != nil {
			e.fail(req.ID, err)
			return
		}
		for _, t := range src.Tensors() {
			r, err := src.Tensor(t.Name)
			if err != nil {
				src.Close()
				e.fail(req.ID, err)
				return
			}
			for off := int64(0); off < r.Size(); off += readChunk {
				if ctx.Err() != nil {
					src.Close()
					e.post(Cancelled{Type: TypeCancelled, ID: req.ID})
					return
				}
				n := min(int64(readChunk), r.Size()-off)
				if _, err := r.ReadAt(buf[:n], off); err != nil && err != io.EOF {
					src.Close()
					e.fail(req.ID, &ckpt.FormatError{File: f.Name, Tensor: t.Name, Msg: err.Error()})
					return
				}
				total += n
			}
		}
		src.Close()
	}
	e.post(ReadResult{Type: TypeRead, ID: req.ID, Bytes: total, Seconds: e.env.Now().Sub(start).Seconds()})
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
