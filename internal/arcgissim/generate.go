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
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Success bodies of the token endpoints. "expires" is epoch milliseconds;
// the admin API sends it as a string, OAuth sends a relative "expires_in" in
// seconds.
type (
	portalTokenResponse struct {
		Token   string `json:"token"`
		Expires int64  `json:"expires"`
		SSL     bool   `json:"ssl"`
	}
	serverTokenResponse struct {
		Token   string `json:"token"`
		Expires int64  `json:"expires"`
	}
	adminTokenResponse struct {
		Token   string `json:"token"`
		Expires string `json:"expires"`
	}
	oauthTokenResponse struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
)

// generateForUser is generateToken with a username and password at the
// portal (kindPortal), the server's tokens endpoint (kindServer), the admin
// API (kindAdmin), or at the portal for the federated server named by
// serverUrl (kindFederated, with Config.ServerTokensAtPortal). Parameters
// are validated before the credentials, so a malformed request is not a
// login attempt.
func (s *Simulator) generateForUser(c *call, kind tokenKind) {
	realm := RealmServer
	if kind == kindPortal || kind == kindFederated {
		realm = RealmPortal
	}
	user, password := c.param("username"), c.param("password")
	var missing []string
	if user == "" {
		missing = append(missing, detailUsernameRequired)
	}
	if password == "" {
		missing = append(missing, detailPasswordRequired)
	}
	if len(missing) > 0 {
		c.fail(unableToGenerate(OutcomeBadRequest, missing...))
		return
	}
	if kind == kindFederated && !s.isFederatedServer(c.serverURL()) {
		c.fail(unableToGenerate(OutcomeBadRequest, detailUnknownServer))
		return
	}
	bind, e := c.bindingParams(kind == kindAdmin)
	if e != nil {
		c.fail(*e)
		return
	}
	asked, e := c.expiration()
	if e != nil {
		c.fail(*e)
		return
	}
	if kind == kindServer && s.cfg.OldServer && bind.client == "" && asked > s.cfg.ServerShortMinutes {
		// Old servers refuse where new ones silently shorten.
		c.fail(apiError{outcome: OutcomeBadRequest, code: 201, message: msgExceptionGenerating, details: []string{detailClientIDRequired}})
		return
	}

	now := s.now()
	result := s.accounts.login(realm, user, password, now)
	switch result {
	case loginInvalid:
		s.counters.login(AccountKey(realm, user), s.observed(), OutcomeInvalidCredentials)
		c.fail(s.invalidCredentials(c.endpoint))
		return
	case loginLocked:
		s.counters.login(AccountKey(realm, user), s.observed(), OutcomeAccountLocked)
		c.fail(s.lockedOut(c.endpoint))
		return
	}
	s.counters.login(AccountKey(realm, user), s.observed(), OutcomeOK)
	if kind == kindAdmin && s.accounts.isNoAdmin(user) {
		c.fail(permissionDenied())
		return
	}

	expires := now.Add(s.lifetime(kind, asked, bind.client != ""))
	value := s.issue(&token{kind: kind, subject: user, expires: expires, bind: bind})
	switch kind {
	case kindPortal, kindFederated:
		c.ok(portalTokenResponse{Token: value, Expires: expires.UnixMilli(), SSL: true})
	case kindServer:
		c.ok(serverTokenResponse{Token: value, Expires: expires.UnixMilli()})
	default:
		c.ok(adminTokenResponse{Token: value, Expires: strconv.FormatInt(expires.UnixMilli(), 10)})
	}
}

// issue stores a new token and counts it.
func (s *Simulator) issue(t *token) string {
	v := s.tokens.issue(t)
	s.counters.tokenIssued(t.kind)
	return v
}

// lifetime is the lifetime granted for an asked one (0: none asked): the
// default when none was asked, capped silently. Server tokens without a
// client binding are short-lived only.
func (s *Simulator) lifetime(kind tokenKind, asked int, bound bool) time.Duration {
	def, limit := s.cfg.PortalDefaultMinutes, s.cfg.PortalMaxMinutes
	if kind == kindServer || kind == kindAdmin {
		def, limit = s.cfg.ServerShortMinutes, s.cfg.ServerShortMinutes
		if bound {
			limit = s.cfg.ServerLongMinutes
		}
	}
	if asked <= 0 {
		asked = def
	}
	return time.Duration(min(asked, limit)) * time.Minute
}

// expiration reads the "expiration" parameter, in minutes; 0 when absent or
// not positive, which means the default.
func (c *call) expiration() (int, *apiError) {
	raw := c.param("expiration")
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil {
		e := unableToGenerate(OutcomeBadRequest, detailExpiration)
		return 0, &e
	}
	return max(n, 0), nil
}

// bindingParams reads "client" with "referer" or "ip". The admin API also
// takes the spelling "referrer", as its old documentation has it.
func (c *call) bindingParams(admin bool) (binding, *apiError) {
	fail := func(detail string) (binding, *apiError) {
		e := unableToGenerate(OutcomeBadRequest, detail)
		return binding{}, &e
	}
	client := strings.ToLower(c.param("client"))
	if admin && client == "referrer" {
		client = clientReferer
	}
	switch client {
	case "":
		return binding{}, nil
	case clientReferer:
		referer := c.param("referer")
		if referer == "" && admin {
			referer = c.param("referrer")
		}
		if referer == "" {
			return fail(detailRefererRequired)
		}
		return binding{client: clientReferer, referer: referer}, nil
	case clientIP:
		raw := c.param("ip")
		if raw == "" {
			return fail(detailIPRequired)
		}
		ip, err := netip.ParseAddr(raw)
		if err != nil {
			return fail(detailIPInvalid)
		}
		return binding{client: clientIP, ip: ip.Unmap()}, nil
	case clientRequestIP:
		return binding{client: clientRequestIP, ip: c.from}, nil
	}
	return fail(detailClientInvalid)
}

// checkToken validates a token or an API key for the portal or the server
// side. API keys work at the portal and at a federated server.
func (s *Simulator) checkToken(c *call, v string, portal bool) (*token, tokenProblem) {
	now := s.now()
	t, problem := s.tokens.check(c.r, c.from, v, portal, now)
	if problem != tokenUnknown {
		return t, problem
	}
	k, referrers, ok := s.apiKeys.lookup(v)
	switch {
	case !ok:
		return nil, tokenUnknown
	case !portal && s.cfg.Standalone:
		return k, tokenWrongRealm
	case !now.Before(k.expires):
		return k, tokenExpired
	case !referrerAllowed(referrers, c.r.Header.Get("Referer")):
		return k, tokenWrongBinding
	}
	return k, tokenOK
}

// authenticate validates the token a request presents, if any, for the
// portal or the server side. On failure it answers (498, or 499 when a token
// is required and none came) and returns false. t is nil when no token came.
func (s *Simulator) authenticate(c *call, portal, required bool) (t *token, ok bool) {
	v := c.token()
	if v == "" {
		if required {
			c.fail(tokenRequired())
			return nil, false
		}
		return nil, true
	}
	t, problem := s.checkToken(c, v, portal)
	if problem != tokenOK {
		c.fail(s.invalidToken(problem))
		return nil, false
	}
	return t, true
}
