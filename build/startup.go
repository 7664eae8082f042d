package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"ladle/site"
	"ladle/site/browsertest"
	"ladle/site/bundle"
)

// startupProbe records, in the page, when the boot progress first shows a byte count,
// when the UI is mounted (the first useful paint: files can be chosen), and when every
// engine worker is ready.
const startupProbe = `(() => {
  window.ladleT = {};
  const seen = () => {
    const t = window.ladleT, now = performance.now();
    const boot = document.getElementById('ladle-boot');
    if (!t.progress && boot && / of [0-9.]+ MB/.test(boot.textContent)) t.progress = now;
    if (!t.ui && document.querySelector('[data-testid=file-input]')) t.ui = now;
  };
  new MutationObserver(seen).observe(document, {childList: true, subtree: true, characterData: true});
  // every engine worker counts when it says ready, whoever starts it
  const W = window.Worker;
  let made = 0, ready = 0;
  window.Worker = function (...args) {
    const w = new W(...args);
    made++;
    w.addEventListener('message', (e) => {
      if (e.data && e.data.type === 'ready' && ++ready === made) window.ladleT.engines = performance.now();
    });
    return w;
  };
  window.Worker.prototype = W.prototype;
})();`

// link is one emulated network.
type link struct {
	name    string
	mbit    float64
	latency float64 // ms
}

// startup measures the playground's start on emulated slow links: the server shares
// one link of the given throughput among all responses (the page's and its workers';
// Chromium's DevTools emulation does not reach worker requests), each answered after
// the link's latency, with the browser's cache cleared before each load (a first visit). It reports the sizes of what it downloads, when the download's
// progress first shows, the first useful paint (the UI mounted) and when the engine
// workers are ready.
func startup(ctx context.Context, root string, args []string) error {
	fs := flag.NewFlagSet("startup", flag.ExitOnError)
	distDir := fs.String("dist", "", "measure this dist folder (default: build the tree's, cached by source hash)")
	runs := fs.Int("runs", 2, "loads per link; their mean is reported")
	fs.Parse(args)
	log := func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }
	dist := *distDir
	if dist == "" {
		cache, err := bundle.DefaultCacheDir()
		if err != nil {
			return err
		}
		log("building the playground (cached by source hash)...")
		if dist, err = bundle.Cached(ctx, bundle.Options{Root: root, Log: os.Stderr}, cache); err != nil {
			return err
		}
	}
	fmt.Printf("Start-up of the playground (%s)\n", dist)
	for _, f := range []string{"app.wasm", "engine.wasm"} {
		plain, _ := os.Stat(filepath.Join(dist, f))
		gz, _ := os.Stat(filepath.Join(dist, f+".gz"))
		if plain != nil && gz != nil {
			fmt.Printf("  %-12s %s, gzip %s\n", f, human(plain.Size()), human(gz.Size()))
		}
	}
	lim := &linkLimiter{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: lim.wrap(site.Handler(os.DirFS(dist), site.Options{}))}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/"
	b, err := browsertest.Start(ctx, browsertest.Options{})
	if err != nil {
		return err
	}
	defer b.Close()
	if _, err := chromedp.Call(b.Ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: startupProbe}); err != nil {
		return err
	}
	fmt.Printf("  %-12s %10s %12s %14s %14s\n", "link", "latency", "progress", "first paint", "engine ready")
	for _, l := range []link{{"1.6 Mbit/s", 1.6, 150}, {"10 Mbit/s", 10, 40}} {
		lim.set(l.mbit*1e6/8, time.Duration(l.latency*float64(time.Millisecond)))
		var sum [3]float64
		for range *runs {
			t, err := loadOnce(b, url)
			if err != nil {
				return fmt.Errorf("%s: %w", l.name, err)
			}
			for i := range sum {
				sum[i] += t[i]
			}
		}
		n := float64(*runs)
		fmt.Printf("  %-12s %8.0f ms %10.2f s %12.2f s %12.2f s\n", l.name, l.latency, sum[0]/n/1000, sum[1]/n/1000, sum[2]/n/1000)
	}
	return nil
}

// loadOnce loads the page and returns the milliseconds from navigation to the first
// progress text, the mounted UI and the ready engines.
func loadOnce(b *browsertest.Browser, url string) ([3]float64, error) {
	var t [3]float64
	if err := b.Navigate("about:blank"); err != nil {
		return t, err
	}
	if _, err := chromedp.Call(b.Ctx, network.ClearBrowserCache, cdp.Empty{}); err != nil { // a first visit
		return t, err
	}
	if err := b.Navigate(url); err != nil {
		return t, err
	}
	ctx, cancel := context.WithTimeout(b.Ctx, 3*time.Minute)
	defer cancel()
	type times struct{ Progress, UI, Engines float64 }
	for {
		v, err := browsertest.EvalCtx[times](ctx, b, `({Progress: window.ladleT.progress || 0, UI: window.ladleT.ui || 0, Engines: window.ladleT.engines || 0})`)
		if err != nil {
			return t, err
		}
		if v.UI > 0 && v.Engines > 0 {
			return [3]float64{v.Progress, v.UI, v.Engines}, nil
		}
		select {
		case <-ctx.Done():
			return t, fmt.Errorf("the page did not start within 3 minutes (%+v)", v)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// linkLimiter emulates one network link: every response waits for the latency, then
// its bytes go out in 16 kB slices that take turns on the link at its throughput.
type linkLimiter struct {
	mu      sync.Mutex
	rate    float64 // bytes per second; 0: unlimited
	latency time.Duration
	next    time.Time // when the link is free again
}

func (l *linkLimiter) set(rate float64, latency time.Duration) {
	l.mu.Lock()
	l.rate, l.latency, l.next = rate, latency, time.Time{}
	l.mu.Unlock()
}

// reserve returns when n bytes may have crossed the link.
func (l *linkLimiter) reserve(n int) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate <= 0 {
		return time.Now()
	}
	start := time.Now()
	if l.next.After(start) {
		start = l.next
	}
	l.next = start.Add(time.Duration(float64(n) / l.rate * float64(time.Second)))
	return l.next
}

func (l *linkLimiter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		lat := l.latency
		l.mu.Unlock()
		time.Sleep(lat)
		h.ServeHTTP(&slowWriter{ResponseWriter: w, l: l}, r)
	})
}

// slowWriter paces a response through the link.
type slowWriter struct {
	http.ResponseWriter
	l *linkLimiter
}

func (s *slowWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), 16<<10)
		time.Sleep(time.Until(s.l.reserve(n)))
		m, err := s.ResponseWriter.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		if f, ok := s.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		p = p[n:]
	}
	return written, nil
}
