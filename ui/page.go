package ui

import (
	"fmt"
	"ladle/core/ckpt"
	"ladle/core/lora/ref"
	"path"
	"strings"

	"github.com/vugu/vugu"

	"ladle/ui/state"
)

// Host is what the page needs from the browser: reading chosen files, the engine
// workers, downloads and the page's own origin. ladle/wasm/app implements it over
// syscall/js; tests use a fake. Its methods are called from event handlers, with the
// render lock held: they must not block, and the work they start updates the state
// later under EventEnv().Lock() / UnlockRender().
type Host interface {
	// AddFiles adds the files of the event's target, an <input type=file> (files or a
	// folder), as models.
	AddFiles(event vugu.DOMEvent)
	// DropFiles adds the files dropped on the drop zone.
	DropFiles(event vugu.DOMEvent)
	// RemoveModel forgets a loaded file.
	RemoveModel(name string)
	// ImportRecipe reads the recipe file chosen in the event's target into the editor.
	ImportRecipe(event vugu.DOMEvent)
	// ExportRecipe downloads the editor's text as recipe.yaml.
	ExportRecipe()
	// Run starts the merge of the recipe text on the engine workers; Cancel stops it.
	Run()
	Cancel()
	// OpenLab loads a bundled lab: its files as models, its first recipe, its numbers.
	OpenLab(name string)
	// OpenLabRecipe loads another recipe file of the open lab into the editor.
	OpenLabRecipe(file string)
	// ClearModels forgets every loaded file.
	ClearModels()
	// Analyze measures the task vectors of the analysis view's base and models in an
	// engine worker; CancelAnalysis stops it.
	Analyze()
	CancelAnalysis()
	// Share copies a link to the open lab and the editor's recipe to the clipboard
	// and shows it (state.App.ShareLink).
	Share()
}

// Page is what every component renders: the state and the host that acts on it.
type Page struct {
	App  *state.App
	Host Host
	// Reading counts the files being inspected; Dragging is set while files are
	// dragged over the drop zone.
	Reading  int
	Dragging bool
	// Workers is how many engine workers the page runs merges on.
	Workers int
	// Backend names the compute backend the workers use and why (the engine
	// workers report it once their WebGPU self-tests are done).
	Backend string
	// Focus is a CSS selector of the element to focus once the next render is on
	// screen ("" for none): the host moves the focus where a person's next step is
	// when the control they used goes away (Run disabled while merging).
	Focus string
	// Eval runs evaluations and sweeps (nil: the page offers none).
	Eval EvalHost
}

// NewRoot returns the page's root component.
func NewRoot(app *state.App, host Host) *Root {
	return &Root{P: &Page{App: app, Host: host, Workers: 1, Backend: "CPU · WebAssembly — looking for a WebGPU adapter"}}
}

// humanCount writes a parameter count as 1.2M, 34.5k, 999.
func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// domID turns a file or parameter name into a safe id fragment.
func domID(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('-')
		}
		for _, r := range p {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
				b.WriteRune(r)
			default:
				fmt.Fprintf(&b, "_%x", r)
			}
		}
	}
	return b.String()
}

// value is the text of a form control of the event's target.
func value(event vugu.DOMEvent) string { return event.PropString("target", "value") }

// checkpointExt reports whether a file name looks like a checkpoint the engine reads;
// a folder pick keeps only those (a model folder also holds configs and tokenizers).
func checkpointExt(name string) bool {
	lower := strings.ToLower(name)
	for _, ext := range []string{".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".gguf", ".npz", ".npy"} {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	return false
}

// FolderModel is one model of a folder pick: the positions of its files in the pick
// and the names the engine is to know them by.
type FolderModel struct {
	Files []int
	Names []string
}

// FolderFiles picks the models of a folder selection by the files' relative paths
// (File.webkitRelativePath, "mymodel/model-00001-of-00002.safetensors"): each
// checkpoint file is a model named by its file name, and a folder holding a
// *.safetensors.index.json is one sharded model, its index and .safetensors files named
// by their relative paths, which the engine reads as one checkpoint named after the
// folder (see ladle/ui/engine). Configs, tokenizers and other files are left out.
func FolderFiles(paths []string) (models []FolderModel, notice string) {
	sharded := map[string]bool{}
	for _, p := range paths {
		if dir := path.Dir(p); dir != "." && strings.HasSuffix(strings.ToLower(p), ".safetensors.index.json") {
			sharded[dir] = true
		}
	}
	adapters := map[string]bool{}
	for _, p := range paths {
		if dir := path.Dir(p); dir != "." && path.Base(p) == ref.ConfigFile {
			adapters[dir] = true
		}
	}
	done := map[string]bool{}
	for i, p := range paths {
		dir := path.Dir(p)
		if adapters[dir] {
			// A PEFT adapter folder: its config and weights, named "folder/<file>"
			// by the folder's own name, which recipes write as BASE+folder.
			if done[dir] {
				continue
			}
			done[dir] = true
			var m FolderModel
			for j, q := range paths {
				if path.Dir(q) == dir && (path.Base(q) == ref.ConfigFile || path.Base(q) == ref.WeightsFile || path.Base(q) == ref.WeightsFileTorch) {
					m.Files = append(m.Files, j)
					m.Names = append(m.Names, path.Base(dir)+"/"+path.Base(q))
				}
			}
			models = append(models, m)
			continue
		}
		if !sharded[dir] {
			if checkpointExt(p) {
				models = append(models, FolderModel{Files: []int{i}, Names: []string{path.Base(p)}})
			}
			continue
		}
		if done[dir] {
			continue
		}
		done[dir] = true
		var m FolderModel
		for j, q := range paths {
			lower := strings.ToLower(q)
			if path.Dir(q) == dir && (strings.HasSuffix(lower, ".safetensors.index.json") || strings.HasSuffix(lower, ".safetensors")) {
				m.Files = append(m.Files, j)
				m.Names = append(m.Names, q)
			}
		}
		models = append(models, m)
	}
	if len(models) == 0 && len(paths) > 0 {
		return nil, "The chosen folder holds no checkpoint files (.safetensors, .pt, .pth, .bin, .ckpt, .gguf, .npz, .npy)."
	}
	return models, ""
}

// humanBytes is the size format the templates use.
var humanBytes = ckpt.FormatBytes
