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

package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
)

const defaultListen = "127.0.0.1:8443"

// options are the parsed command line.
type options struct {
	cfg         arcgissim.Config
	caOut       string
	logRequests bool
}

// fileConfig is the --config file. Zero values leave the simulator's defaults.
type fileConfig struct {
	Listen               string            `json:"listen,omitempty"`
	Users                map[string]string `json:"users,omitempty"`
	NoAdmin              []string          `json:"noAdmin,omitempty"`
	Apps                 map[string]string `json:"apps,omitempty"`
	PortalDefaultMinutes int               `json:"portalDefaultMinutes,omitempty"`
	PortalMaxMinutes     int               `json:"portalMaxMinutes,omitempty"`
	ServerShortMinutes   int               `json:"serverShortMinutes,omitempty"`
	ServerLongMinutes    int               `json:"serverLongMinutes,omitempty"`
	LockoutAttempts      int               `json:"lockoutAttempts,omitempty"`
	LockoutMinutes       int               `json:"lockoutMinutes,omitempty"`
	Standalone           bool              `json:"standalone,omitempty"`
	OldServer            bool              `json:"oldServer,omitempty"`
	RealStatusCodes      bool              `json:"realStatusCodes,omitempty"`
}

// pairs is a repeatable NAME:SECRET flag. A malformed value is reported
// after parsing rather than by Set, because the flag package would quote the
// value, secret and all, in its error.
type pairs struct {
	name, what string // "user", "NAME:PASSWORD"
	m          map[string]string
	malformed  bool
}

func (p *pairs) String() string { return "" }

func (p *pairs) Set(v string) error {
	name, secret, ok := strings.Cut(v, ":")
	if !ok || name == "" || secret == "" {
		p.malformed = true
		return nil
	}
	if p.m == nil {
		p.m = make(map[string]string)
	}
	p.m[name] = secret
	return nil
}

func (p *pairs) err() error {
	if p.malformed {
		return fmt.Errorf("invalid --%s value: want %s", p.name, p.what)
	}
	return nil
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }

func (l *list) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// newFlagSet declares the flags; parseArgs and usage share it.
func newFlagSet() (*flag.FlagSet, *flagValues) {
	fs := flag.NewFlagSet("arcgis-sim", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run prints usage and errors itself
	v := &flagValues{users: pairs{name: "user", what: "NAME:PASSWORD"}, apps: pairs{name: "app", what: "CLIENT_ID:CLIENT_SECRET"}}
	fs.StringVar(&v.listen, "listen", defaultListen, "loopback `ADDRESS` to listen on (port 0 picks a free port)")
	fs.StringVar(&v.caOut, "ca-out", "", "write the CA certificate (PEM) to `FILE`")
	fs.StringVar(&v.config, "config", "", "read users, apps, caps and options from a YAML `FILE`")
	fs.Var(&v.users, "user", "add a user, `NAME:PASSWORD` (repeatable; usernames are case-sensitive)")
	fs.Var(&v.apps, "app", "add an OAuth app, `CLIENT_ID:CLIENT_SECRET` (repeatable)")
	fs.Var(&v.noAdmin, "no-admin", "user `NAME` without administrative rights (repeatable)")
	fs.IntVar(&v.portalDefault, "portal-default-minutes", arcgissim.DefaultPortalDefaultMinutes, "lifetime of portal, OAuth and federated tokens when none is asked for")
	fs.IntVar(&v.portalMax, "portal-max-minutes", arcgissim.DefaultPortalMaxMinutes, "cap on portal, OAuth and federated token lifetimes")
	fs.IntVar(&v.serverShort, "server-short-minutes", arcgissim.DefaultServerShortMinutes, "server shortTimeout: default lifetime, and cap without client binding")
	fs.IntVar(&v.serverLong, "server-long-minutes", arcgissim.DefaultServerLongMinutes, "server longTimeout: cap on bound server tokens")
	fs.BoolVar(&v.oldServer, "old-server", false, "old error shapes: details as a string, \"Invalid Token\", 201 for long unbound server tokens")
	fs.BoolVar(&v.realStatus, "real-status-codes", false, "HTTP status = error code for 400, 403, 404, 405 (498 and 499 stay 200)")
	fs.BoolVar(&v.standalone, "standalone", false, "a standalone server: no owningSystemUrl, no federated exchange")
	fs.BoolVar(&v.logRequests, "log-requests", false, "log each request (endpoint, outcome, status; never query strings, bodies, tokens or credentials)")
	return fs, v
}

type flagValues struct {
	listen, caOut, config                             string
	users, apps                                       pairs
	noAdmin                                           list
	portalDefault, portalMax, serverShort, serverLong int
	oldServer, realStatus, standalone, logRequests    bool
}

// parseArgs reads the command line: defaults, then the --config file, then
// the flags given explicitly. --user, --app and --no-admin add to the file's.
func parseArgs(args []string) (*options, error) {
	fs, v := newFlagSet()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w (see --help)", err)
	}
	if err := errors.Join(v.users.err(), v.apps.err()); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%d unexpected arguments (see --help)", fs.NArg())
	}

	var file fileConfig
	if v.config != "" {
		raw, err := os.ReadFile(v.config)
		if err != nil {
			return nil, fmt.Errorf("reading --config: %w", err)
		}
		if err := yaml.UnmarshalStrict(bytes.TrimSpace(raw), &file); err != nil {
			return nil, fmt.Errorf("parsing --config %s: %w", v.config, err)
		}
	}
	cfg := arcgissim.Config{
		Listen:               file.Listen,
		Users:                file.Users,
		NoAdmin:              file.NoAdmin,
		Apps:                 file.Apps,
		PortalDefaultMinutes: file.PortalDefaultMinutes,
		PortalMaxMinutes:     file.PortalMaxMinutes,
		ServerShortMinutes:   file.ServerShortMinutes,
		ServerLongMinutes:    file.ServerLongMinutes,
		LockoutAttempts:      file.LockoutAttempts,
		LockoutMinutes:       file.LockoutMinutes,
		Standalone:           file.Standalone,
		OldServer:            file.OldServer,
		RealStatusCodes:      file.RealStatusCodes,
	}
	if cfg.Listen == "" {
		cfg.Listen = defaultListen
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	overrides := []struct {
		name string
		do   func()
	}{
		{"listen", func() { cfg.Listen = v.listen }},
		{"portal-default-minutes", func() { cfg.PortalDefaultMinutes = v.portalDefault }},
		{"portal-max-minutes", func() { cfg.PortalMaxMinutes = v.portalMax }},
		{"server-short-minutes", func() { cfg.ServerShortMinutes = v.serverShort }},
		{"server-long-minutes", func() { cfg.ServerLongMinutes = v.serverLong }},
		{"old-server", func() { cfg.OldServer = v.oldServer }},
		{"real-status-codes", func() { cfg.RealStatusCodes = v.realStatus }},
		{"standalone", func() { cfg.Standalone = v.standalone }},
	}
	for _, o := range overrides {
		if set[o.name] {
			o.do()
		}
	}
	cfg.Users = merge(cfg.Users, v.users.m)
	cfg.Apps = merge(cfg.Apps, v.apps.m)
	cfg.NoAdmin = append(cfg.NoAdmin, v.noAdmin...)
	return &options{cfg: cfg, caOut: v.caOut, logRequests: v.logRequests}, nil
}

func merge(base, extra map[string]string) map[string]string {
	if len(extra) == 0 {
		return base
	}
	out := make(map[string]string, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// usage is the --help text.
func usage() string {
	fs, _ := newFlagSet()
	var flags strings.Builder
	fs.SetOutput(&flags)
	fs.PrintDefaults()
	return fmt.Sprintf(usageText, flags.String())
}

const usageText = `Usage: arcgis-sim [flags]

Simulates an ArcGIS Enterprise portal and a federated ArcGIS Server token
service over HTTPS on a loopback address, for demos and benchmarks. It makes a
throw-away ECDSA P-256 CA at start (--ca-out writes it) and reproduces real
ArcGIS behaviour: POST-only token requests, the silent failure without a form
content type, 405 for credentials in the query string, case-sensitive
usernames, silent lifetime caps, referer/ip/requestip binding checked on use,
lock-out after 5 failed logins in 15 minutes (portal and server separately),
498/499/403 errors with HTTP 200, the admin API's envelope, OAuth errors, and
the federated token exchange. It never prints a password, secret or token.

Endpoints (ROOT is the listen URL):
  ROOT/portal/sharing/rest/generateToken  portal token; with token+serverUrl, a federated server token
  ROOT/portal/sharing/rest/oauth2/token   OAuth client credentials (grant_type=client_credentials)
  ROOT/portal/sharing/rest/info           portal discovery
  ROOT/portal/sharing/rest/portals/self   who a portal or OAuth token belongs to
  ROOT/server/rest/info                   server discovery (authInfo, owningSystemUrl)
  ROOT/server/tokens/generateToken        server token
  ROOT/server/admin/generateToken         admin API token ("expires" is a string)
  ROOT/server/admin                       admin directory (needs an admin's server token)
  ROOT/server/rest/services               secured services listing (needs a server token)

Control API (no authentication; loopback only):
  POST /__sim/revoke     revoke every token (a shared-key change)
  GET|POST|DELETE /__sim/faults
                         list, inject ({"endpoint":"portal/generateToken","kind":"status",
                         "status":503,"count":1}; kinds htmlError, htmlLogin,
                         htmlInvalidToken, status, delay, drop, json) or clear faults
  GET  /__sim/counters   requests per endpoint and outcome, login attempts, concurrency
  POST /__sim/reset      reset the counters
  POST /__sim/users      {"username":"NAME","password":"PW"} (empty password deletes)
  POST /__sim/apps       {"clientId":"ID","clientSecret":"SECRET"} (empty secret deletes)
  GET  /__sim/ca.pem     the CA certificate
  GET  /__sim/secrets    every token issued and password configured, for leak scans

Flags:
%s
Config file (--config, YAML; flags override it, --user/--app/--no-admin add to it):
  listen: 127.0.0.1:8443
  users: {alice: alice-password, bob: bob-password}
  noAdmin: [bob]
  apps: {my-app: my-app-secret}
  portalDefaultMinutes: 120
  portalMaxMinutes: 20160
  serverShortMinutes: 60
  serverLongMinutes: 1440
  lockoutAttempts: 5
  lockoutMinutes: 15
  standalone: false
  oldServer: false
  realStatusCodes: false

Passwords given with --user are visible to other local users in the process
list; prefer --config for anything but throw-away demos.

Inferred (not confirmed by a source): the lock-out message and details of the
lock-out policy, that unbound server tokens are short-lived only, the wording
of several 400 and 405 details, that a federated server token never outlives
its portal token, that servers refuse portal tokens (498; 403 at a federated
admin directory), and the admin API's messages. See the package
documentation of internal/arcgissim for the exact JSON of every error.
`
