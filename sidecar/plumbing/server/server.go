// Package server runs the sidecar's HTTP listeners: it binds synchronously (so a
// taken port is an error at start, not a log line later), serves in the background,
// and drains in-flight requests on shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is one listener. Create it with Listen.
type Server struct {
	http *http.Server
	ln   net.Listener
	done chan error

	shutdown    sync.Once
	shutdownErr error
}

// Listen binds addr and starts serving handler. name labels the logs ("webhook",
// "metrics").
func Listen(addr, name string, handler http.Handler, logger *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s listener: %w", name, err)
	}
	return Serve(ln, name, handler, logger), nil
}

// Serve starts serving handler on a listener bound elsewhere (socket activation,
// a test that holds its port), and closes it on Shutdown.
func Serve(ln net.Listener, name string, handler http.Handler, logger *slog.Logger) *Server {
	s := &Server{
		http: &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ErrorLog:          slog.NewLogLogger(logger.With("listener", name).Handler(), slog.LevelWarn),
		},
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() {
		err := s.http.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	logger.Info("listening", "listener", name, "addr", ln.Addr().String())
	return s
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting, waits for in-flight requests until ctx ends, then
// closes what remains. Later calls return the first call's result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdown.Do(func() {
		err := s.http.Shutdown(ctx)
		if err != nil {
			_ = s.http.Close()
		}
		if serveErr := <-s.done; serveErr != nil && err == nil {
			err = serveErr
		}
		s.shutdownErr = err
	})
	return s.shutdownErr
}
