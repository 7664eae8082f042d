//go:build js && wasm

package main

import (
	"errors"
	"fmt"
	"syscall/js"

	"ladle/ui/state"
	"ladle/wasm/jsutil"
)

// labsRoot is where the bundled labs are, relative to the page (public/labs in the
// source tree).
const labsRoot = "labs/"

// errNotFound is a 404: for the index, no labs are bundled.
var errNotFound = errors.New("not found")

// fetchOK fetches a URL of the page's own origin and returns the response when its
// status is 2xx.
func fetchOK(url string) (js.Value, error) {
	resp, err := jsutil.Await(js.Global().Call("fetch", url, map[string]any{"credentials": "same-origin"}))
	if err != nil {
		return js.Undefined(), fmt.Errorf("%s could not be fetched: %v", url, err)
	}
	if !resp.Get("ok").Bool() {
		if resp.Get("status").Int() == 404 {
			return js.Undefined(), fmt.Errorf("%s: %w", url, errNotFound)
		}
		return js.Undefined(), fmt.Errorf("%s: the server answered %d %s", url, resp.Get("status").Int(), str(resp.Get("statusText")))
	}
	return resp, nil
}

func fetchText(url string) (string, error) {
	resp, err := fetchOK(url)
	if err != nil {
		return "", err
	}
	t, err := jsutil.Await(resp.Call("text"))
	if err != nil {
		return "", fmt.Errorf("%s: %v", url, err)
	}
	return t.String(), nil
}

// fetchFile fetches a file of the page's origin as a File named name.
func fetchFile(url, name string) (js.Value, error) {
	resp, err := fetchOK(url)
	if err != nil {
		return js.Undefined(), err
	}
	blob, err := jsutil.Await(resp.Call("blob"))
	if err != nil {
		return js.Undefined(), fmt.Errorf("%s: %v", url, err)
	}
	return js.Global().Get("File").New([]any{blob}, name, map[string]any{"type": "application/octet-stream"}), nil
}

// loadLabIndex reads labs/index.json; a missing one means no labs are bundled.
func (h *host) loadLabIndex() {
	text, err := fetchText(labsRoot + "index.json")
	var list []state.LabEntry
	switch {
	case errors.Is(err, errNotFound):
		err = nil
	case err == nil:
		list, err = state.ParseLabIndex([]byte(text))
	}
	h.update(func() {
		h.app.SetLabIndex(list, err)
		h.openPendingLab() // a workshop link's ?lab=
	})
}

func (h *host) OpenLab(name string) {
	if h.app.Labs.Loading != "" {
		return
	}
	h.app.LabStarted(name)
	go h.loadLab(name)
}

// loadLab fetches a lab's description, checkpoints and first recipe, inspects the
// checkpoints and shows the lab.
func (h *host) loadLab(name string) {
	fail := func(err error) { h.update(func() { h.app.LabFailed(name, err) }) }
	dir := labsRoot + name + "/"
	text, err := fetchText(dir + "lab.json")
	if err != nil {
		fail(err)
		return
	}
	lab, err := state.ParseLab(name, []byte(text))
	if err != nil {
		fail(err)
		return
	}
	var files []js.Value
	for _, f := range lab.Files {
		file, err := fetchFile(dir+f, f)
		if err != nil {
			fail(err)
			return
		}
		files = append(files, file)
	}
	recipe := ""
	if len(lab.Recipes) > 0 {
		if recipe, err = fetchText(dir + lab.Recipes[0].File); err != nil {
			fail(err)
			return
		}
	}
	h.update(func() { h.page.Reading += len(files) })
	inputs := single(files)
	models := h.inspect(inputs)
	h.update(func() {
		h.page.Reading -= len(files)
		for i, m := range models {
			if m.Error == "" {
				h.files[m.Name] = inputs[i]
			}
		}
		for _, gone := range h.app.LabModels(models) {
			delete(h.files, gone)
		}
		h.app.LabLoaded(name, lab, recipe)
	})
}

func (h *host) OpenLabRecipe(file string) {
	name := h.app.Labs.Open
	if name == "" {
		return
	}
	go func() {
		text, err := fetchText(labsRoot + name + "/" + file)
		h.update(func() {
			if err != nil {
				h.app.SetNotice(fmt.Sprintf("The recipe %s could not be loaded: %v", file, err))
				return
			}
			h.app.SetNotice("")
			h.app.LabRecipeLoaded(file, text)
		})
	}()
}
