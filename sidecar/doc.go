// Package sidecar is the whatsapp-sidecar daemon as a library: what `whatsapp-sidecar
// run` starts, and what the tests, the demo and the load tool start in-process.
//
// A Daemon's life is New, Start, Ready, then Stop or StopAndCancel:
//
//	d, err := sidecar.New(sidecar.Options{Config: cfg, Logger: logger})
//	if err != nil { ... }
//	if err := d.Start(ctx); err != nil { ... } // connected, listeners bound, components running
//	<-d.Ready()                               // LISTEN in place: changes are picked up at once
//	...
//	err = d.Stop(ctx)                          // graceful, within SHUTDOWN_TIMEOUT
//
// Start connects to Odoo's database (waiting for it when it is not up yet), checks
// that the schema is the one this binary needs (or migrates, with Options.Migrate),
// binds the webhook and ops listeners, and starts the components: the listener
// (LISTEN/NOTIFY), the composer (captured Odoo changes to queued messages), the
// sender (queued messages to Meta), the inbox processor (Meta's webhooks), the
// reminder scheduler, the template syncer and the configuration reloader. Each runs
// under a supervisor that recovers a panic, counts it and restarts the component.
//
// Stop stops taking new work, lets the work under way finish and be recorded, and
// cancels what is still running when the deadline passes (the caller's, or
// SHUTDOWN_TIMEOUT, whichever comes first); StopAndCancel cancels at once. Both wait
// for every component to return before the database pool is closed, so nothing is
// written after it.
//
// Without Meta credentials the daemon does not pretend to send: messages stay
// queued and /readyz says what to set. The sandbox (the built-in Cloud API
// emulator, whose status webhooks come back signed to the daemon's own webhook)
// starts only when asked: Options.Sandbox, WHATSAPP_SANDBOX, `run --sandbox` or
// `demo`; it also serves the phone page of package sandbox on SANDBOX_ADDR, where a
// person sees what the customer sees and taps the buttons.
package sidecar
