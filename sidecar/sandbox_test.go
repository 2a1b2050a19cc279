package sidecar_test

import (
	"net"
	"testing"
)

// The phone page is for sandbox mode only: a daemon talking to Meta (here an
// emulator standing for it) never binds SANDBOX_ADDR.
func TestNoSandboxPageOutsideSandbox(t *testing.T) {
	t.Parallel()
	db, emu := withAccount(t)
	// Held by the test: a daemon that tried to serve the page there would fail to start.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	d := startDaemon(t, db, emu, map[string]string{"SANDBOX_ADDR": taken.Addr().String()})
	if d.SandboxAddr() != "" || d.SandboxURL() != "" || d.Emulator() != nil {
		t.Fatalf("outside sandbox mode: page %q %q, emulator %v", d.SandboxAddr(), d.SandboxURL(), d.Emulator())
	}
}
