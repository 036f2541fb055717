/*
Copyright 2026 The arcgis-token-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command arcgis-sim runs the ArcGIS token service simulator
// (internal/arcgissim) for demos and benchmarks: a portal and a federated
// ArcGIS Server over HTTPS on loopback, with a throw-away CA. Run it with
// --help for the endpoints, the control API and the configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one kills the process at once.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "arcgis-sim:", err)
		os.Exit(1)
	}
}

// run starts the simulator as args say, prints where it is, and serves until
// ctx is done. It never prints a password, a secret or a token.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	out := &syncWriter{w: stdout}
	opts, err := parseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(out, usage())
		return nil
	}
	if err != nil {
		return err
	}
	if opts.logRequests {
		opts.cfg.Logger = slog.New(slog.NewTextHandler(out, nil))
	}

	sim, err := arcgissim.New(opts.cfg)
	if err != nil {
		return err
	}
	if err := sim.Start(); err != nil {
		return err
	}
	defer func() { _ = sim.Close() }()

	caLine := "not written (use --ca-out FILE, or GET " + sim.URL() + "/__sim/ca.pem)"
	if opts.caOut != "" {
		// A CA certificate is public: world-readable is fine.
		if err := os.WriteFile(opts.caOut, sim.CAPEM(), 0o644); err != nil {
			return fmt.Errorf("writing the CA certificate: %w", err)
		}
		caLine = opts.caOut
	}
	federation := "federated with the portal"
	if opts.cfg.Standalone {
		federation = "standalone"
	}
	c := opts.cfg
	fmt.Fprintf(out, "arcgis-sim: ArcGIS token service simulator\n")
	fmt.Fprintf(out, "portal:  %s\n", sim.PortalURL())
	if doors := sim.PortalURLs(); len(doors) > 1 {
		fmt.Fprintf(out, "doors:   %s\n", strings.Join(doors[1:], ", "))
	}
	if opts.cfg.ServerTokensAtPortal {
		federation += ", logins at the portal"
	}
	fmt.Fprintf(out, "server:  %s (%s)\n", sim.ServerURL(), federation)
	fmt.Fprintf(out, "control: %s/__sim/\n", sim.URL())
	fmt.Fprintf(out, "CA:      %s\n", caLine)
	fmt.Fprintf(out, "users:   %s\n", describeUsers(c.Users, c.NoAdmin))
	fmt.Fprintf(out, "apps:    %s\n", orNone(sortedKeys(c.Apps)))
	var items []string
	for _, it := range sim.APIKeyItems() {
		items = append(items, it.ItemID+" (owner "+it.Owner+", "+it.AppType+")")
	}
	fmt.Fprintf(out, "items:   %s\n", orNone(items))
	fmt.Fprintf(out, "options: portal %d/%d min, server %d/%d min, lock-out %d/%d min, old-server=%t, real-status-codes=%t, clock-offset=%s\n",
		orDefault(c.PortalDefaultMinutes, arcgissim.DefaultPortalDefaultMinutes), orDefault(c.PortalMaxMinutes, arcgissim.DefaultPortalMaxMinutes),
		orDefault(c.ServerShortMinutes, arcgissim.DefaultServerShortMinutes), orDefault(c.ServerLongMinutes, arcgissim.DefaultServerLongMinutes),
		orDefault(c.LockoutAttempts, arcgissim.DefaultLockoutAttempts), orDefault(c.LockoutMinutes, arcgissim.DefaultLockoutMinutes),
		c.OldServer, c.RealStatusCodes, sim.ClockOffset())
	fmt.Fprintf(out, "Serving; press Ctrl-C to stop.\n")

	<-ctx.Done()
	fmt.Fprintf(out, "arcgis-sim: shutting down\n")
	return sim.Close()
}

// describeUsers lists usernames, never passwords.
func describeUsers(users map[string]string, noAdmin []string) string {
	names := sortedKeys(users)
	for i, n := range names {
		if slices.Contains(noAdmin, n) {
			names[i] = n + " (no admin)"
		}
	}
	return orNone(names)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// syncWriter serialises the start-up lines and request logs.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
