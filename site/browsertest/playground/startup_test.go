package playground

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// On a slow link the page shows its download as bytes of total (the .gz size), and
// its engine workers share one download of engine.wasm.
func TestStartupShowsProgressAndLoadsTheEngineOnce(t *testing.T) {
	b := openPage(t)
	gz, err := os.Stat(filepath.Join(sharedDist, "app.wasm.gz"))
	if err != nil {
		t.Skip("the dist has no app.wasm.gz: nothing to show progress against")
	}
	rec, err := chromedp.Call(b.Ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `window.ladleBoot = [];
		new MutationObserver(() => { const e = document.getElementById('ladle-boot'); if (e) window.ladleBoot.push(e.textContent); })
			.observe(document, {childList: true, subtree: true, characterData: true});`})
	if err != nil {
		t.Fatal(err)
	}
	defer chromedp.Call(b.Ctx, page.RemoveScriptToEvaluateOnNewDocument, page.RemoveScriptToEvaluateOnNewDocumentParams{Identifier: rec.Identifier})
	slow := func(bytesPerSec float64) {
		cond := &network.Conditions{DownloadThroughput: bytesPerSec, UploadThroughput: -1}
		if _, err := chromedp.Call(b.Ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: []*network.Conditions{cond}}); err != nil {
			t.Fatal(err)
		}
	}
	chromedp.Call(b.Ctx, network.Enable, network.EnableParams{})
	chromedp.Call(b.Ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
	slow(4e6) // 32 Mbit/s: a second or so for the page program
	defer func() {
		slow(-1)
		chromedp.Call(b.Ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: false})
	}()
	before := len(sharedSrv.Requests())
	if err := b.Navigate(sharedSrv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, `document.querySelector('[data-testid=run]') !== null`, 60*time.Second)
	texts := eval[[]string](t, b, `window.ladleBoot`)
	total := fmt.Sprintf("of %.1f MB", float64(gz.Size())/1e6)
	shown := regexp.MustCompile(`^Loading the playground: [0-9]+\.[0-9] of [0-9]+\.[0-9] MB`)
	progress := 0
	for _, s := range texts {
		if shown.MatchString(s) && strings.Contains(s, total) {
			progress++
		}
	}
	if progress < 2 {
		t.Errorf("the boot text never counted the download in bytes %s (want at least two steps): %q", total, texts)
	}
	// every engine worker becomes ready, from one download of engine.wasm
	waitFor(t, b, `window.ladleWorkers && window.ladleEnginesReady === window.ladleWorkers.length`, 60*time.Second)
	engines := 0
	for _, r := range sharedSrv.Requests()[before:] {
		if strings.Contains(r.Path, "engine.wasm") {
			engines++
		}
	}
	if n := eval[int](t, b, `window.ladleWorkers.length`); engines != 1 {
		t.Errorf("%d engine workers made %d requests for engine.wasm, want one shared download", n, engines)
	}
}
