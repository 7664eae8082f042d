//go:build js && wasm

package main

import (
	"errors"
	"fmt"
	"syscall/js"

	"ladle/ui/state"
	"ladle/wasm/jsutil"
)

// Workshop links (state.Link): ?lab=NAME opens a lab once the labs index is read;
// #recipe=BASE64URL preloads a recipe, the lab's first one when both are given. The
// fragment never leaves the browser. A new fragment pasted into the same tab
// (hashchange) is applied too.

// pageURL is the page's address.
func pageURL() string { return str(js.Global().Get("location").Get("href")) }

// openLink applies the page's workshop link, and any later change of its fragment.
// The render lock is held (start).
func (h *host) openLink() {
	h.app.OpenLink(state.ParseLink(pageURL()))
	js.Global().Call("addEventListener", "hashchange", js.FuncOf(func(js.Value, []js.Value) any {
		go h.update(func() {
			h.app.OpenLink(state.ParseLink(pageURL()))
			h.openPendingLab()
		})
		return nil
	}))
}

// openPendingLab opens the lab a link asks for, once the labs index is read. The
// render lock is held.
func (h *host) openPendingLab() {
	if name := h.app.PendingLab(); name != "" {
		h.OpenLab(name)
	}
}

// Share makes the link to the open lab and the editor's recipe, shows it and copies it
// to the clipboard. writeText is called here, in the click's own event, where the
// browser allows it.
func (h *host) Share() {
	link, err := h.app.ShareLink(pageURL())
	if err != nil {
		h.app.SetShared("", err)
		return
	}
	h.app.Share = state.Share{URL: link}
	clip := js.Global().Get("navigator").Get("clipboard")
	if clip.Type() != js.TypeObject || clip.Get("writeText").Type() != js.TypeFunction {
		h.app.SetShared(link, errors.New("This browser offers no clipboard to this page (it needs https or localhost): copy the link below."))
		return
	}
	p := clip.Call("writeText", link)
	go func() {
		_, err := jsutil.Await(p)
		if err != nil {
			err = fmt.Errorf("The browser did not allow copying (%v): copy the link below.", err)
		}
		h.update(func() {
			if h.app.Share.URL == link {
				h.app.SetShared(link, err)
			}
		})
	}()
}
