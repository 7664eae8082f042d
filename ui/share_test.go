package ui

import (
	"errors"
	"strings"
	"testing"

	"ladle/core/merge"
	"ladle/ui/state"
)

func TestShareButton(t *testing.T) {
	app := state.New(merge.Describe())
	host := &fakeHost{}
	root := NewRoot(app, host)
	html := render(t, root)
	if e := element(t, html, "share"); !strings.Contains(e, "<button") {
		t.Errorf("share: %s", e)
	}
	if has(html, "share-link") {
		t.Error("a link is shown before Share was pressed")
	}
	// copied: the link is shown and said to be on the clipboard
	app.SetRecipeText("merge_method: linear\nmodels: []\n")
	link, err := app.ShareLink("http://127.0.0.1:8080/")
	if err != nil {
		t.Fatal(err)
	}
	app.SetShared(link, nil)
	html = render(t, root)
	if e := element(t, html, "share-link"); !strings.Contains(e, `value="`+link+`"`) || !strings.Contains(e, "readonly") {
		t.Errorf("share-link: %s, want the link %s", e, link)
	}
	if !strings.Contains(html, "copied to the clipboard") || !strings.Contains(html, "not the models") {
		t.Error("no word that the link was copied, or that it carries no models")
	}
	// denied: the link is still there, with why it was not copied
	app.SetShared(link, errors.New("the browser did not allow copying"))
	app.LabLoaded("soups", &state.Lab{Title: "Soups"}, "")
	html = render(t, root)
	if !has(html, "share-link") || !strings.Contains(html, "did not allow copying") || strings.Contains(html, "copied to the clipboard") {
		t.Errorf("a denied clipboard: %s", html[strings.Index(html, `class="share"`):])
	}
	if strings.Contains(html, "not the models") {
		t.Error("a lab's link is said to lack its models")
	}
}
