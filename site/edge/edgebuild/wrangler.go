package edgebuild

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"ladle/site/bundle"
)

// WranglerVersion is the wrangler (npm) the Worker is run and deployed with: the last
// one that runs on Node 20.
const WranglerVersion = "4.86.0"

// WranglerDir is the folder npm installs wrangler into: the user's cache folder
// (ladle/wrangler-VERSION), never the source tree.
func WranglerDir() (string, error) {
	cache, err := bundle.DefaultCacheDir() // .../ladle/dist
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(cache), "wrangler-"+WranglerVersion), nil
}

// ErrNoWrangler says that wrangler is not installed, and how to install it.
var ErrNoWrangler = errors.New("wrangler " + WranglerVersion + " is not installed: run `go run ./build worker --install-wrangler` " +
	"(npm install of wrangler@" + WranglerVersion + " into the cache folder; needs Node 20 and npm), or set LADLE_WRANGLER to a wrangler binary")

// FindWrangler returns the wrangler binary: $LADLE_WRANGLER, else the one
// InstallWrangler put in WranglerDir. It never downloads anything.
func FindWrangler() (string, error) {
	if p := os.Getenv("LADLE_WRANGLER"); p != "" {
		if found, err := exec.LookPath(p); err == nil {
			return found, nil
		}
		return "", fmt.Errorf("LADLE_WRANGLER=%s is not an executable", p)
	}
	dir, err := WranglerDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "node_modules", ".bin", "wrangler")
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
		if err := checkNode(); err != nil {
			return "", fmt.Errorf("wrangler is installed in %s but %v", dir, err)
		}
		return p, nil
	}
	return "", ErrNoWrangler
}

// checkNode makes sure node is on the PATH and at least Node 20, which wrangler
// WranglerVersion needs.
func checkNode() error {
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return errors.New("node does not run (install Node 20 or later)")
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, _, _ := strings.Cut(v, ".")
	if n, err := strconv.Atoi(major); err != nil || n < 20 {
		return fmt.Errorf("node is %s, and wrangler %s needs Node 20 or later", strings.TrimSpace(string(out)), WranglerVersion)
	}
	return nil
}

// InstallWrangler installs wrangler@WranglerVersion into WranglerDir with npm (a
// network download, so only on request: `go run ./build worker --install-wrangler`
// and CI).
func InstallWrangler(ctx context.Context, log io.Writer) (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", errors.New("npm is not installed (install Node 20 and npm, e.g. apt-get install -y nodejs npm)")
	}
	dir, err := WranglerDir()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "package.json")); os.IsNotExist(err) {
		if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"private": true, "description": "wrangler for Ladle's edge host (go run ./build worker)"}`+"\n"), 0o644); err != nil {
			return "", err
		}
	}
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--save-exact", "wrangler@"+WranglerVersion)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm install wrangler@%s in %s: %v", WranglerVersion, dir, err)
	}
	return FindWrangler()
}

// wranglerEnv keeps wrangler quiet and local: no metrics, no update checks, its logs
// and state inside the output folder.
func wranglerEnv(out string) []string {
	return append(os.Environ(),
		"WRANGLER_SEND_METRICS=false",
		"WRANGLER_LOG_PATH="+filepath.Join(out, ".wrangler", "logs"),
		"NO_UPDATE_NOTIFIER=1",
		"FORCE_COLOR=0",
	)
}

// DevServer is the Worker running in workerd through `wrangler dev`.
type DevServer struct {
	URL string
	// Ready is how long wrangler took from its start to the first answer at the
	// ready path; FirstByte is that answer's time to first byte.
	Ready, FirstByte time.Duration

	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	log  strings.Builder
}

// DevOptions say how to run `wrangler dev`.
type DevOptions struct {
	// Out is a folder Build wrote.
	Out string
	// Addr is host:port to listen on; port 0 picks a free one.
	Addr string
	// Timeout bounds the wait for the first answer (2 minutes when 0).
	Timeout time.Duration
	// ReadyPath is the path polled until it answers 200 ("/" when empty: the page,
	// which starts the Worker; a static asset's path answers without starting it).
	ReadyPath string
	// Log receives wrangler's output (nil: it is kept for errors only).
	Log io.Writer
}

// Dev starts `wrangler dev` on a built output folder and waits until it answers
// GET ReadyPath with 200. Stop ends it.
func Dev(ctx context.Context, opts DevOptions) (*DevServer, error) {
	wrangler, err := FindWrangler()
	if err != nil {
		return nil, err
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.ReadyPath == "" {
		opts.ReadyPath = "/"
	}
	out, log, timeout := opts.Out, opts.Log, opts.Timeout
	host, port, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %v (want host:port, e.g. 127.0.0.1:8787)", opts.Addr, err)
	}
	if port == "0" {
		if port, err = freePort(host); err != nil {
			return nil, err
		}
	}
	inspector, err := freePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	d := &DevServer{URL: "http://" + net.JoinHostPort(host, port), done: make(chan struct{})}
	cmd := exec.Command(wrangler, "dev", "--config", filepath.Join(out, "wrangler.jsonc"),
		"--ip", host, "--port", port, "--inspector-port", inspector, "--show-interactive-dev-session=false", "--log-level", "info")
	cmd.Dir = out
	cmd.Env = wranglerEnv(out)
	newProcessGroup(cmd) // wrangler starts workerd: stop them together
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %v", wrangler, err)
	}
	d.cmd = cmd
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			d.mu.Lock()
			d.log.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
			if log != nil {
				fmt.Fprintln(log, sc.Text())
			}
		}
	}()
	go func() {
		cmd.Wait()
		pw.Close()
		close(d.done)
	}()
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		select {
		case <-d.done:
			return nil, fmt.Errorf("wrangler dev ended before the Worker answered:\n%s", d.Output())
		case <-ctx.Done():
			d.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		t := time.Now()
		resp, err := client.Get(d.URL + opts.ReadyPath)
		if err == nil {
			d.FirstByte = time.Since(t)
			d.Ready = time.Since(start)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, nil
			}
			d.Stop()
			return nil, fmt.Errorf("wrangler dev answered GET %s with %s:\n%s", opts.ReadyPath, resp.Status, d.Output())
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, fmt.Errorf("the Worker did not answer at %s within %v:\n%s", d.URL, timeout, d.Output())
		}
	}
}

// Output is what wrangler printed so far.
func (d *DevServer) Output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// Stop ends wrangler and workerd (their process group) and waits for them.
func (d *DevServer) Stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	stopGroup(d.cmd, false)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		stopGroup(d.cmd, true)
		<-d.done
	}
}

// Wait waits until wrangler ends (Ctrl-C in a terminal).
func (d *DevServer) Wait() { <-d.done }

// Deploy runs `wrangler deploy` on a built output folder: it needs a Cloudflare
// account (wrangler login, or CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID).
func Deploy(ctx context.Context, out string, stdout, stderr io.Writer) error {
	wrangler, err := FindWrangler()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, wrangler, "deploy", "--config", filepath.Join(out, "wrangler.jsonc"))
	cmd.Dir = out
	cmd.Env = wranglerEnv(out)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("wrangler deploy: %v (it needs a Cloudflare account: run `%s login`, or set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID)", err, wrangler)
	}
	return nil
}

func freePort(host string) (string, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port, nil
}
