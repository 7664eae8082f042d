package playground

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"ladle/site/browsertest"
	"ladle/ui/state"
)

// stepRecipe is a workshop step over the soups lab's files: two of its ten fine-tunes.
const stepRecipe = "# step 3: a soup of two fine-tunes\nmerge_method: linear\nmodels:\n  - model: finetune-03.safetensors\n  - model: finetune-07.safetensors\n"

// soupsLab reads the soups lab of the built playground: its files and first recipe.
func soupsLab(t *testing.T) (*state.Lab, string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(sharedDist, "labs", "soups", "lab.json"))
	if err != nil {
		t.Skipf("link test skipped: the build bundles no soups lab (%v)", err)
	}
	lab, err := state.ParseLab("soups", raw)
	if err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(filepath.Join(sharedDist, "labs", "soups", lab.Recipes[0].File))
	if err != nil {
		t.Fatal(err)
	}
	return lab, string(first)
}

// navigate loads url as a fresh page (by way of about:blank, so that a link that
// differs only in its fragment loads anew) and waits until the page has mounted.
func navigate(t *testing.T, b *browsertest.Browser, url string) {
	t.Helper()
	c, cancel := context.WithTimeout(b.Ctx, 2*time.Minute) // a loaded machine, or the page through workerd
	defer cancel()
	if err := chromedp.Do(c, chromedp.Navigate("about:blank"), chromedp.Navigate(url)); err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	waitFor(t, b, `document.querySelector('[data-testid=run]') !== null`, 30*time.Second)
}

// labOpen is true once the lab is shown with all its files listed and the editor
// holds recipe.
func labOpen(lab *state.Lab, recipe string) string {
	return fmt.Sprintf(`document.querySelector('.lab h3') !== null && document.querySelector('.lab h3').textContent === %q && %s && %s === %q`,
		lab.Title, modelsListed(labModels(lab)), editorText, recipe)
}

// checkLinks opens ?lab=soups, then ?lab=soups#recipe=..., then #recipe= alone on the
// page at base, and finds the lab and recipe loaded each time.
func checkLinks(t *testing.T, b *browsertest.Browser, base string) {
	t.Helper()
	lab, first := soupsLab(t)
	navigate(t, b, base+"/?lab=soups")
	waitFor(t, b, labOpen(lab, first), 60*time.Second)
	if eval[bool](t, b, errorVisible) {
		t.Errorf("?lab=soups shows an error\n%s", pageState(b))
	}
	enc := base64.RawURLEncoding.EncodeToString([]byte(stepRecipe))
	navigate(t, b, base+"/?lab=soups#recipe="+enc)
	waitFor(t, b, labOpen(lab, stepRecipe)+" && "+runEnabled, 60*time.Second)
	if eval[bool](t, b, errorVisible) {
		t.Errorf("a lab and recipe link shows an error\n%s", pageState(b))
	}
	// a new fragment pasted into the same tab (hashchange) loads its recipe
	eval[bool](t, b, fmt.Sprintf(`(location.hash = %q, true)`, "recipe="+base64.RawURLEncoding.EncodeToString([]byte(first))))
	waitFor(t, b, labOpen(lab, first), 30*time.Second)
	// a recipe alone: in the editor, naming the files it needs
	navigate(t, b, base+"/#recipe="+enc)
	waitFor(t, b, fmt.Sprintf(`%s === %q && %s`, editorText, stepRecipe, errorVisible), 30*time.Second)
	if msg := eval[string](t, b, errorText); !strings.Contains(msg, "finetune-03.safetensors") {
		t.Errorf("a recipe link without its lab: the error does not name the missing files: %q", msg)
	}
	// a broken link says so
	navigate(t, b, base+"/?lab=no-such-lab#recipe=%%%")
	waitFor(t, b, errorVisible+` && document.querySelector('[data-testid=error]').textContent.includes('no-such-lab')`, 30*time.Second)
	if msg := eval[string](t, b, errorText); !strings.Contains(msg, "no-such-lab") || !strings.Contains(msg, "base64url") {
		t.Errorf("a broken link's error: %q", msg)
	}
}

// TestWorkshopLinks: ?lab= and #recipe= links on `ladle serve`; the fragment never
// reaches the server.
func TestWorkshopLinks(t *testing.T) {
	b := openPage(t)
	before := len(sharedSrv.Requests())
	checkLinks(t, b, sharedSrv.URL)
	for _, r := range sharedSrv.Requests()[before:] {
		if strings.Contains(r.Path, "recipe") {
			t.Errorf("the server saw the recipe: %s %s", r.Method, r.Path)
		}
	}
}

// TestShareLink: the share button's link (on the clipboard and shown as text), opened
// as a fresh page, restores the lab and the edited recipe; where the clipboard is
// denied, the link is shown to copy by hand.
func TestShareLink(t *testing.T) {
	b := openPage(t)
	lab, first := soupsLab(t)
	click(t, b, "lab-soups")
	waitFor(t, b, labOpen(lab, first), 60*time.Second)
	typeRecipe(t, b, stepRecipe)
	waitFor(t, b, runEnabled, 10*time.Second)
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	clipboard(t, ctx, browser.PermissionSettingGranted)
	click(t, b, "share")
	waitFor(t, b, `document.querySelector('[data-testid=share-link]') !== null && document.querySelector('.share').textContent.includes('copied')`, 10*time.Second)
	shown := eval[string](t, b, `document.querySelector('[data-testid=share-link]').value`)
	copied := eval[string](t, b, `navigator.clipboard.readText()`)
	if copied != shown {
		t.Errorf("the clipboard holds %q, the page shows %q", copied, shown)
	}
	want := sharedSrv.URL + "/?lab=soups#recipe=" + base64.RawURLEncoding.EncodeToString([]byte(stepRecipe))
	if shown != want {
		t.Errorf("the share link is %q, want %q", shown, want)
	}
	// a fresh page opens on the same lab and recipe
	navigate(t, b, shown)
	waitFor(t, b, labOpen(lab, stepRecipe)+" && "+runEnabled, 60*time.Second)
	if eval[bool](t, b, errorVisible) {
		t.Errorf("the shared link's page shows an error\n%s", pageState(b))
	}
	// denied clipboard: the link is shown to copy by hand
	clipboard(t, ctx, browser.PermissionSettingDenied)
	typeRecipe(t, b, first)
	click(t, b, "share")
	waitFor(t, b, `document.querySelector('.share-error') !== null`, 10*time.Second)
	if got := eval[string](t, b, `document.querySelector('[data-testid=share-link]').value`); !strings.HasPrefix(got, sharedSrv.URL+"/?lab=soups#recipe=") || got == shown {
		t.Errorf("with the clipboard denied the page shows %q", got)
	}
}

// clipboard grants or denies the page's origin the clipboard.
func clipboard(t *testing.T, ctx context.Context, setting browser.PermissionSetting) {
	t.Helper()
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: setting, Origin: sharedSrv.URL}); err != nil {
			t.Fatalf("setting %s to %s: %v", name, setting, err)
		}
	}
}
