package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rawRequest sends raw bytes to the server at url and returns everything it answers
// until it closes the connection or wait passes.
func rawRequest(t *testing.T, url, req string, wait time.Duration) string {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go c.Write([]byte(req)) // a large request may still be sending when the server answers
	c.SetReadDeadline(time.Now().Add(wait))
	b, _ := io.ReadAll(c)
	return string(b)
}

// hostOf is url's host:port.
func hostOf(url string) string { return strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/") }

// The security headers go on every response, also those net/http writes by itself
// before any handler runs: 400 for a malformed request, 431 for oversized headers.
func TestServeOwnErrorsCarrySecurityHeaders(t *testing.T) {
	url, stop := serveInProcess(t, "--addr", "127.0.0.1:0", "--dist", fakeDist(t))
	defer stop()
	huge := "GET / HTTP/1.1\r\nHost: " + hostOf(url) + "\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n"
	for _, c := range []struct{ name, req, status string }{
		{"malformed", "NOT HTTP AT ALL\r\n\r\n", "400"},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", "400"},
		{"headers too large", huge, "431"},
	} {
		resp := rawRequest(t, url, c.req, 10*time.Second)
		head, body, _ := strings.Cut(resp, "\r\n\r\n")
		if !strings.HasPrefix(head, "HTTP/1.1 "+c.status) {
			t.Errorf("%s: got %q", c.name, resp)
			continue
		}
		for _, h := range []string{"Content-Security-Policy: default-src 'self'", "X-Content-Type-Options: nosniff",
			"Cross-Origin-Opener-Policy: same-origin", "Referrer-Policy: no-referrer"} {
			if !strings.Contains(head, h) {
				t.Errorf("%s: the %s answer lacks %q:\n%s", c.name, c.status, h, head)
			}
		}
		if !strings.HasPrefix(body, c.status) {
			t.Errorf("%s: body %q", c.name, body)
		}
	}
	// A page that happens to hold net/http's error text is served byte for byte.
	dist := fakeDist(t)
	page := "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"
	os.WriteFile(filepath.Join(dist, "tricky.txt"), []byte(page), 0o644)
	url2, stop2 := serveInProcess(t, "--addr", "127.0.0.1:0", "--dist", dist)
	defer stop2()
	if _, body := httpGet(t, url2+"tricky.txt"); body != page {
		t.Errorf("a body that looks like an error answer was changed: %q", body)
	}
}

// An idle keep-alive connection is closed after the idle timeout, and a client that
// sends its headers too slowly is cut off.
func TestServeClosesIdleConnections(t *testing.T) {
	old := serveTimeouts
	serveTimeouts.idle, serveTimeouts.readHeader = 300*time.Millisecond, 300*time.Millisecond
	defer func() { serveTimeouts = old }()
	url, stop := serveInProcess(t, "--addr", "127.0.0.1:0", "--dist", fakeDist(t))
	defer stop()
	c, err := net.Dial("tcp", hostOf(url))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET / HTTP/1.1\r\nHost: " + hostOf(url) + "\r\n\r\n"))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("the idle connection was not closed by the server: %v after %v", err, time.Since(start))
	}
	// Half a request, then silence: the server hangs up.
	c2, err := net.Dial("tcp", hostOf(url))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.Write([]byte("GET / HTTP/1.1\r\nHost: "))
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c2); err != nil {
		t.Fatalf("a slow client was not cut off: %v", err)
	}
}

// DNS rebinding: a page at http://evil.example:PORT/ whose name resolves to
// 127.0.0.1 reaches the server with Host: evil.example:PORT. Only the names the
// server is bound to and loopback addresses are answered.
func TestServeChecksHost(t *testing.T) {
	url, stop := serveInProcess(t, "--addr", "127.0.0.1:0", "--dist", fakeDist(t))
	defer stop()
	_, port, _ := net.SplitHostPort(hostOf(url))
	for _, c := range []struct {
		host string
		ok   bool
	}{
		{hostOf(url), true},
		{"localhost:" + port, true},
		{"LOCALHOST:" + port, true},
		{"app.localhost:" + port, true},
		{"127.0.0.2:" + port, true},
		{"[::1]:" + port, true},
		{"localhost", true},
		{"evil.example:" + port, false},
		{"evil.example", false},
		{"localhost.evil.example:" + port, false},
		{"127.0.0.1.nip.io:" + port, false},
		{"192.168.1.10:" + port, false},
	} {
		resp := rawRequest(t, url, "GET / HTTP/1.1\r\nHost: "+c.host+"\r\nConnection: close\r\n\r\n", 10*time.Second)
		head, body, _ := strings.Cut(resp, "\r\n\r\n")
		switch {
		case c.ok && !strings.HasPrefix(head, "HTTP/1.1 200"):
			t.Errorf("Host %s: refused: %q", c.host, resp)
		case !c.ok && !strings.HasPrefix(head, "HTTP/1.1 421"):
			t.Errorf("Host %s: got %q, want 421", c.host, head)
		case !c.ok && (!strings.Contains(body, "DNS rebinding") || !strings.Contains(head, "Content-Security-Policy")):
			t.Errorf("Host %s: the refusal does not explain itself or lacks headers: %q", c.host, resp)
		}
	}
}

// --allow-host adds a name, for a reverse proxy or a name in /etc/hosts.
func TestServeAllowHost(t *testing.T) {
	url, stop := serveInProcess(t, "--addr", "127.0.0.1:0", "--dist", fakeDist(t), "--allow-host", "ladle.test,other.test")
	defer stop()
	for _, h := range []string{"ladle.test", "other.test:80"} {
		resp := rawRequest(t, url, "GET / HTTP/1.1\r\nHost: "+h+"\r\nConnection: close\r\n\r\n", 10*time.Second)
		if !strings.HasPrefix(resp, "HTTP/1.1 200") {
			t.Errorf("Host %s: %q", h, resp)
		}
	}
}

// A symbolic link inside --dist that leads out of it is not followed.
func TestServeRefusesSymlinksOutOfDist(t *testing.T) {
	dist := fakeDist(t)
	secret := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(secret, []byte("TOP SECRET"), 0o644)
	if err := os.Symlink(secret, filepath.Join(dist, "leak.txt")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	os.Symlink(filepath.Dir(secret), filepath.Join(dist, "outside"))
	os.Symlink("index.html", filepath.Join(dist, "inside.html")) // stays inside: fine
	url, stop := serveInProcess(t, "--addr", "127.0.0.1:0", "--dist", dist)
	defer stop()
	for _, p := range []string{"leak.txt", "outside/secret.txt"} {
		resp, body := httpGet(t, url+p)
		if resp.StatusCode == 200 || strings.Contains(body, "TOP SECRET") {
			t.Errorf("%s: %d %q: a link out of --dist was followed", p, resp.StatusCode, body)
		}
	}
	if resp, body := httpGet(t, url+"inside.html"); resp.StatusCode != 200 || !strings.Contains(body, "<title>Ladle") {
		t.Errorf("inside.html: %d %q", resp.StatusCode, body)
	}
}

// Listening on every interface prints a warning and a URL a browser can open.
func TestServeAllInterfacesBanner(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0"} {
		url, stop := serveInProcess(t, "--addr", addr, "--dist", fakeDist(t))
		if !strings.HasPrefix(url, "http://127.0.0.1:") || strings.HasSuffix(url, ":0/") {
			t.Errorf("%s: banner URL %q is not one a browser can open", addr, url)
		}
		if resp, _ := httpGet(t, url); resp.StatusCode != 200 {
			t.Errorf("%s: GET %s: %d", addr, url, resp.StatusCode)
		}
		code, stdout, stderr := stop()
		if code != 0 || !strings.Contains(stdout, "Ladle playground: "+url) || !strings.Contains(stderr, "warning") ||
			!strings.Contains(stderr, "every network interface") {
			t.Errorf("%s: exit %d\nstdout %q\nstderr %q", addr, code, stdout, stderr)
		}
	}
}
