// Package browsertest drives the real playground in headless Chromium for tests and
// benchmarks: it builds (and caches) the dist folder, serves it with site.Handler while
// logging every request, starts Chromium with a fresh profile and no background
// networking, and offers the few page actions the tests need: set files on an
// <input type=file> (DOM.setFileInputFiles), evaluate JavaScript and await its Promise,
// and record the network requests of the page and of its workers from DevTools events.
//
// Tests skip, with a message that says what to install, when no Chromium binary is
// found (a plain clone without it); CI installs Debian's chromium, so they run there.
// LADLE_CHROMIUM names a binary explicitly.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"ladle/site"
	"ladle/site/bundle"
)

// FindChromium returns the path of a Chromium or Chrome binary, or "" when there is none.
func FindChromium() string {
	if p := os.Getenv("LADLE_CHROMIUM"); p != "" {
		if found, err := exec.LookPath(p); err == nil {
			return found
		}
		return ""
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless_shell",
		"/Applications/Chromium.app/Contents/MacOS/Chromium", "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// NeedChromium skips the test when no Chromium is installed.
func NeedChromium(tb testing.TB) string {
	tb.Helper()
	p := FindChromium()
	if p == "" {
		tb.Skip("browser test skipped: no Chromium found (install it, e.g. `apt-get install -y chromium`, or set LADLE_CHROMIUM to a Chrome binary); CI installs it")
	}
	return p
}

var (
	distOnce sync.Once
	distDir  string
	distErr  error
)

// BuildDist builds the playground's dist folder from the source tree that holds the
// working directory, into the user's cache keyed by a hash of the sources, and returns
// it. Builds are shared by every caller of the process (and reused across runs).
func BuildDist(ctx context.Context, log io.Writer) (string, error) {
	distOnce.Do(func() {
		root, ok := bundle.FindRoot(".")
		if !ok {
			distErr = errors.New("not inside the Ladle source tree")
			return
		}
		cache, err := bundle.DefaultCacheDir()
		if err != nil {
			distErr = err
			return
		}
		distDir, distErr = bundle.Cached(ctx, bundle.Options{Root: root, Log: log}, cache)
	})
	return distDir, distErr
}

// Dist is BuildDist for tests: it fails the test when the build fails.
func Dist(tb testing.TB) string {
	tb.Helper()
	dir, err := BuildDist(context.Background(), nil)
	if err != nil {
		tb.Fatalf("building the playground: %v", err)
	}
	return dir
}

// Overlay serves the files of the first layer that has them: a test page over a dist.
func Overlay(layers ...fs.FS) fs.FS { return overlay(layers) }

type overlay []fs.FS

func (o overlay) Open(name string) (fs.File, error) {
	var first error
	for _, l := range o {
		f, err := l.Open(name)
		if err == nil {
			return f, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// Request is one request the server received.
type Request struct {
	Method string
	Path   string
	Time   time.Time
}

// Server serves a dist folder with site.Handler and logs the requests it gets.
type Server struct {
	URL string
	srv *http.Server
	ln  net.Listener
	mu  sync.Mutex
	log []Request
}

// Serve starts a server for fsys on 127.0.0.1 (a free port).
func Serve(fsys fs.FS) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + ln.Addr().String(), ln: ln}
	h := site.Handler(fsys, site.Options{})
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.log = append(s.log, Request{Method: r.Method, Path: r.URL.Path, Time: time.Now()})
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	})}
	go s.srv.Serve(ln)
	return s, nil
}

// NewServer is Serve for tests; the server stops when the test ends.
func NewServer(tb testing.TB, fsys fs.FS) *Server {
	tb.Helper()
	s, err := Serve(fsys)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Browser is a headless Chromium with one tab.
type Browser struct {
	// Ctx is the tab's chromedp context (chromedp.Run(b.Ctx, ...)).
	Ctx     context.Context
	cancels []context.CancelFunc
	dataDir string
	cmd     *exec.Cmd
}

// Options of Start.
type Options struct {
	// Exec is the Chromium binary (FindChromium when empty).
	Exec string
	// Log receives Chromium's own output (nil: dropped).
	Log io.Writer
	// WebGPU starts Chromium with --enable-unsafe-webgpu: headless, without a GPU,
	// navigator.gpu then offers SwiftShader's fallback adapter (a CPU emulation).
	WebGPU bool
}

// Start launches Chromium headless with a fresh profile. The flags keep it off the
// network (no background networking, component updates, sync or first-run pages) and
// make it run where there is no GPU and no sandbox (containers).
func Start(ctx context.Context, opts Options) (*Browser, error) {
	if opts.Exec == "" {
		opts.Exec = FindChromium()
	}
	if opts.Exec == "" {
		return nil, errors.New("no Chromium found (install it, e.g. apt-get install -y chromium, or set LADLE_CHROMIUM)")
	}
	dataDir, err := os.MkdirTemp("", "ladle-chromium-")
	if err != nil {
		return nil, err
	}
	b := &Browser{dataDir: dataDir}
	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(opts.Exec),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(dataDir),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication"),
		chromedp.WindowSize(1200, 900),
	)
	if opts.WebGPU {
		// SwiftShader's WebGPU adapter: the only flag needed headless (measured).
		allocOpts = append(allocOpts, chromedp.Flag("enable-unsafe-webgpu", true))
	}
	if opts.Log != nil {
		allocOpts = append(allocOpts, chromedp.CombinedOutput(opts.Log))
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, allocOpts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	b.Ctx = tabCtx
	b.cancels = []context.CancelFunc{cancelTab, cancelAlloc}
	if err := chromedp.Do(tabCtx); err != nil { // starts the browser and the tab
		b.Close()
		return nil, fmt.Errorf("starting %s: %w", opts.Exec, err)
	}
	return b, nil
}

// New starts a browser for a test (skipping when there is no Chromium) and closes it
// when the test ends.
func New(tb testing.TB) *Browser {
	tb.Helper()
	exe := NeedChromium(tb)
	b, err := Start(context.Background(), Options{Exec: exe})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(b.Close)
	return b
}

// Close stops the browser and removes its profile.
func (b *Browser) Close() {
	for _, c := range b.cancels {
		c()
	}
	b.cancels = nil
	for range 50 { // Chromium's children may still write for a moment
		if err := os.RemoveAll(b.dataDir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Navigate opens url in the tab and waits for it to load.
func (b *Browser) Navigate(url string) error {
	return chromedp.Do(b.Ctx, chromedp.Navigate(url))
}

// SetFiles sets the files of an <input type=file> (DOM.setFileInputFiles) and fires its
// change event, as choosing files in the dialog does.
func (b *Browser) SetFiles(selector string, paths []string) error {
	abs := make([]string, len(paths))
	for i, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		abs[i] = a
	}
	return chromedp.Do(b.Ctx, chromedp.SetUploadFiles(chromedp.CSS(selector), abs, chromedp.NodeReady))
}

// Eval evaluates a JavaScript expression in the page, awaits it when it is a Promise,
// and decodes the result (JSON-compatible values) into T.
func Eval[T any](b *Browser, expr string) (T, error) {
	return chromedp.Run(b.Ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// EvalCtx is Eval with a deadline or cancellation of its own.
func EvalCtx[T any](ctx context.Context, b *Browser, expr string) (T, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// NetRequest is one request DevTools saw.
type NetRequest struct {
	Target string // "page" or "worker <url>"
	URL    string
	Type   string
	Time   time.Time
}

// NetworkLog collects the Network.requestWillBeSent events of the tab and of the
// workers attached with Watch.
type NetworkLog struct {
	mu      sync.Mutex
	reqs    []NetRequest
	cancels []context.CancelFunc
	watched map[target.ID]bool
}

// RecordNetwork starts recording the tab's network requests (every request, any origin,
// including those the Content-Security-Policy blocks).
func (b *Browser) RecordNetwork() *NetworkLog {
	l := &NetworkLog{watched: map[target.ID]bool{}}
	l.listen(b.Ctx, "page")
	return l
}

func (l *NetworkLog) listen(ctx context.Context, who string) {
	ctx, cancel := context.WithCancel(ctx)
	l.mu.Lock()
	l.cancels = append(l.cancels, cancel)
	l.mu.Unlock()
	events := chromedp.Events(ctx, network.RequestWillBeSent)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			l.mu.Lock()
			l.reqs = append(l.reqs, NetRequest{Target: who, URL: ev.Request.URL, Type: string(ev.Type), Time: time.Now()})
			l.mu.Unlock()
		}
	}()
}

// WatchWorkers attaches to every worker of the browser not watched yet and records its
// requests too (a dedicated worker is a target of its own in DevTools).
func (l *NetworkLog) WatchWorkers(b *Browser) error {
	infos, err := chromedp.Targets(b.Ctx)
	if err != nil {
		return err
	}
	for _, info := range infos {
		if info.Type != "worker" || l.watched[info.TargetID] {
			continue
		}
		l.watched[info.TargetID] = true
		// detach, never close, when the recording stops: the worker is the page's
		wctx, cancel := chromedp.NewContext(b.Ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel())
		l.mu.Lock()
		l.cancels = append(l.cancels, cancel)
		l.mu.Unlock()
		if err := chromedp.Do(wctx); err != nil {
			return fmt.Errorf("attaching to worker %s: %w", info.URL, err)
		}
		l.listen(wctx, "worker "+path.Base(info.URL))
	}
	return nil
}

// Requests returns the requests seen so far.
func (l *NetworkLog) Requests() []NetRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]NetRequest(nil), l.reqs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// Since returns the requests seen at or after t.
func (l *NetworkLog) Since(t time.Time) []NetRequest {
	var out []NetRequest
	for _, r := range l.Requests() {
		if !r.Time.Before(t) {
			out = append(out, r)
		}
	}
	return out
}

// Stop ends the recording.
func (l *NetworkLog) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.cancels {
		c()
	}
	l.cancels = nil
}

// String lists requests one per line, for failure messages.
func String(reqs []NetRequest) string {
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "  %s %s %s\n", r.Target, r.Type, r.URL)
	}
	return b.String()
}

// Proc is one process of the browser.
type Proc struct {
	PID  int
	Type string // "browser", "renderer", "gpu-process", "utility", "zygote", ...
	RSS  int64  // resident memory in bytes
	// Anon is the resident private memory (RssAnon): RSS without the shared memory and
	// mapped files that several processes count.
	Anon int64
}

// Processes lists the browser's processes with their resident memory (Linux only:
// read from /proc). The tab's page and its dedicated workers live in a renderer.
func (b *Browser) Processes() ([]Proc, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("process memory needs /proc (Linux): %w", err)
	}
	type info struct {
		ppid int
		typ  string
		rss  int64
		anon int64
		ours bool
	}
	procs := map[int]info{}
	pageSize := int64(os.Getpagesize())
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		statm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "statm"))
		if err != nil {
			continue
		}
		var in info
		// stat: pid (comm) state ppid ...; comm may hold spaces, so cut at the last ')'
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 {
			var state string
			fmt.Sscanf(string(stat[i+1:]), " %s %d", &state, &in.ppid)
		}
		var size, resident int64
		fmt.Sscanf(string(statm), "%d %d", &size, &resident)
		in.rss = resident * pageSize
		if status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status")); err == nil {
			for _, line := range strings.Split(string(status), "\n") {
				if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
					var kb int64
					fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
					in.anon = kb << 10
				}
			}
		}
		// Chromium's child processes rewrite their command line as one string with
		// spaces, so split at both
		args := strings.FieldsFunc(string(cmdline), func(r rune) bool { return r == 0 || r == ' ' })
		in.typ = "browser"
		for _, a := range args {
			if t, ok := strings.CutPrefix(a, "--type="); ok {
				in.typ = t
			}
			if a == "--user-data-dir="+b.dataDir {
				in.ours = true
			}
		}
		procs[pid] = in
	}
	root := 0
	for pid, in := range procs {
		if in.ours && in.typ == "browser" {
			root = pid
		}
	}
	if root == 0 {
		return nil, errors.New("the browser process was not found in /proc")
	}
	var out []Proc
	for pid, in := range procs {
		for p, depth := pid, 0; p != 0 && depth < 10; p, depth = procs[p].ppid, depth+1 {
			if p == root {
				out = append(out, Proc{PID: pid, Type: in.typ, RSS: in.rss, Anon: in.anon})
				break
			}
			if _, ok := procs[p]; !ok {
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, nil
}
