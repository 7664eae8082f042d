package state

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Workshop links. A page URL may carry a lab to open and a recipe to preload:
//
//	https://host/?lab=soups#recipe=bWVyZ2VfbWV0aG9kOiBsaW5lYXIK
//
// lab is a bundled lab's name (?lab=NAME); recipe is the recipe's text, UTF-8,
// base64url-encoded (RFC 4648 §5, padding optional) in the fragment, which the browser
// never sends to a server. A teacher shares one link and every student's page opens on
// the same lab and recipe; the models a recipe names come from the lab (or are dropped
// by the student), never from the link.

// MaxLinkRecipe bounds the recipe a link carries (its text, before encoding): a recipe
// is a few hundred bytes, and links longer than some tens of kilobytes are cut by the
// tools people paste them into.
const MaxLinkRecipe = 16 << 10

// Link is what a workshop link asks for; "" where it asks for nothing.
type Link struct {
	Lab    string
	Recipe string
}

// ParseLink reads the lab and recipe of a page URL. A link with neither is the zero
// Link. A malformed part is an error that says what is wrong; the other part is still
// returned.
func ParseLink(rawURL string) (Link, error) {
	// The fragment is read apart: a mangled one must not hide the lab.
	rest, frag, _ := strings.Cut(rawURL, "#")
	u, err := url.Parse(rest)
	if err != nil {
		return Link{}, fmt.Errorf("the page's address cannot be read: %v", err)
	}
	var l Link
	var errs []error
	if lab := u.Query().Get("lab"); lab != "" {
		if !plainName.MatchString(lab) || strings.Contains(lab, "..") {
			errs = append(errs, fmt.Errorf("the link's lab %q is not a lab name (letters, digits, '.', '_', '-')", lab))
		} else {
			l.Lab = lab
		}
	}
	if f, err := url.PathUnescape(frag); err == nil {
		frag = f
	}
	for _, part := range strings.Split(frag, "&") {
		enc, ok := strings.CutPrefix(part, "recipe=")
		if !ok {
			continue
		}
		text, err := DecodeLinkRecipe(enc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l.Recipe = text
	}
	return l, errors.Join(errs...)
}

// DecodeLinkRecipe decodes the recipe of a #recipe= fragment.
func DecodeLinkRecipe(enc string) (string, error) {
	enc = strings.TrimRight(strings.TrimSpace(enc), "=")
	if base64.RawURLEncoding.DecodedLen(len(enc)) > MaxLinkRecipe {
		return "", fmt.Errorf("the link's recipe is longer than %d KiB; share the recipe file instead (Export recipe.yaml)", MaxLinkRecipe>>10)
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", fmt.Errorf("the link's recipe is not base64url text (was the link cut short?): %v", err)
	}
	if !utf8.Valid(b) {
		return "", errors.New("the link's recipe is not UTF-8 text (was the link cut short?)")
	}
	return string(b), nil
}

// ShareURL is the link to a lab and recipe on the page at pageURL: its scheme, host
// and path, ?lab=NAME when lab is set, and #recipe= when recipe is set. Other query
// parameters and the old fragment are left out: the link says what to open, not how
// this browser runs it.
func ShareURL(pageURL, lab, recipe string) (string, error) {
	u, err := url.Parse(pageURL)
	if err != nil {
		return "", fmt.Errorf("the page's address cannot be read: %v", err)
	}
	if len(recipe) > MaxLinkRecipe {
		return "", fmt.Errorf("the recipe is %d bytes, too long for a link (at most %d KiB); share the recipe file instead (Export recipe.yaml)", len(recipe), MaxLinkRecipe>>10)
	}
	out := url.URL{Scheme: u.Scheme, User: u.User, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	if u.Opaque != "" {
		out.Opaque = u.Opaque
	}
	if lab != "" {
		out.RawQuery = url.Values{"lab": {lab}}.Encode()
	}
	s := out.String()
	if recipe != "" {
		s += "#recipe=" + base64.RawURLEncoding.EncodeToString([]byte(recipe))
	}
	return s, nil
}

// Share is the share button's state: the link it last made and what became of it.
type Share struct {
	URL string
	// Copied: the link is on the clipboard. Err: why it could not be made or copied
	// (the link, when there is one, is shown for copying by hand).
	Copied bool
	Err    string
}

// ShareLink is the link to the page's current lab and recipe, as ShareURL makes it.
func (a *App) ShareLink(pageURL string) (string, error) {
	return ShareURL(pageURL, a.Labs.Open, a.RecipeText)
}

// SetShared records the link made by the share button and whether it was copied
// (err: why not).
func (a *App) SetShared(link string, err error) {
	a.Share = Share{URL: link, Copied: err == nil && link != ""}
	if err != nil {
		a.Share.Err = err.Error()
	}
}

// OpenLink applies a workshop link when the page starts (or its fragment changes): a
// recipe alone goes into the editor now; with a lab, the lab is opened once the labs
// index is read (PendingLab) and the recipe replaces the lab's first one once the lab
// is loaded. err is ParseLink's, shown as a notice.
func (a *App) OpenLink(l Link, err error) {
	if err != nil {
		a.Notice = "This page's link is damaged: " + err.Error() + "."
	}
	if l.Lab == "" {
		if l.Recipe != "" {
			a.SetRecipeText(l.Recipe)
		}
		return
	}
	a.link = &l
}

// PendingLab is the lab a link asks for that the page has not opened yet; "" when
// there is none or the labs index is not read yet. When the index lacks the lab, the
// link's recipe is loaded anyway and the notice names the labs there are.
func (a *App) PendingLab() string {
	if a.link == nil || !a.Labs.Loaded {
		return ""
	}
	for _, l := range a.Labs.List {
		if l.Name == a.link.Lab {
			return l.Name
		}
	}
	var names []string
	for _, l := range a.Labs.List {
		names = append(names, l.Name)
	}
	msg := fmt.Sprintf("The link asks for the lab %q, which this page does not bundle", a.link.Lab)
	if len(names) > 0 {
		msg += " (it has " + strings.Join(names, ", ") + ")"
	}
	a.Notice = strings.TrimSpace(a.Notice + " " + msg + ".") // after the link's own error, if any
	if a.link.Recipe != "" {
		a.SetRecipeText(a.link.Recipe)
	}
	a.link = nil
	return ""
}

// linkRecipe returns, and forgets, the recipe a link brings for the lab name.
func (a *App) linkRecipe(name string) (string, bool) {
	if a.link == nil || a.link.Lab != name {
		return "", false
	}
	r := a.link.Recipe
	a.link = nil
	return r, r != ""
}
