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
	"net/url"
	"slices"
	"strings"
	"time"
)

// The simulated portal's identity in portals/self.
const (
	portalID   = "0123456789ABCDEF"
	portalName = "ArcGIS Token Simulator"
	// fullVersion is the ArcGIS Enterprise release simulated.
	fullVersion = "11.3.0"
)

type (
	portalInfoResponse struct {
		OwningSystemURL string         `json:"owningSystemUrl"`
		AuthInfo        portalAuthInfo `json:"authInfo"`
		FullVersion     string         `json:"fullVersion"`
	}
	portalAuthInfo struct {
		TokenServicesURL     string `json:"tokenServicesUrl"`
		IsTokenBasedSecurity bool   `json:"isTokenBasedSecurity"`
	}
	portalSelfResponse struct {
		ID                           string    `json:"id"`
		Name                         string    `json:"name"`
		IsPortal                     bool      `json:"isPortal"`
		PortalMode                   string    `json:"portalMode"`
		PortalHostname               string    `json:"portalHostname"`
		AllSSL                       bool      `json:"allSSL"`
		SupportsOAuth                bool      `json:"supportsOAuth"`
		Culture                      string    `json:"culture"`
		AuthorizedCrossOriginDomains []string  `json:"authorizedCrossOriginDomains"`
		User                         *userJSON `json:"user,omitempty"`
		AppInfo                      *appInfo  `json:"appInfo,omitempty"`
	}
	appInfo struct {
		AppID      string   `json:"appId"`
		AppType    string   `json:"appType,omitempty"`
		Privileges []string `json:"privileges,omitempty"`
	}
)

// portalGenerateToken is /portal/sharing/rest/generateToken: a portal token
// for a username and password or, with serverUrl, a federated server token
// in exchange for a portal token.
func (s *Simulator) portalGenerateToken(c *call) {
	if !c.checkTokenRequest() {
		return
	}
	if serverURL := c.serverURL(); serverURL != "" {
		// A federated server that sends its logins here gets them with
		// serverUrl; otherwise only a portal token is exchanged.
		if s.cfg.ServerTokensAtPortal && c.token() == "" && (c.param("username") != "" || c.param("password") != "") {
			s.generateForUser(c, kindFederated)
			return
		}
		s.exchangeToken(c, serverURL)
		return
	}
	s.generateForUser(c, kindPortal)
}

// serverURL is the serverUrl parameter; Esri's clients spell it both ways.
func (c *call) serverURL() string { return cmp.Or(c.param("serverUrl"), c.param("serverURL")) }

// exchangeToken issues a server token for a valid portal token. The server
// token cannot outlive the portal token it came from (inferred).
func (s *Simulator) exchangeToken(c *call, serverURL string) {
	v := c.token()
	if v == "" {
		c.fail(unableToGenerate(OutcomeBadRequest, detailNoTokenForServer))
		return
	}
	now := s.now()
	portalToken, problem := s.tokens.check(c.r, c.from, v, true, now)
	if problem != tokenOK {
		c.fail(s.invalidToken(problem))
		return
	}
	if !s.isFederatedServer(serverURL) {
		c.fail(unableToGenerate(OutcomeBadRequest, detailUnknownServer))
		return
	}
	bind, e := c.bindingParams(false)
	if e != nil {
		c.fail(*e)
		return
	}
	asked, e := c.expiration()
	if e != nil {
		c.fail(*e)
		return
	}
	expires := now.Add(s.lifetime(kindFederated, asked, bind.client != ""))
	if expires.After(portalToken.expires) {
		expires = portalToken.expires
	}
	value := s.issue(&token{kind: kindFederated, subject: portalToken.subject, app: portalToken.app, expires: expires, bind: bind})
	c.ok(portalTokenResponse{Token: value, Expires: expires.UnixMilli(), SSL: true})
}

// isFederatedServer reports whether serverURL names this simulator's server:
// https, a loopback name on the simulator's port, and the path /server (a
// trailing slash and letter case do not matter; /server/rest/services does).
func (s *Simulator) isFederatedServer(serverURL string) bool {
	if s.cfg.Standalone {
		return false
	}
	u, err := url.Parse(serverURL)
	if err != nil || !strings.EqualFold(u.Scheme, "https") {
		return false
	}
	self, err := url.Parse(s.URL())
	if err != nil || u.Port() != self.Port() {
		return false
	}
	switch strings.ToLower(u.Hostname()) {
	case "127.0.0.1", "localhost", "::1":
	default:
		return false
	}
	return routeKey(u.Path) == routeKey(serverPath)
}

// oauthToken is /portal/sharing/rest/oauth2/token, the client credentials
// grant. OAuth errors keep ArcGIS's error object, with the OAuth 2.0 "error"
// and "error_description" inside it, as ArcGIS portals answer.
func (s *Simulator) oauthToken(c *call) {
	if !c.checkTokenRequest() {
		return
	}
	id, secret, grant := c.param("client_id"), c.param("client_secret"), c.param("grant_type")
	switch {
	case id == "":
		c.failOAuth(OutcomeBadRequest, "invalid_request", "client_id not specified")
		return
	case grant == "":
		c.failOAuth(OutcomeBadRequest, "invalid_request", "grant_type not specified")
		return
	case grant != "client_credentials":
		c.failOAuth(OutcomeBadRequest, "unsupported_grant_type", "Unsupported grant_type")
		return
	case secret == "":
		c.failOAuth(OutcomeBadRequest, "invalid_request", "client_secret not specified")
		return
	}
	if c.param("apiToken") != "" {
		s.apiKeyToken(c, id, secret)
		return
	}
	asked, e := c.expiration()
	if e != nil {
		c.failOAuth(OutcomeBadRequest, "invalid_request", detailExpiration)
		return
	}

	now := s.now()
	account := AccountKey(RealmOAuth, id)
	switch s.accounts.checkApp(id, secret) {
	case appUnknown:
		// An API key item's app is an OAuth app too (inferred).
		if s.apiKeyClient(c, id, secret) == nil {
			return
		}
	case appBadSecret:
		s.counters.login(account, s.observed(), OutcomeInvalidCredentials)
		c.failOAuth(OutcomeInvalidCredentials, "invalid_request", "Invalid client_secret")
		return
	default:
		s.counters.login(account, s.observed(), OutcomeOK)
	}

	lifetime := s.lifetime(kindApp, asked, false)
	value := s.issue(&token{kind: kindApp, subject: id, app: true, expires: now.Add(lifetime)})
	c.ok(oauthTokenResponse{AccessToken: value, ExpiresIn: int64(lifetime / time.Second)})
}

// portalInfo is /portal/sharing/rest/info, the portal's discovery document.
// A token is optional, but a bad one is refused (inferred: ArcGIS checks any
// token it is given).
func (s *Simulator) portalInfo(c *call) {
	if !c.checkResourceRequest() {
		return
	}
	if _, ok := s.authenticate(c, true, false); !ok {
		return
	}
	c.ok(portalInfoResponse{
		OwningSystemURL: s.PortalURL(),
		AuthInfo: portalAuthInfo{
			TokenServicesURL:     s.PortalURL() + "/sharing/rest/generateToken",
			IsTokenBasedSecurity: true,
		},
		FullVersion: fullVersion,
	})
}

// portalSelf is /portal/sharing/rest/portals/self: anonymous portal
// information without a token, with "user" for a user token and "appInfo"
// for an OAuth app token.
func (s *Simulator) portalSelf(c *call) {
	if !c.checkResourceRequest() {
		return
	}
	t, ok := s.authenticate(c, true, false)
	if !ok {
		return
	}
	resp := portalSelfResponse{
		ID: portalID, Name: portalName, IsPortal: true, PortalMode: "singletenant",
		PortalHostname: strings.TrimPrefix(s.PortalURL(), "https://"), AllSSL: true, SupportsOAuth: true,
		Culture: "en", AuthorizedCrossOriginDomains: []string{},
	}
	switch {
	case t == nil:
	case t.kind == kindAPIKey:
		// Inferred: a key acts for its owner, with the key's privileges.
		resp.User = s.userOf(t.subject, true)
		resp.User.Privileges = slices.Clone(t.privileges)
		resp.AppInfo = &appInfo{AppID: t.clientID, AppType: appTypeAPIKey, Privileges: slices.Clone(t.privileges)}
	case t.app:
		resp.AppInfo = &appInfo{AppID: t.subject}
	default:
		resp.User = s.userOf(t.subject, true)
	}
	c.ok(resp)
}
