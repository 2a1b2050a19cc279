package server_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/server"
)

// A child started by the test binary with socket activation: it serves what it
// received on the socket named "webhook" until its parent is gone.
func TestMain(m *testing.M) {
	if os.Getenv("SERVER_TEST_ACTIVATED_CHILD") == "1" {
		listeners, err := server.Activated()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		left := os.Getenv("LISTEN_FDS")
		handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "%d sockets, LISTEN_FDS=%q left for children", len(listeners), left)
		})
		server.Serve(listeners["webhook"], "webhook", handler, slog.New(slog.DiscardHandler))
		select {}
	}
	os.Exit(m.Run())
}

func TestPassedListenerServesInTheChild(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SERVER_TEST_ACTIVATED_CHILD=1")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := server.StartWithListeners(cmd, map[string]*net.TCPListener{"webhook": ln.(*net.TCPListener)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	// The parent never accepts: the answer comes from the child's copy of the socket.
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if want := `1 sockets, LISTEN_FDS="" left for children`; string(body) != want {
		t.Fatalf("the child answered %q, want %q", body, want)
	}
}

func TestActivationForAnotherProcessIsIgnored(t *testing.T) {
	t.Setenv("LISTEN_PID", "1")
	t.Setenv("LISTEN_FDS", "1")
	t.Setenv("LISTEN_FDNAMES", "webhook")
	listeners, err := server.Activated()
	if err != nil || len(listeners) != 0 {
		t.Fatalf("Activated() = %v, %v; want no listeners when LISTEN_PID names another process", listeners, err)
	}
	if os.Getenv("LISTEN_FDS") != "" {
		t.Fatal("LISTEN_FDS was left set: a child of this process would take the sockets for its own")
	}
}

func TestActivationWithABadCountIsAnError(t *testing.T) {
	t.Setenv("LISTEN_PID", fmt.Sprint(os.Getpid()))
	t.Setenv("LISTEN_FDS", "two")
	if _, err := server.Activated(); err == nil {
		t.Fatal("LISTEN_FDS=two was accepted")
	}
}
