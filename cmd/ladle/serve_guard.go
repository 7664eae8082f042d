package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"ladle/site"
)

// The local server's protections against what a browser on this machine, or anyone
// on the network when it listens there, might send it. They belong to `ladle serve`
// and not to site.Handler, which an edge worker shares and whose host does these
// things its own way.

// serveTimeouts bound how long a connection may take (tests shorten them). A slow
// or idle client would otherwise hold a connection, and a goroutine, forever.
var serveTimeouts = struct {
	readHeader, read, write, idle time.Duration
}{
	readHeader: 10 * time.Second,
	read:       30 * time.Second,
	write:      5 * time.Minute, // the labs' checkpoints over a slow link
	idle:       60 * time.Second,
}

// serveMaxHeaderBytes: a browser sends a few kilobytes of headers; net/http's
// default lets a request hold a megabyte of them.
const serveMaxHeaderBytes = 64 << 10

// newServer is the http.Server of `ladle serve`, with its timeouts.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: serveTimeouts.readHeader,
		ReadTimeout:       serveTimeouts.read,
		WriteTimeout:      serveTimeouts.write,
		IdleTimeout:       serveTimeouts.idle,
		MaxHeaderBytes:    serveMaxHeaderBytes,
	}
}

// hostGuard answers only requests whose Host names this server: a loopback address,
// localhost (or a name under .localhost, which browsers resolve to loopback
// themselves), the address it is bound to, this machine's addresses and host name
// when it listens on every interface, and names given with --allow-host. A page on
// another site whose DNS name is re-pointed at 127.0.0.1 (DNS rebinding) sends its
// own name, and is refused, so it cannot read the playground or its labs.
type hostGuard struct {
	next    http.Handler
	allowed map[string]bool // lower-case host names and canonical IP addresses
}

// newHostGuard allows the hosts of a server listening at bound (a host:port the
// listener reports) plus extra names.
func newHostGuard(next http.Handler, bound string, extra []string) *hostGuard {
	g := &hostGuard{next: next, allowed: map[string]bool{}}
	host, _, err := net.SplitHostPort(bound)
	if err != nil {
		host = bound
	}
	g.allow(host)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok {
					g.allow(n.IP.String())
				}
			}
		}
		if name, err := os.Hostname(); err == nil {
			g.allow(name)
			g.allow(name + ".local") // mDNS, as macOS and Avahi answer it
		}
	}
	for _, h := range extra {
		g.allow(h)
	}
	return g
}

func (g *hostGuard) allow(host string) {
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if ip := net.ParseIP(host); ip != nil {
		host = ip.String()
	}
	if host != "" {
		g.allowed[host] = true
	}
}

// allows reports whether a request's Host header names this server.
func (g *hostGuard) allows(hostport string) bool {
	if hostport == "" {
		return true // HTTP/1.0 without Host: not a browser, so not a rebinding page
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback() || g.allowed[ip.String()]
	}
	return host == "localhost" || strings.HasSuffix(host, ".localhost") || g.allowed[host]
}

func (g *hostGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.allows(r.Host) {
		g.next.ServeHTTP(w, r)
		return
	}
	site.SecurityHeaders(w.Header(), "")
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, fmt.Sprintf("421 Misdirected Request: this Ladle server answers to localhost and its own addresses, not to %q. "+
		"Refusing other names keeps pages on other sites from reaching it through DNS rebinding. "+
		"To use this name, start it with `ladle serve --allow-host %s`.", r.Host, hostOnly(r.Host)), http.StatusMisdirectedRequest)
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return strings.Trim(h, "[]")
	}
	return hostport
}

// Answers that net/http writes to the connection itself, before any handler runs
// (a malformed request, headers over MaxHeaderBytes), bypass the handler and so
// would lack the security headers. They have one fixed shape, written in one Write:
// the status line, these two headers, and the status again as the body.
var ownErrorAnswer = regexp.MustCompile(`\AHTTP/1\.1 ([1-5][0-9][0-9]) ([^\r\n]*)\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n([^\r\n]*)\z`)

// headerListener hands out connections that add the security headers to those
// answers.
type headerListener struct{ net.Listener }

func (l headerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &headerConn{Conn: c}, nil
}

// headerConn rewrites net/http's own error answers. Only a Write that is exactly
// such an answer is touched: a handler's response never is one, because its header
// block always carries the security headers and is written together with the start
// of its body, and the rest of a file goes through ReadFrom (sendfile).
type headerConn struct{ net.Conn }

func (c *headerConn) Write(p []byte) (int, error) {
	if len(p) < 1024 && bytes.HasPrefix(p, []byte("HTTP/1.1 ")) {
		return c.writeAnswer(p)
	}
	return c.Conn.Write(p)
}

func (c *headerConn) writeAnswer(p []byte) (int, error) {
	if m := ownErrorAnswer.FindSubmatch(p); m != nil && string(m[3]) == string(m[1])+" "+string(m[2]) {
		if _, err := c.Conn.Write(withSecurityHeaders(p)); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// ReadFrom keeps net/http's sendfile path for file bodies.
func (c *headerConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c}, r)
}

// CloseWrite lets net/http half-close after an error answer, so that the client
// reads the answer before the connection goes.
func (c *headerConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// withSecurityHeaders inserts the security headers after an answer's status line.
func withSecurityHeaders(p []byte) []byte {
	h := http.Header{}
	site.SecurityHeaders(h, "")
	h.Set("Cache-Control", "no-store")
	var b bytes.Buffer
	line, rest, _ := bytes.Cut(p, []byte("\r\n"))
	b.Write(line)
	b.WriteString("\r\n")
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\r\n", k, h.Get(k))
	}
	b.Write(rest)
	return b.Bytes()
}

// bannerURLs gives the URL to print for a listener at addr, and, when it listens on
// every interface, a warning and this machine's other URLs: http://0.0.0.0:8080/ is
// not an address browsers open (Chrome blocks it).
func bannerURLs(addr net.Addr) (url string, warning string, others []string) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return "http://" + addr.String() + "/", "", nil
	}
	port := tcp.Port
	url = fmt.Sprintf("http://127.0.0.1:%d/", port)
	warning = fmt.Sprintf("warning: listening on every network interface: anyone who can reach this machine on port %d can load the playground. "+
		"Merges still run in their own browsers and nothing is uploaded, but to keep it to this machine use --addr 127.0.0.1:%d.", port, port)
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok || n.IP.IsLoopback() || n.IP.IsLinkLocalUnicast() || (n.IP.To4() == nil && tcp.IP.To4() != nil) {
				continue
			}
			others = append(others, "http://"+net.JoinHostPort(n.IP.String(), fmt.Sprint(port))+"/")
		}
	}
	return url, warning, others
}
