package server

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

// listenFdsStart is the first descriptor systemd passes (sd_listen_fds(3)).
const listenFdsStart = 3

// Activated returns the listening sockets passed to this process by socket
// activation (systemd's LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES), by name, and
// unsets those variables so a child process does not take them for its own. With
// a socket held by systemd, Meta's webhook deliveries wait in the kernel's backlog
// while the sidecar restarts instead of being refused. No variables: no listeners.
func Activated() (map[string]net.Listener, error) {
	pid, fds, names := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(v)
	}
	if fds == "" {
		return nil, nil
	}
	if pid != strconv.Itoa(os.Getpid()) {
		return nil, nil // meant for another process (sd_listen_fds ignores them too)
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("socket activation: LISTEN_FDS=%q is not a count", fds)
	}
	nameOf := strings.Split(names, ":")
	listeners := make(map[string]net.Listener, n)
	for i := range n {
		name := "fd" + strconv.Itoa(listenFdsStart+i)
		if i < len(nameOf) && nameOf[i] != "" {
			name = nameOf[i]
		}
		f := os.NewFile(uintptr(listenFdsStart+i), name)
		ln, err := net.FileListener(f)
		f.Close() // FileListener holds its own copy
		if err != nil {
			return nil, fmt.Errorf("socket activation: descriptor %d (%s) is not a listening socket: %w", listenFdsStart+i, name, err)
		}
		if _, dup := listeners[name]; dup {
			return nil, fmt.Errorf("socket activation: two sockets are named %q (FileDescriptorName=)", name)
		}
		listeners[name] = ln
	}
	return listeners, nil
}

// StartWithListeners starts cmd as systemd starts a socket-activated service:
// each listener's socket is passed to it under its name, so the port stays bound
// across the child's restarts and nothing else can take it in between. cmd runs
// through /bin/sh, which sets LISTEN_PID to its own pid before exec-ing the
// command (a child's pid exists only once it is started).
func StartWithListeners(cmd *exec.Cmd, listeners map[string]*net.TCPListener) error {
	if err := passListeners(cmd, listeners); err != nil {
		return err
	}
	err := cmd.Start()
	for _, f := range cmd.ExtraFiles {
		f.Close() // the child has its copies; the listeners keep theirs
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", cmd.Args[3], err)
	}
	return nil
}

func passListeners(cmd *exec.Cmd, listeners map[string]*net.TCPListener) error {
	if len(cmd.ExtraFiles) > 0 {
		return errors.New("pass listeners: the command already has extra files; the sockets must come first")
	}
	names := slices.Sorted(maps.Keys(listeners))
	for _, name := range names {
		f, err := listeners[name].File()
		if err != nil {
			return fmt.Errorf("pass the %s socket: %w", name, err)
		}
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "LISTEN_FDS="+strconv.Itoa(len(names)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
	cmd.Args = append([]string{"/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, cmd.Path}, cmd.Args[1:]...)
	cmd.Path = "/bin/sh"
	return nil
}
