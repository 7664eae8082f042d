package state

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

const linkRecipe = "merge_method: linear\nmodels:\n  - model: finetune-01.safetensors\n  - model: finetune-02.safetensors\n# é, ü and 🍲 survive the trip\n"

func TestShareURLRoundTrip(t *testing.T) {
	for _, page := range []string{"http://127.0.0.1:8080/", "https://ladle.example.workers.dev/?gpu=off#recipe=old", "https://host/playground/index.html?lab=other"} {
		for _, c := range []Link{{}, {Lab: "soups"}, {Recipe: linkRecipe}, {Lab: "task-arithmetic", Recipe: linkRecipe}, {Recipe: "a+b/c?d=e&f#g"}} {
			link, err := ShareURL(page, c.Lab, c.Recipe)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseLink(link)
			if err != nil || got != c {
				t.Errorf("ShareURL(%q, %+v) = %q, which reads back as %+v (%v)", page, c, link, got, err)
			}
			if strings.Contains(link, "gpu=") || strings.Contains(link, "old") || strings.Contains(link, "other") {
				t.Errorf("the link %q keeps parts of the page's address that are not lab and recipe", link)
			}
			if c.Recipe != "" && strings.Contains(strings.SplitN(link, "#", 2)[0], "recipe") {
				t.Errorf("the recipe is outside the fragment: %q", link)
			}
		}
	}
	link, _ := ShareURL("http://h/", "soups", linkRecipe)
	if want := "http://h/?lab=soups#recipe=" + base64.RawURLEncoding.EncodeToString([]byte(linkRecipe)); link != want {
		t.Errorf("link %q, want %q", link, want)
	}
}

func TestParseLink(t *testing.T) {
	enc := base64.URLEncoding.EncodeToString([]byte("merge_method: ties\n")) // padded
	cases := []struct {
		url  string
		want Link
		err  string
	}{
		{"http://h/", Link{}, ""},
		{"http://h/?lab=soups", Link{Lab: "soups"}, ""},
		{"http://h/?gpu=force&lab=soups#recipe=" + enc, Link{Lab: "soups", Recipe: "merge_method: ties\n"}, ""},
		{"http://h/#x=1&recipe=" + enc, Link{Recipe: "merge_method: ties\n"}, ""},
		{"http://h/?lab=../etc#recipe=" + enc, Link{Recipe: "merge_method: ties\n"}, "not a lab name"},
		{"http://h/?lab=soups#recipe=not*base64", Link{Lab: "soups"}, "not base64url"},
		{"http://h/?lab=soups#recipe=%%%", Link{Lab: "soups"}, "not base64url"},
		{"http://h/#recipe=" + base64.RawURLEncoding.EncodeToString([]byte{0xff, 0xfe}), Link{}, "not UTF-8"},
		{"http://h/#recipe=" + strings.Repeat("A", MaxLinkRecipe*2), Link{}, "longer than 16 KiB"},
	}
	for _, c := range cases {
		got, err := ParseLink(c.url)
		if got != c.want {
			t.Errorf("ParseLink(%.80q) = %+v, want %+v", c.url, got, c.want)
		}
		if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("ParseLink(%.80q) error %v, want one saying %q", c.url, err, c.err)
		}
	}
	if _, err := ShareURL("http://h/", "", strings.Repeat("x", MaxLinkRecipe+1)); err == nil || !strings.Contains(err.Error(), "Export recipe.yaml") {
		t.Errorf("ShareURL of a recipe too long for a link: %v", err)
	}
}

var soupsIndex = []LabEntry{{Name: "soups", Title: "Soups", Summary: "s"}, {Name: "rebasin", Title: "Re-basin", Summary: "r"}}

func TestOpenLinkWithLab(t *testing.T) {
	a := newApp()
	a.OpenLink(Link{Lab: "soups", Recipe: linkRecipe}, nil)
	if a.PendingLab() != "" {
		t.Error("a lab is pending before the labs index is read")
	}
	a.SetLabIndex(soupsIndex, nil)
	if got := a.PendingLab(); got != "soups" {
		t.Fatalf("PendingLab = %q after the index", got)
	}
	a.LabStarted("soups")
	a.LabLoaded("soups", &Lab{Title: "Soups"}, "merge_method: linear\nmodels: []\n")
	if a.RecipeText != linkRecipe || a.Labs.Open != "soups" {
		t.Errorf("after the lab loaded: open %q, recipe\n%s", a.Labs.Open, a.RecipeText)
	}
	if a.PendingLab() != "" {
		t.Error("the link's lab is still pending after it opened")
	}
	// Opening the lab again (a click) loads its own first recipe.
	a.LabLoaded("soups", &Lab{Title: "Soups"}, "merge_method: linear\nmodels: []\n")
	if a.RecipeText == linkRecipe {
		t.Error("the link's recipe was applied twice")
	}
	link, err := a.ShareLink("http://h/")
	if err != nil || link != "http://h/?lab=soups#recipe="+base64.RawURLEncoding.EncodeToString([]byte(a.RecipeText)) {
		t.Errorf("ShareLink = %q, %v", link, err)
	}
}

func TestOpenLinkRecipeAlone(t *testing.T) {
	a := newApp()
	a.OpenLink(Link{Recipe: linkRecipe}, nil)
	if a.RecipeText != linkRecipe || !a.Typed {
		t.Errorf("recipe %q typed %v", a.RecipeText, a.Typed)
	}
	if !strings.Contains(strings.Join(a.Errors(), "\n"), "finetune-01.safetensors") {
		t.Errorf("the models the recipe needs are not named: %q", a.Errors())
	}
}

func TestOpenLinkUnknownLab(t *testing.T) {
	a := newApp()
	a.OpenLink(Link{Lab: "nope", Recipe: linkRecipe}, errors.New("the link's recipe is not base64url text"))
	a.SetLabIndex(soupsIndex, nil)
	if a.PendingLab() != "" {
		t.Error("an unknown lab is pending")
	}
	if !strings.Contains(a.Notice, `"nope"`) || !strings.Contains(a.Notice, "soups, rebasin") || !strings.Contains(a.Notice, "base64url") {
		t.Errorf("notice %q", a.Notice)
	}
	if a.RecipeText != linkRecipe {
		t.Error("the link's recipe was dropped with its unknown lab")
	}
}

func TestOpenLinkLabFails(t *testing.T) {
	a := newApp()
	a.OpenLink(Link{Lab: "soups", Recipe: linkRecipe}, errors.New("the link's recipe is not base64url text"))
	if !strings.Contains(a.Notice, "base64url") {
		t.Errorf("notice %q", a.Notice)
	}
	a.SetLabIndex(soupsIndex, nil)
	a.LabStarted(a.PendingLab())
	a.LabFailed("soups", errors.New("404"))
	if a.RecipeText != linkRecipe || !strings.Contains(a.Notice, "could not be loaded") {
		t.Errorf("after the lab failed: notice %q, recipe %q", a.Notice, a.RecipeText)
	}
}

func TestSetShared(t *testing.T) {
	a := newApp()
	a.SetShared("http://h/#recipe=x", nil)
	if !a.Share.Copied || a.Share.Err != "" {
		t.Errorf("%+v", a.Share)
	}
	a.SetShared("http://h/#recipe=x", errors.New("the browser did not allow the clipboard"))
	if a.Share.Copied || a.Share.URL == "" || !strings.Contains(a.Share.Err, "clipboard") {
		t.Errorf("%+v", a.Share)
	}
}
