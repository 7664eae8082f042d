//go:build js && wasm

package main

import (
	"strings"
	"syscall/js"

	"ladle/ui"
)

// collectDrop takes what was dropped on the page out of a drop event's DataTransfer:
// the files, and the folders as File and Directory Entries API entries (a sharded
// checkpoint, a PEFT LoRA adapter). Before, a dropped folder came through
// dataTransfer.files as a File that cannot be read ("reading bytes 0-4096:
// NotFoundError"). It must run during the event, whose items are gone after it.
func collectDrop(dt js.Value) (plain, dirs []js.Value) {
	if dt.Type() != js.TypeObject {
		return nil, nil
	}
	for _, it := range list(dt.Get("items")) {
		if str(it.Get("kind")) != "file" {
			continue
		}
		var entry js.Value
		if fn := it.Get("webkitGetAsEntry"); fn.Type() == js.TypeFunction {
			entry = it.Call("webkitGetAsEntry")
		}
		if entry.Truthy() && entry.Get("isDirectory").Truthy() {
			dirs = append(dirs, entry)
		} else if f := it.Call("getAsFile"); f.Truthy() {
			plain = append(plain, f)
		}
	}
	if len(plain) == 0 && len(dirs) == 0 { // a browser without items
		plain = list(dt.Get("files"))
	}
	return plain, dirs
}

// addDropped adds dropped files, each a model, and the files of dropped folders, read
// in a goroutine and taken as "Choose a folder…" takes them. The render lock is held.
func (h *host) addDropped(plain, dirs []js.Value) {
	if len(dirs) == 0 {
		h.addFiles(single(plain))
		return
	}
	h.page.Reading += len(dirs)
	go func() {
		var files []js.Value
		var paths []string
		problem := ""
		for _, d := range dirs {
			if err := walkEntry(d, &files, &paths); err != "" && problem == "" {
				problem = "The folder " + str(d.Get("name")) + " could not be read: " + err
			}
		}
		h.update(func() {
			h.page.Reading -= len(dirs)
			models, notice := ui.FolderFiles(paths)
			if problem != "" {
				notice = problem
			}
			h.app.SetNotice(notice)
			h.addFiles(append(single(plain), folderInputs(models, files)...))
		})
	}()
}

// walkEntry collects the files under a file system entry with their paths relative to
// the drop ("adapter/adapter_config.json"), as File.webkitRelativePath gives them for
// a chosen folder; it returns why it could not, "" when it could. It waits on the
// browser's callbacks, so it runs in a goroutine, never in an event handler.
func walkEntry(entry js.Value, files *[]js.Value, paths *[]string) string {
	if entry.Get("isFile").Truthy() {
		f, err := await(func(ok, fail js.Value) { entry.Call("file", ok, fail) })
		if err != "" {
			return err
		}
		*files = append(*files, f)
		*paths = append(*paths, strings.TrimPrefix(str(entry.Get("fullPath")), "/"))
		return ""
	}
	reader := entry.Call("createReader")
	for { // readEntries gives a batch at a time, then an empty one
		batch, err := await(func(ok, fail js.Value) { reader.Call("readEntries", ok, fail) })
		if err != "" {
			return err
		}
		children := list(batch)
		if len(children) == 0 {
			return ""
		}
		for _, c := range children {
			if err := walkEntry(c, files, paths); err != "" {
				return err
			}
		}
	}
}

// await calls start with success and failure callbacks and waits for either: the
// success's argument, or the failure's message.
func await(start func(ok, fail js.Value)) (js.Value, string) {
	type result struct {
		v   js.Value
		err string
	}
	ch := make(chan result, 1)
	var ok, fail js.Func
	ok = js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		ch <- result{v: v}
		return nil
	})
	fail = js.FuncOf(func(_ js.Value, args []js.Value) any {
		msg := "the browser refused"
		if len(args) > 0 && args[0].Truthy() {
			msg = str(args[0].Get("name")) + ": " + str(args[0].Get("message"))
		}
		ch <- result{err: msg}
		return nil
	})
	start(ok.Value, fail.Value)
	r := <-ch
	ok.Release()
	fail.Release()
	return r.v, r.err
}
