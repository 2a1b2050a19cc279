package loadgen

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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/server"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat (100 on
// every Linux the sidecar runs on).
const clockTicks = 100

// child is one `whatsapp-sidecar run` process.
type child struct {
	cmd         *exec.Cmd
	metricsAddr string
	once        sync.Once
	logDone     chan struct{}

	mu  sync.Mutex
	rss int64 // last VmHWM read
	cpu time.Duration
}

// sockets are the child's listeners, bound once by the load tool: the emulator
// must know the webhook's address before a child starts, and each restarted
// child serves the same ones (socket activation, as under systemd).
type sockets struct {
	webhook, metrics *net.TCPListener
}

func bindSockets() (*sockets, error) {
	var s sockets
	for _, ln := range []**net.TCPListener{&s.webhook, &s.metrics} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.close()
			return nil, fmt.Errorf("bind the sidecar's listeners: %w", err)
		}
		*ln = l.(*net.TCPListener)
	}
	return &s, nil
}

func (s *sockets) webhookURL() string {
	return "http://" + s.webhook.Addr().String() + "/whatsapp/webhook"
}

func (s *sockets) close() {
	for _, ln := range []*net.TCPListener{s.webhook, s.metrics} {
		if ln != nil {
			ln.Close()
		}
	}
}

func startSidecar(ctx context.Context, cfg Config, dbURL, apiURL string, socks *sockets) (*child, error) {
	cmd := exec.Command(cfg.Binary, "run")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "WHATSAPP_API_URL="+apiURL, "LOG_FORMAT=json", "LOG_LEVEL=info")
	cmd.Env = append(cmd.Env, cfg.SidecarEnv...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("sidecar stderr: %w", err)
	}
	if err := server.StartWithListeners(cmd, map[string]*net.TCPListener{"webhook": socks.webhook, "metrics": socks.metrics}); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, metricsAddr: socks.metrics.Addr().String(), logDone: make(chan struct{})}
	listening := make(chan string, 2)
	go c.readLog(stderr, cfg.Out, listening)
	// Ready when both listeners are bound.
	timeout := time.After(30 * time.Second)
	for seen := map[string]bool{}; !seen["metrics"] || !seen["webhook"]; {
		select {
		case name := <-listening:
			seen[name] = true
		case <-timeout:
			c.stop()
			return nil, errors.New("the sidecar did not start listening within 30 s")
		case <-c.logDone:
			c.stop()
			return nil, fmt.Errorf("the sidecar exited at start: %v", c.cmd.ProcessState)
		case <-ctx.Done():
			c.stop()
			return nil, ctx.Err()
		}
	}
	return c, nil
}

// readLog forwards the child's warnings and errors and reports its listeners.
func (c *child) readLog(stderr io.Reader, out io.Writer, listening chan<- string) {
	defer close(c.logDone)
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(out, "load: reading the sidecar's log stopped by a panic: %v\n", r)
			_, _ = io.Copy(io.Discard, stderr)
		}
	}()
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	seen := map[string]int{}
	for sc.Scan() {
		line := sc.Text()
		for _, name := range []string{"metrics", "webhook"} {
			if strings.Contains(line, `"listener":"`+name+`"`) && strings.Contains(line, `"msg":"listening"`) {
				select {
				case listening <- name:
				default:
				}
			}
		}
		if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, `"level":"WARN"`) {
			// The first few of each kind: a click confirms its order with a warning
			// that Odoo's rules did not run, hundreds of times a run.
			msg := line
			if i := strings.Index(line, `"msg":`); i >= 0 {
				msg = line[i:]
				if j := strings.Index(msg, `",`); j >= 0 {
					msg = msg[:j]
				}
			}
			if seen[msg]++; seen[msg] <= 3 {
				fmt.Fprintln(out, "sidecar:", line)
			}
		}
	}
	for msg, n := range seen {
		if n > 3 {
			fmt.Fprintf(out, "sidecar: %d more %s\n", n-3, msg)
		}
	}
	_, _ = io.Copy(io.Discard, stderr)
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// sample reads the child's high-water resident set (VmHWM) and its CPU time so
// far, and keeps them for after its end.
func (c *child) sample() (rss int64, cpu time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid())); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				c.rss = kb * 1024
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.pid())); err == nil {
		// The command name (field 2) may hold spaces: fields count from after ')'.
		if i := strings.LastIndexByte(string(b), ')'); i > 0 {
			f := strings.Fields(string(b[i+1:]))
			if len(f) > 12 {
				utime, _ := strconv.ParseInt(f[11], 10, 64)
				stime, _ := strconv.ParseInt(f[12], 10, 64)
				c.cpu = time.Duration(utime+stime) * time.Second / clockTicks
			}
		}
	}
	return c.rss, c.cpu
}

// counter sums the child's Prometheus counter name over all its label sets.
func (c *child) counter(ctx context.Context, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.metricsAddr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read the sidecar's metrics: %w", err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue // another metric sharing the prefix
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, sc.Err()
}

func (c *child) stop() {
	c.once.Do(func() {
		c.sample()
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			<-c.logDone // Wait closes the pipe: read it to its end first
			_ = c.cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = c.cmd.Process.Kill()
			<-done
		}
	})
}
