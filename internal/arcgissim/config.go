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

package arcgissim

import (
	"cmp"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"k8s.io/utils/clock"
)

// Default token lifetimes and lock-out policy, as shipped by ArcGIS
// Enterprise 10.9.1–11.4 and ArcGIS Server.
const (
	DefaultPortalDefaultMinutes = 120
	DefaultPortalMaxMinutes     = 20160
	DefaultServerShortMinutes   = 60
	DefaultServerLongMinutes    = 1440
	DefaultLockoutAttempts      = 5
	DefaultLockoutMinutes       = 15

	defaultListen = "127.0.0.1:0"
)

// Config configures a Simulator. The zero value is usable: a free loopback
// port, no accounts, and the default lifetimes and lock-out policy.
type Config struct {
	// Listen is the loopback host:port to listen on; default "127.0.0.1:0"
	// (a free port). Only loopback addresses and "localhost" are allowed: the
	// control endpoint under /__sim/ is unauthenticated.
	Listen string

	// Users maps usernames to passwords. Usernames are case-sensitive. The
	// same accounts log in at the portal and at the server, as in a federated
	// deployment, but each realm locks them out separately.
	Users map[string]string
	// NoAdmin lists users without administrative privileges: the server admin
	// API refuses them with 403.
	NoAdmin []string
	// Apps maps OAuth client IDs to client secrets.
	Apps map[string]string

	// PortalDefaultMinutes is the lifetime of portal, OAuth and federated
	// server tokens when no expiration is asked for; default 120, or
	// PortalMaxMinutes when that is lower.
	PortalDefaultMinutes int
	// PortalMaxMinutes caps the lifetime of portal, OAuth and federated server
	// tokens; default 20160 (14 days), or PortalDefaultMinutes when higher.
	PortalMaxMinutes int
	// ServerShortMinutes is the server's shortTimeout: the default lifetime of
	// server tokens and the cap for tokens without a client binding; default
	// 60, or ServerLongMinutes when that is lower.
	ServerShortMinutes int
	// ServerLongMinutes is the server's longTimeout: the cap for bound server
	// tokens; default 1440, or ServerShortMinutes when higher.
	ServerLongMinutes int

	// LockoutAttempts consecutive failed logins within LockoutMinutes lock an
	// account for LockoutMinutes; defaults 5 and 15.
	LockoutAttempts int
	LockoutMinutes  int

	// Clock drives token expiry and lock-outs; default the real clock. Tests
	// pass a fake clock (k8s.io/utils/clock/testing) instead of sleeping.
	Clock clock.PassiveClock

	// Standalone makes the server standalone: rest/info has no
	// owningSystemUrl, the portal refuses to exchange tokens for it, and the
	// server does not recognise portal tokens at all.
	Standalone bool
	// OldServer reproduces pre-10.1 error shapes: "details" is a single
	// string, 498 says "Invalid Token", and the server tokens endpoint answers
	// 201 "Exception in generating token" to a long expiration without client.
	OldServer bool
	// RealStatusCodes makes the HTTP status equal the ArcGIS error code for
	// 400, 403, 404 and 405. 498, 499 and 201 still come with HTTP 200.
	RealStatusCodes bool

	// ClockOffset starts the service clock this far ahead of Clock (behind
	// when negative); SetClockOffset changes it at run time. Token expiry,
	// lock-out windows, expiry checks on use, API key dates and every
	// response's Date header follow the service clock.
	ClockOffset time.Duration

	// PortalAliases are more context paths under which the same portal
	// answers on the same listener, e.g. "/arcgis" beside "/portal" (a web
	// adaptor and the portal's own port). Every alias, under 127.0.0.1 and
	// localhost alike, is a door to one portal: one account store, one
	// lock-out state, one token store. See PortalURLs.
	PortalAliases []string

	// ServerTokensAtPortal makes the federated server advertise the
	// portal's generateToken as its authInfo.tokenServicesUrl in rest/info,
	// as real federated servers do, and lets the portal's generateToken take
	// username and password with serverUrl=<server root>: the answer is a
	// token for the server, and a failed login counts against the portal's
	// account (RealmPortal), the same lock-out state as a portal login.
	// Not allowed with Standalone.
	ServerTokensAtPortal bool

	// Wording selects how failed logins and lock-outs are worded at every
	// login endpoint; WordingAt overrides it per endpoint
	// (EndpointPortalGenerateToken, EndpointServerGenerateToken,
	// EndpointAdminGenerateToken), field by field. SetWording changes either
	// at run time. Accounts count failures and lock the same whatever the
	// wording.
	Wording   Wording
	WordingAt map[string]Wording

	// Roles gives users a portal role (RoleAdmin, RolePublisher, RoleUser),
	// shown in community/self, community/users and portals/self. Default
	// RoleUser for users in NoAdmin, else RoleAdmin.
	Roles map[string]Role
	// Privileges replaces the privileges a user's role gives, e.g. to take
	// PrivilegeGenerateAPIKeys away from an API key item's owner.
	Privileges map[string][]string

	// APIKeys are the API key credentials items (and other registered-app
	// items) in users' content. SetAPIKeyItem adds or replaces one at run
	// time.
	APIKeys []APIKeyItem

	// Logger, when set, receives one line per request: endpoint, method,
	// outcome, status, remote address and duration. Never a query string, a
	// body, a token or a credential.
	Logger *slog.Logger
}

// withDefaults returns a copy of c with zero fields set to their defaults and
// the maps copied, so the caller may keep mutating its own.
func (c Config) withDefaults() Config {
	setDefault := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	if c.Listen == "" {
		c.Listen = defaultListen
	}
	// A default left unset follows the cap set with it, so that setting only
	// a cap below the default (or a default above the cap) just works.
	setDefault(&c.PortalDefaultMinutes, min(DefaultPortalDefaultMinutes, cmp.Or(c.PortalMaxMinutes, DefaultPortalMaxMinutes)))
	setDefault(&c.PortalMaxMinutes, max(DefaultPortalMaxMinutes, c.PortalDefaultMinutes))
	setDefault(&c.ServerShortMinutes, min(DefaultServerShortMinutes, cmp.Or(c.ServerLongMinutes, DefaultServerLongMinutes)))
	setDefault(&c.ServerLongMinutes, max(DefaultServerLongMinutes, c.ServerShortMinutes))
	setDefault(&c.LockoutAttempts, DefaultLockoutAttempts)
	setDefault(&c.LockoutMinutes, DefaultLockoutMinutes)
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	return c
}

// validate reports the first inconsistency in a defaulted Config.
func (c Config) validate() error {
	for name, v := range map[string]int{
		"PortalDefaultMinutes": c.PortalDefaultMinutes,
		"PortalMaxMinutes":     c.PortalMaxMinutes,
		"ServerShortMinutes":   c.ServerShortMinutes,
		"ServerLongMinutes":    c.ServerLongMinutes,
		"LockoutAttempts":      c.LockoutAttempts,
		"LockoutMinutes":       c.LockoutMinutes,
	} {
		if v < 0 {
			return fmt.Errorf("arcgissim: %s must not be negative", name)
		}
	}
	if c.PortalDefaultMinutes > c.PortalMaxMinutes {
		return fmt.Errorf("arcgissim: PortalDefaultMinutes (%d) exceeds PortalMaxMinutes (%d)", c.PortalDefaultMinutes, c.PortalMaxMinutes)
	}
	if c.ServerShortMinutes > c.ServerLongMinutes {
		return fmt.Errorf("arcgissim: ServerShortMinutes (%d) exceeds ServerLongMinutes (%d)", c.ServerShortMinutes, c.ServerLongMinutes)
	}
	for user := range c.Users {
		if user == "" {
			return fmt.Errorf("arcgissim: empty username")
		}
	}
	for id := range c.Apps {
		if id == "" {
			return fmt.Errorf("arcgissim: empty OAuth client ID")
		}
	}
	if c.ServerTokensAtPortal && c.Standalone {
		return fmt.Errorf("arcgissim: ServerTokensAtPortal needs a federated server, not Standalone")
	}
	if err := validateAliases(c.PortalAliases); err != nil {
		return err
	}
	if err := c.Wording.validate(); err != nil {
		return err
	}
	for ep, w := range c.WordingAt {
		if err := validateWording(ep, w); err != nil {
			return err
		}
	}
	for user, role := range c.Roles {
		if err := role.validate(); err != nil {
			return fmt.Errorf("arcgissim: role of %q: %w", user, err)
		}
	}
	return checkLoopback(c.Listen)
}

// checkLoopback refuses listen addresses off the loopback interface: the
// simulator is a test fixture with an unauthenticated control API, and its
// certificate only names loopback addresses.
func checkLoopback(listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("arcgissim: Listen %q: %w", listen, err)
	}
	if host == "localhost" {
		return nil
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !addr.IsLoopback() {
		return fmt.Errorf("arcgissim: Listen %q: host must be a loopback address or localhost", listen)
	}
	return nil
}
