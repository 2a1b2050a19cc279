// Package emulatortest starts the Cloud API emulator for a test: on a free port of
// 127.0.0.1, closed when the test ends.
package emulatortest

import (
	"context"
	"strings"
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

// Start starts an emulator configured by cfg.
func Start(tb testing.TB, cfg emulator.Config) *emulator.Server {
	tb.Helper()
	srv := emulator.New(cfg)
	if err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
		tb.Fatalf("emulatortest: %v", err)
	}
	tb.Cleanup(func() { srv.Close(context.Background()) })
	return srv
}

// Accepted counts the message requests the emulator accepted (answered 200).
func Accepted(emu *emulator.Server) int {
	n := 0
	for _, r := range emu.Requests() {
		if strings.HasSuffix(r.Path, "/messages") && r.Status == 200 {
			n++
		}
	}
	return n
}
