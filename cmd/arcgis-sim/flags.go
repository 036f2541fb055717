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
	"maps"
	"os"
	"slices"
	"strings"
	"time"

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

	ClockOffset          string                       `json:"clockOffset,omitempty"` // a Go duration, e.g. "2s", "-2m"
	PortalAliases        []string                     `json:"portalAliases,omitempty"`
	ServerTokensAtPortal bool                         `json:"serverTokensAtPortal,omitempty"`
	Wording              arcgissim.Wording            `json:"wording,omitzero"`
	WordingAt            map[string]arcgissim.Wording `json:"wordingAt,omitempty"`
	Roles                map[string]arcgissim.Role    `json:"roles,omitempty"`
	Privileges           map[string][]string          `json:"privileges,omitempty"`
	APIKeys              []arcgissim.APIKeyItem       `json:"apiKeys,omitempty"`
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

// apiKeyFlags is the repeatable --api-key ITEM_ID:OWNER:CLIENT_ID:CLIENT_SECRET
// flag; like pairs, a malformed value is reported without echoing it.
type apiKeyFlags struct {
	items     []arcgissim.APIKeyItem
	malformed bool
}

func (a *apiKeyFlags) String() string { return "" }

func (a *apiKeyFlags) Set(v string) error {
	parts := strings.SplitN(v, ":", 4)
	if len(parts) != 4 || slices.Contains(parts, "") {
		a.malformed = true
		return nil
	}
	a.items = append(a.items, arcgissim.APIKeyItem{ItemID: parts[0], Owner: parts[1], ClientID: parts[2], ClientSecret: parts[3]})
	return nil
}

func (a *apiKeyFlags) err() error {
	if a.malformed {
		return errors.New("invalid --api-key value: want ITEM_ID:OWNER:CLIENT_ID:CLIENT_SECRET")
	}
	return nil
}

// roleFlags is the repeatable --role NAME:ROLE flag.
type roleFlags map[string]arcgissim.Role

func (r *roleFlags) String() string { return "" }

func (r *roleFlags) Set(v string) error {
	name, role, ok := strings.Cut(v, ":")
	if !ok || name == "" {
		return errors.New("want NAME:ROLE")
	}
	if *r == nil {
		*r = roleFlags{}
	}
	(*r)[name] = arcgissim.Role(role)
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
	fs.DurationVar(&v.clockOffset, "clock-offset", 0, "run the service clock this far ahead (negative: behind), e.g. 2s or -2m")
	fs.Var(&v.aliases, "portal-alias", "also serve the portal under context `PATH`, e.g. /arcgis (repeatable)")
	fs.BoolVar(&v.tokensAtPortal, "server-tokens-at-portal", false, "the federated server's rest/info sends logins to the portal's generateToken (username/password + serverUrl)")
	fs.StringVar(&v.loginWording, "login-wording", "", "`WORDING` of a failed login: standard, incorrect, invalidCredentials or http401")
	fs.StringVar(&v.lockoutWording, "lockout-wording", "", "`WORDING` of a locked account: standard or unknown")
	fs.Var(&v.roles, "role", "portal role of a user, `NAME:ROLE` with ROLE org_admin, org_publisher or org_user (repeatable)")
	fs.Var(&v.apiKeys, "api-key", "add an API key credentials item, `ITEM_ID:OWNER:CLIENT_ID:CLIENT_SECRET` (repeatable; referrers, privileges and slots in --config)")
	fs.BoolVar(&v.logRequests, "log-requests", false, "log each request (endpoint, outcome, status; never query strings, bodies, tokens or credentials)")
	return fs, v
}

type flagValues struct {
	listen, caOut, config                             string
	users, apps                                       pairs
	noAdmin, aliases                                  list
	portalDefault, portalMax, serverShort, serverLong int
	oldServer, realStatus, standalone, logRequests    bool
	clockOffset                                       time.Duration
	tokensAtPortal                                    bool
	loginWording, lockoutWording                      string
	roles                                             roleFlags
	apiKeys                                           apiKeyFlags
}

// parseArgs reads the command line: defaults, then the --config file, then
// the flags given explicitly. --user, --app, --no-admin, --portal-alias,
// --role and --api-key add to the file's.
func parseArgs(args []string) (*options, error) {
	fs, v := newFlagSet()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w (see --help)", err)
	}
	if err := errors.Join(v.users.err(), v.apps.err(), v.apiKeys.err()); err != nil {
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
		PortalAliases:        file.PortalAliases,
		ServerTokensAtPortal: file.ServerTokensAtPortal,
		Wording:              file.Wording,
		WordingAt:            file.WordingAt,
		Roles:                file.Roles,
		Privileges:           file.Privileges,
		APIKeys:              file.APIKeys,
	}
	if file.ClockOffset != "" {
		d, err := time.ParseDuration(file.ClockOffset)
		if err != nil {
			return nil, fmt.Errorf("parsing --config %s: clockOffset: %w", v.config, err)
		}
		cfg.ClockOffset = d
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
		{"clock-offset", func() { cfg.ClockOffset = v.clockOffset }},
		{"server-tokens-at-portal", func() { cfg.ServerTokensAtPortal = v.tokensAtPortal }},
		{"login-wording", func() { cfg.Wording.LoginFailure = arcgissim.LoginWording(v.loginWording) }},
		{"lockout-wording", func() { cfg.Wording.Lockout = arcgissim.LockoutWording(v.lockoutWording) }},
	}
	for _, o := range overrides {
		if set[o.name] {
			o.do()
		}
	}
	cfg.Users = merge(cfg.Users, v.users.m)
	cfg.Apps = merge(cfg.Apps, v.apps.m)
	cfg.NoAdmin = append(cfg.NoAdmin, v.noAdmin...)
	cfg.PortalAliases = append(cfg.PortalAliases, v.aliases...)
	cfg.APIKeys = append(cfg.APIKeys, v.apiKeys.items...)
	if len(v.roles) > 0 {
		roles := make(map[string]arcgissim.Role, len(cfg.Roles)+len(v.roles))
		maps.Copy(roles, cfg.Roles)
		maps.Copy(roles, v.roles)
		cfg.Roles = roles
	}
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
  ROOT/portal/sharing/rest/oauth2/token   OAuth client credentials (grant_type=client_credentials);
                                          with apiToken=1|2 an API key (regenerateApiToken=true)
  ROOT/portal/sharing/rest/info           portal discovery
  ROOT/portal/sharing/rest/portals/self   the portal; with a token, its user (or app)
  ROOT/portal/sharing/rest/community/self the signed-in user (username, role, privileges, ...)
  ROOT/portal/sharing/rest/community/users/NAME
                                          a user's profile (full for the user and admins)
  ROOT/portal/sharing/rest/oauth2/revokeToken
                                          invalidate an API key slot (apiToken=1|2)
  ROOT/portal/sharing/rest/content/items/ITEM
                                          an item (apiToken1/2ExpirationDate), owner only
  ROOT/portal/sharing/rest/content/users/OWNER/items/ITEM/registeredAppInfo
                                          an item's app: client id/secret, slots active
  ROOT/portal/sharing/rest/content/users/OWNER/items/ITEM/update
                                          set apiToken1/2ExpirationDate (<= 1 year ahead)
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
  GET|POST /__sim/clock  service clock offset, {"offset":"2s"} (negative: behind)
  GET|POST /__sim/wording
                         {"endpoint":"portal/generateToken","loginFailure":"incorrect",
                         "lockout":"unknown"} (endpoint "" for all)
  GET|POST /__sim/apikeys
                         list API key items and slots, or add/replace one (YAML fields below)
  POST /__sim/apikeys/ITEM/invalidate
                         {"slot":1}: invalidate a key from outside
  GET  /__sim/ca.pem     the CA certificate
  GET  /__sim/secrets    every token and key issued and secret configured, for leak scans

Flags:
%s
Config file (--config, YAML; flags override it; --user, --app, --no-admin, --portal-alias,
--role and --api-key add to it):
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
  clockOffset: 2s                  # the service clock runs 2 s ahead
  portalAliases: [/arcgis]         # the same portal under ROOT/arcgis too
  serverTokensAtPortal: false      # rest/info sends server logins to the portal
  wording: {loginFailure: standard, lockout: standard}
  wordingAt: {server/tokens/generateToken: {loginFailure: http401}}
  roles: {bob: org_user}           # org_admin (default), org_publisher, org_user
  privileges: {carol: [portal:user:createItem]}
  apiKeys:
  - itemId: 0123456789abcdef0123456789abcdef
    owner: alice
    clientId: apikey-client
    clientSecret: apikey-secret
    appType: apikey                # anything else: not API key credentials
    httpReferrers: []
    privileges: [premium:user:geocode:temporary]
    slot1: {expirationDate: "2027-01-01T00:00:00Z", active: true}
    slot2: {}

Passwords given with --user are visible to other local users in the process
list; prefer --config for anything but throw-away demos.

Inferred (not confirmed by a source): the lock-out message and details of the
lock-out policy, that unbound server tokens are short-lived only, the wording
of several 400 and 405 details, that a federated server token never outlives
its portal token, that servers refuse portal tokens (498; 403 at a federated
admin directory), the admin API's messages, the unknown login and lock-out
wordings, what other users see of a profile, and most API key item details
(refusals beyond one year, keys for slots without a date, referrer matching). See the package
documentation of internal/arcgissim for the exact JSON of every error.
`
