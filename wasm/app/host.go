//go:build js && wasm

package main

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/vugu/vugu"

	"ladle/core/recipe/spec"
	"ladle/ui"
	"ladle/ui/state"
	"ladle/ui/wire"
	"ladle/wasm/jsutil"
)

// progressEvery is the shortest time between two renders of a merge's progress.
const progressEvery = 80 * time.Millisecond

// maxRecipeFile bounds an imported recipe file: recipes are a few hundred bytes.
const maxRecipeFile = 1 << 20

// host implements ui.Host. Its ui.Host methods run in event handlers with the render
// lock held; the goroutines they start take the lock (update) only to change the
// state, never while they wait for the browser.
type host struct {
	env  vugu.EventEnv
	app  *state.App
	page *ui.Page
	pool *pool

	files     map[string]input // loaded model name → its files
	resultURL string           // object URL of the offered result
	// resultBlob is the offered result, evaluated as "result" (eval.go); evalCur and
	// sweepCur are the running evaluation and sweep.
	resultBlob                js.Value
	evalCur, sweepCur, labCur *evalRun

	mu  sync.Mutex // guards cur and its fields
	cur *run

	analysis analysisReq // the analysis in flight (analyze.go)

	checkSent  string // the recipe text last sent for the engine's check (main's loop only)
	runOnCheck string // the recipe text to run once its check passes (under the render lock)
}

// run is one merge: the requests it has out, so that Cancel can reach them.
type run struct {
	id        int
	reqs      map[string]int // request id → worker
	cancelled bool           // by the person
	name      string         // the result's file name
}

func newHost(env vugu.EventEnv, app *state.App) *host {
	h := &host{env: env, app: app, files: map[string]input{}}
	app.OnDiscard = h.discard
	return h
}

// discard releases a withdrawn result's object URL.
func (h *host) discard(url string) {
	if url == "" {
		return
	}
	js.Global().Get("URL").Call("revokeObjectURL", url)
	if h.resultURL == url {
		h.resultURL = ""
	}
}

// input is the files of one model and the names the engine knows them by: one file
// by its name, or a sharded folder's index and shards by their relative paths.
type input struct {
	files []js.Value
	names []string
}

// single makes each file a model of its own, named by its name.
func single(files []js.Value) []input {
	out := make([]input, len(files))
	for i, f := range files {
		out[i] = input{files: []js.Value{f}, names: []string{str(f.Get("name"))}}
	}
	return out
}

// update changes the state under the render lock and renders.
func (h *host) update(f func()) {
	h.env.Lock()
	defer h.env.UnlockRender()
	f()
}

// start launches the engine workers, reads the labs index and makes the whole window
// a drop target.
func (h *host) start() {
	cores := 0
	if hc := js.Global().Get("navigator").Get("hardwareConcurrency"); hc.Type() == js.TypeNumber {
		cores = hc.Int()
	}
	n := state.WorkerCount(cores)
	if early := earlyWorkers(); early > 0 {
		n = early // app.js started them while this program loaded
	}
	h.page.Workers = n
	h.pool = newPool(n, func(msg string) {
		h.update(func() { h.app.SetNotice("The merge engine could not start: " + msg + ". Reload the page.") })
	}, func(text string) {
		h.update(func() { h.page.Backend = text })
	})
	h.openLink()
	go h.loadLabIndex()
	win := js.Global()
	win.Call("addEventListener", "dragover", js.FuncOf(func(_ js.Value, args []js.Value) any {
		args[0].Call("preventDefault")
		return nil
	}))
	win.Call("addEventListener", "drop", js.FuncOf(func(_ js.Value, args []js.Value) any {
		ev := args[0]
		ev.Call("preventDefault")
		plain, dirs := collectDrop(ev.Get("dataTransfer"))
		go h.update(func() { h.page.Dragging = false; h.addDropped(plain, dirs) })
		return nil
	}))
}

// list copies a FileList (or any array-like) into a slice.
func list(v js.Value) []js.Value {
	if v.Type() != js.TypeObject {
		return nil
	}
	out := make([]js.Value, v.Length())
	for i := range out {
		out[i] = v.Index(i)
	}
	return out
}

// relativePaths are the files' paths in a chosen folder (their names when the
// browser gives none).
func relativePaths(files []js.Value) []string {
	out := make([]string, len(files))
	for i, f := range files {
		if out[i] = str(f.Get("webkitRelativePath")); out[i] == "" {
			out[i] = str(f.Get("name"))
		}
	}
	return out
}

// --- ui.Host

func (h *host) AddFiles(event vugu.DOMEvent) {
	target := js.Value(event.JSEventTarget())
	files := list(target.Get("files"))
	folder := target.Get("webkitdirectory").Truthy()
	target.Set("value", "") // choosing the same file again fires change again
	if !folder {
		h.addFiles(single(files))
		return
	}
	models, notice := ui.FolderFiles(relativePaths(files))
	h.app.SetNotice(notice)
	h.addFiles(folderInputs(models, files))
}

// folderInputs makes one input of each model ui.FolderFiles found in a folder's
// files (a sharded checkpoint's shards together, an adapter's files together).
func folderInputs(models []ui.FolderModel, files []js.Value) []input {
	var inputs []input
	for _, m := range models {
		in := input{names: m.Names}
		for _, i := range m.Files {
			in.files = append(in.files, files[i])
		}
		inputs = append(inputs, in)
	}
	return inputs
}

func (h *host) DropFiles(event vugu.DOMEvent) {
	h.addDropped(collectDrop(js.Value(event.JSEvent()).Get("dataTransfer")))
}

// addFiles inspects models' files in the workers and adds them as models, in their
// order. The render lock is held.
//
// A YAML file among them is a recipe, not a model: it goes into the editor (as Import
// recipe… does) once the models it names are in.
func (h *host) addFiles(files []input) {
	files, recipe := takeRecipe(files)
	if files = h.takeArch(files); len(files) == 0 {
		if recipe.Truthy() {
			h.importRecipe(recipe)
		}
		return
	}
	h.page.Reading += len(files)
	go func() {
		models := h.inspect(files)
		h.update(func() {
			h.page.Reading -= len(files)
			for i, m := range models {
				if m.Error == "" {
					h.files[m.Name] = files[i]
				} else {
					delete(h.files, m.Name)
				}
			}
			h.app.AddModels(models...)
			if recipe.Truthy() {
				h.importRecipe(recipe)
			}
		})
	}()
}

// takeRecipe takes the first YAML file (.yaml, .yml) out of files: a recipe dropped or
// chosen with its checkpoints.
func takeRecipe(files []input) (rest []input, recipe js.Value) {
	recipe = js.Undefined()
	for _, in := range files {
		name := strings.ToLower(in.names[0])
		if len(in.files) == 1 && !recipe.Truthy() && (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			recipe = in.files[0]
			continue
		}
		rest = append(rest, in)
	}
	return rest, recipe
}

// inspect describes models, one request per model (a file, or a sharded folder's
// files) spread over the workers, so that an unreadable file is reported alone.
func (h *host) inspect(files []input) []state.ModelFile {
	out := make([]state.ModelFile, len(files))
	var wg sync.WaitGroup
	for i, in := range files {
		wg.Add(1)
		_, ch := h.pool.request(i, map[string]any{"type": wire.TypeInspect, "files": in.jsFiles(), "names": in.jsNames()})
		name := in.names[0]
		if len(in.files) > 1 {
			name = path.Dir(name) // a sharded folder: the engine names it by its folder
		}
		var size int64
		for _, f := range in.files {
			size += int64(f.Get("size").Float())
		}
		go func() {
			defer wg.Done()
			for m := range ch {
				switch str(m.Get("type")) {
				case wire.TypeInspected:
					var models []wire.Model
					raw := js.Global().Get("JSON").Call("stringify", m.Get("models")).String()
					if err := json.Unmarshal([]byte(raw), &models); err != nil || len(models) != 1 {
						out[i] = state.ModelFile{Name: name, Size: size, Error: fmt.Sprintf("the engine's description could not be read (%v)", err)}
						return
					}
					md := models[0]
					mf := state.ModelFile{Name: md.Name, Format: md.Format, Size: size, Metadata: md.Metadata}
					for _, t := range md.Tensors {
						mf.Tensors = append(mf.Tensors, state.Tensor{Name: t.Name, DType: t.DType, Shape: t.Shape})
					}
					out[i] = mf
					return
				case wire.TypeError:
					out[i] = state.ModelFile{Name: name, Size: size, Error: errorText(m)}
					return
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// jsFiles and jsNames are the request's files and names fields.
func (in input) jsFiles() []any {
	out := make([]any, len(in.files))
	for i, f := range in.files {
		out[i] = f
	}
	return out
}

func (in input) jsNames() []any {
	out := make([]any, len(in.names))
	for i, n := range in.names {
		out[i] = n
	}
	return out
}

// errorText is an error answer's message.
// check asks an engine worker for the command's check (plan.Check) of the recipe text
// the page waits on (state's Verifying), once per text: the page program does not
// link the planner. The answer arrives as OnVerified. Called from main's loop.
func (h *host) check(text string) {
	if text == "" || text == h.checkSent || h.pool == nil {
		return
	}
	h.checkSent = text
	_, ch := h.pool.request(0, map[string]any{"type": wire.TypeCheck, "recipe": text})
	go func() {
		m := final(ch)
		msg := str(m.Get("message"))
		var r *spec.Recipe
		if str(m.Get("type")) != wire.TypeChecked {
			msg = "The recipe could not be checked: " + errorText(m)
		} else if parsed := str(m.Get("parsed")); parsed != "" {
			r = new(spec.Recipe)
			if err := json.Unmarshal([]byte(parsed), r); err != nil {
				r, msg = nil, "The recipe could not be checked: "+err.Error()
			}
		}
		h.update(func() {
			h.app.OnChecked(text, r, msg)
			if h.runOnCheck == text {
				h.runOnCheck = ""
				if h.app.RecipeText == text {
					h.Run()
				}
			}
		})
	}()
}

func errorText(m js.Value) string {
	e := m.Get("error")
	if e.Type() != js.TypeObject {
		return "the engine failed without saying why"
	}
	return str(e.Get("message"))
}

func (h *host) RemoveModel(name string) {
	delete(h.files, name)
	h.app.RemoveModel(name)
}

func (h *host) ClearModels() {
	h.files = map[string]input{}
	h.app.ClearModels()
	h.page.Focus = "#file-input"
}

func (h *host) ImportRecipe(event vugu.DOMEvent) {
	target := js.Value(event.JSEventTarget())
	files := list(target.Get("files"))
	target.Set("value", "")
	if len(files) == 0 {
		return
	}
	h.importRecipe(files[0])
}

// importRecipe reads a recipe file into the editor. The render lock is held.
func (h *host) importRecipe(f js.Value) {
	name := str(f.Get("name"))
	if f.Get("size").Float() > maxRecipeFile {
		h.app.SetNotice(fmt.Sprintf("%s is larger than 1 MB, which is not a recipe: choose a YAML or JSON recipe file.", name))
		return
	}
	go func() {
		text, err := jsutil.Await(f.Call("text"))
		h.update(func() {
			if err != nil {
				h.app.SetNotice(fmt.Sprintf("%s could not be read: %v", name, err))
				return
			}
			h.app.SetNotice("")
			h.app.SetRecipeText(text.String())
		})
	}()
}

func (h *host) ExportRecipe() {
	blob := js.Global().Get("Blob").New([]any{h.app.RecipeText}, map[string]any{"type": "application/yaml"})
	download(blob, "recipe.yaml", 10*time.Second)
}

// download offers a Blob as a file, through a temporary link, and revokes its URL
// after keep.
func download(blob js.Value, name string, keep time.Duration) {
	url := js.Global().Get("URL").Call("createObjectURL", blob)
	doc := js.Global().Get("document")
	a := doc.Call("createElement", "a")
	a.Set("href", url)
	a.Set("download", name)
	a.Set("hidden", true)
	doc.Get("body").Call("appendChild", a)
	a.Call("click")
	a.Call("remove")
	go func() {
		time.Sleep(keep)
		js.Global().Get("URL").Call("revokeObjectURL", url)
	}()
}

// revokeResult drops the offered result's object URL.
func (h *host) revokeResult() {
	if h.resultURL != "" {
		js.Global().Get("URL").Call("revokeObjectURL", h.resultURL)
		h.resultURL = ""
	}
}

func (h *host) Run() {
	if a := h.app; a.Verifying != "" && a.RecipeErr == "" && !a.Run.Running {
		h.runOnCheck = a.Verifying // a recipe set by the page (a sweep point): run once the engine passes it
		return
	}
	if !h.app.CanRun() || h.pool == nil {
		return
	}
	h.revokeResult()
	h.resultBlob = js.Undefined()
	h.app.DropResultRow()
	h.app.SetGreedy(nil)
	h.app.Eval.ResultRecipe = h.app.RecipeText
	id := h.app.StartRun(time.Now())
	files := h.allFiles() // the datasets too: a greedy soup's ladle.eval.data names one
	h.app.SetWorkers(id, h.pool.size())
	r := &run{id: id, reqs: map[string]int{}, name: h.app.ResultName()}
	h.mu.Lock()
	h.cur = r
	h.mu.Unlock()
	h.page.Focus = "[data-testid=cancel]" // Run is disabled while merging
	go h.merge(r, h.app.RecipeText, files, h.pool.size())
}

func (h *host) Cancel() {
	h.mu.Lock()
	r := h.cur
	h.mu.Unlock()
	if r == nil || r.id != h.app.Run.ID || !h.app.Run.Running {
		return
	}
	h.app.CancelRun(r.id)
	h.mu.Lock()
	r.cancelled = true
	h.mu.Unlock()
	h.cancelAll(r)
}

// cancelAll asks every worker to stop the run's requests.
func (h *host) cancelAll(r *run) {
	h.mu.Lock()
	reqs := make(map[string]int, len(r.reqs))
	for id, w := range r.reqs {
		reqs[id] = w
	}
	h.mu.Unlock()
	for id, w := range reqs {
		h.pool.cancel(w, id)
	}
}

// outcome is how the requests of one attempt ended.
type outcome struct {
	blob      js.Value
	name      string
	err       string
	partOnly  bool // every error was a part request for a merge that cannot be split
	cancelled bool
}

// merge runs a merge: split over k workers, or on one when the method cannot be split.
func (h *host) merge(r *run, recipe string, files input, k int) {
	start := time.Now()
	o := h.attempt(r, recipe, files, k, start)
	if o.err != "" && o.partOnly && k > 1 && !o.cancelled {
		h.update(func() { h.app.SetWorkers(r.id, 1) })
		o = h.attempt(r, recipe, files, 1, start)
	}
	h.mu.Lock()
	cancelled := r.cancelled || o.cancelled
	h.mu.Unlock()
	var url js.Value
	if !cancelled && o.err == "" {
		url = js.Global().Get("URL").Call("createObjectURL", o.blob)
	}
	h.update(func() {
		now := time.Now()
		if r.id == h.app.Run.ID {
			h.page.Focus = h.focusAfterRun(cancelled || o.err != "")
		}
		switch {
		case r.id != h.app.Run.ID:
			if !url.IsUndefined() {
				js.Global().Get("URL").Call("revokeObjectURL", url)
			}
		case cancelled:
			h.app.OnCancelled(r.id, now)
		case o.err != "":
			h.app.OnError(r.id, o.err, now)
		default:
			h.revokeResult()
			h.resultURL = url.String()
			h.resultBlob = o.blob
			h.app.OnDone(r.id, state.Result{Name: o.name, URL: h.resultURL, Bytes: int64(o.blob.Get("size").Float()), Seconds: now.Sub(start).Seconds()}, now)
			h.afterMerge()
		}
	})
}

type answer struct {
	part int
	msg  js.Value
}

// attempt sends the merge as k parts (k = 1: one whole request) and waits for all.
func (h *host) attempt(r *run, recipe string, files input, k int, start time.Time) outcome {
	answers := make(chan answer, 256)
	var wg sync.WaitGroup
	h.mu.Lock()
	if r.cancelled {
		h.mu.Unlock()
		return outcome{cancelled: true}
	}
	for i := 0; i < k; i++ {
		msg := map[string]any{"type": wire.TypeMerge, "recipe": recipe, "files": files.jsFiles(), "names": files.jsNames(), "name": r.name}
		if k > 1 {
			msg["part"] = map[string]any{"index": i, "count": k}
		}
		id, ch := h.pool.request(i, msg)
		r.reqs[id] = i
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range ch {
				if str(m.Get("type")) == wire.TypeProgress {
					select {
					case answers <- answer{i, m}:
					default:
					}
					continue
				}
				answers <- answer{i, m}
				return
			}
		}()
	}
	h.mu.Unlock()
	parts := state.NewParts(k)
	blobs := make([]any, k)
	o := outcome{partOnly: true}
	var last time.Time
	for left := k; left > 0; {
		a := <-answers
		m := a.msg
		switch str(m.Get("type")) {
		case wire.TypeProgress:
			p := parts.Update(a.part, progress(m))
			if now := time.Now(); now.Sub(last) >= progressEvery {
				last = now
				h.update(func() { h.app.OnProgress(r.id, p, now) })
			}
		case wire.TypeDone:
			left--
			blobs[a.part] = m.Get("blob")
			if a.part == 0 {
				o.name = str(m.Get("name"))
			}
			parts.Finish(a.part)
		case wire.TypeCancelled:
			left--
			o.cancelled = true
		default: // error
			left--
			e := m.Get("error")
			if e.Type() != js.TypeObject || str(e.Get("where")) != "part" {
				o.partOnly = false
			}
			if o.err == "" || (!o.partOnly && str(e.Get("where")) != "part") {
				o.err = errorText(m)
			}
			h.cancelAll(r) // the other parts are of no use now
		}
	}
	wg.Wait()
	h.mu.Lock()
	for id := range r.reqs {
		delete(r.reqs, id)
	}
	h.mu.Unlock()
	if o.err != "" {
		o.cancelled = false // parts cancelled because another failed: the failure is the news
		return o
	}
	if o.cancelled {
		return o
	}
	if k == 1 {
		o.blob = blobs[0].(js.Value)
	} else {
		o.blob = js.Global().Get("Blob").New(blobs, map[string]any{"type": "application/octet-stream"})
	}
	h.update(func() { h.app.OnProgress(r.id, parts.Total(), time.Now()) })
	return o
}

// progress reads a progress message.
func progress(m js.Value) state.Progress {
	num := func(k string) int64 {
		v := m.Get(k)
		if v.Type() != js.TypeNumber {
			return 0
		}
		return int64(v.Float())
	}
	return state.Progress{TensorsDone: int(num("tensorsDone")), TensorsTotal: int(num("tensorsTotal")),
		BytesDone: num("bytesDone"), BytesTotal: num("bytesTotal"), Tensor: str(m.Get("tensor"))}
}

// focusAfterRun is where the focus goes when a run ends, if it was on the Cancel
// button (which is disabled now) or nowhere: the download, else Run.
func (h *host) focusAfterRun(failed bool) string {
	active := js.Global().Get("document").Get("activeElement")
	if !active.IsNull() && !active.Equal(js.Global().Get("document").Get("body")) && str(active.Call("getAttribute", "data-testid")) != "cancel" {
		return ""
	}
	if failed {
		return "[data-testid=run]"
	}
	return "[data-testid=download]"
}
