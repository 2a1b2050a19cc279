// Command whatsapp-sidecar runs beside Odoo 16 on Odoo's PostgreSQL database and
// talks to customers through the WhatsApp Business Cloud API. This package only wires
// the sidecar/... packages together; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/sethvargo/go-envconfig"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], envconfig.OsLookuper(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "run the sidecar: capture Odoo's changes, send, receive webhooks", runSidecar},
		{"migrate", "install or upgrade the sidecar's tables, triggers and Odoo metadata", runMigrate},
		{"send", "queue one message (text, document, template or scenario) and wait for Meta's answer", runSend},
		{"templates", "templates sync: fetch the message templates from Meta into whatsapp_template", runTemplates},
		{"demo", "build a demo Odoo 16 database on the local PostgreSQL and run the sidecar on it", runDemo},
		{"uninstall", "remove the triggers and the whatsapp_sidecar schema (--drop-data: also tables and columns)", runUninstall},
		{"emulator", "serve the WhatsApp Cloud API emulator (tests, benchmarks, sandbox)", func(ctx context.Context, args []string, _ envconfig.Lookuper, stdout, stderr io.Writer) error {
			return runEmulator(ctx, args, stdout, stderr)
		}},
		{"load", "load test: a real sidecar process between an Odoo database and the emulator, timed", runLoad},
		{"version", "print the version", func(_ context.Context, _ []string, _ envconfig.Lookuper, stdout, _ io.Writer) error {
			fmt.Fprintln(stdout, "whatsapp-sidecar", fullVersion())
			return nil
		}},
	}
}

// errUsage marks errors already explained by a usage message.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], env, stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "whatsapp-sidecar %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "whatsapp-sidecar: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: whatsapp-sidecar <command> [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Configuration comes from the environment (DATABASE_URL, WHATSAPP_*, ...): see README.md.")
}

func fullVersion() string {
	v := version
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + info.GoVersion
	}
	return v
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("whatsapp-sidecar "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		fs.Usage()
		return errUsage
	}
	return nil
}
