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

// Command driver starts the ArcGIS simulator on a free loopback port, runs
// a command against it (the Esri conformance suite: node conformance.mjs)
// and stops the simulator when the command ends, whether it passed or not.
// The command gets the simulator through the environment:
//
//	NODE_EXTRA_CA_CERTS  the simulator's CA certificate (PEM file)
//	ESRI_SIM_CONFIG      a JSON file (mode 0600): portal, server and control
//	                     URLs, the users and the OAuth app with their
//	                     passwords and secret (made at random for this run)
//
// Usage: go run ./test/esri/driver [-timeout 5m] -- COMMAND [ARG...]
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
)

// simConfig is what the suite is handed in ESRI_SIM_CONFIG.
type simConfig struct {
	// PortalURL is the portal's REST root (…/portal/sharing/rest), what
	// arcgis-rest-js calls "portal".
	PortalURL string `json:"portalUrl"`
	// ServerURL is the federated server's root (…/server).
	ServerURL string `json:"serverUrl"`
	// ControlURL is the simulator's control API (…/__sim).
	ControlURL string `json:"controlUrl"`
	Admin      user   `json:"admin"`
	User       user   `json:"user"`
	App        app    `json:"app"`
}

type user struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type app struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

func main() {
	timeout := flag.Duration("timeout", 5*time.Minute, "stop the command (and fail) after this long")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: driver [-timeout D] -- COMMAND [ARG...]")
		os.Exit(2)
	}
	code, err := run(*timeout, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "driver:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// run starts the simulator, runs the command and returns its exit code.
func run(timeout time.Duration, command []string) (int, error) {
	cfg := simConfig{
		Admin: user{Username: "alice", Password: secret()},
		User:  user{Username: "bob", Password: secret()},
		App:   app{ClientID: "esri-conformance-app", ClientSecret: secret()},
	}
	sim, err := arcgissim.New(arcgissim.Config{
		Users:   map[string]string{cfg.Admin.Username: cfg.Admin.Password, cfg.User.Username: cfg.User.Password},
		NoAdmin: []string{cfg.User.Username},
		Apps:    map[string]string{cfg.App.ClientID: cfg.App.ClientSecret},
	})
	if err != nil {
		return 1, err
	}
	if err := sim.Start(); err != nil {
		return 1, err
	}
	defer func() { _ = sim.Close() }()
	cfg.PortalURL = sim.PortalURL() + "/sharing/rest"
	cfg.ServerURL = sim.ServerURL()
	cfg.ControlURL = sim.URL() + "/__sim"

	dir, err := os.MkdirTemp("", "esri-conformance-")
	if err != nil {
		return 1, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, sim.CAPEM(), 0o600); err != nil {
		return 1, err
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return 1, err
	}
	cfgFile := filepath.Join(dir, "sim.json")
	if err := os.WriteFile(cfgFile, raw, 0o600); err != nil {
		return 1, err
	}
	fmt.Printf("driver: simulator at %s (portal %s, server %s)\n", sim.URL(), cfg.PortalURL, cfg.ServerURL)

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	defer cancelTimeout()
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+caFile, "ESRI_SIM_CONFIG="+cfgFile)
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return 1, fmt.Errorf("%s stopped: %w", command[0], context.Cause(ctx))
	case errors.As(err, &exit):
		return exit.ExitCode(), nil
	case err != nil:
		return 1, err
	}
	return 0, nil
}

// secret returns a random password, new for every run.
func secret() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
