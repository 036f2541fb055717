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

// currentVersion is the ArcGIS Server REST API version simulated.
const currentVersion = 11.3

type (
	serverInfoResponse struct {
		CurrentVersion  float64        `json:"currentVersion"`
		FullVersion     string         `json:"fullVersion"`
		OwningSystemURL string         `json:"owningSystemUrl,omitempty"`
		AuthInfo        serverAuthInfo `json:"authInfo"`
	}
	serverAuthInfo struct {
		IsTokenBasedSecurity    bool   `json:"isTokenBasedSecurity"`
		TokenServicesURL        string `json:"tokenServicesUrl"`
		ShortLivedTokenValidity int    `json:"shortLivedTokenValidity"`
	}
	servicesResponse struct {
		CurrentVersion float64       `json:"currentVersion"`
		Folders        []string      `json:"folders"`
		Services       []serviceInfo `json:"services"`
	}
	serviceInfo struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	adminRootResponse struct {
		Resources      []string `json:"resources"`
		CurrentVersion float64  `json:"currentVersion"`
		FullVersion    string   `json:"fullVersion"`
	}
)

// serverInfo is /server/rest/info, the server's discovery document. A token
// is optional, but a bad one is refused.
func (s *Simulator) serverInfo(c *call) {
	if !c.checkResourceRequest() {
		return
	}
	if _, ok := s.authenticate(c, false, false); !ok {
		return
	}
	resp := serverInfoResponse{
		CurrentVersion: currentVersion,
		FullVersion:    fullVersion,
		AuthInfo: serverAuthInfo{
			IsTokenBasedSecurity: true,
			// The token service's root, not its generateToken operation.
			TokenServicesURL:        s.ServerURL() + "/tokens/",
			ShortLivedTokenValidity: s.cfg.ServerShortMinutes,
		},
	}
	if !s.cfg.Standalone {
		resp.OwningSystemURL = s.PortalURL()
	}
	if s.cfg.ServerTokensAtPortal {
		// As real federated servers advertise: logins go to the portal.
		resp.AuthInfo.TokenServicesURL = s.PortalURL() + "/sharing/rest/generateToken"
	}
	c.ok(resp)
}

// serverServices is /server/rest/services on a secured site: a server token
// (from the tokens endpoint, the admin API or a federated exchange) is
// required.
func (s *Simulator) serverServices(c *call) {
	if !c.checkResourceRequest() {
		return
	}
	if _, ok := s.authenticate(c, false, true); !ok {
		return
	}
	c.ok(servicesResponse{
		CurrentVersion: currentVersion,
		Folders:        []string{"Utilities"},
		Services:       []serviceInfo{{Name: "SampleWorldCities", Type: "MapServer"}},
	})
}

// serverGenerateToken is /server/tokens/generateToken.
func (s *Simulator) serverGenerateToken(c *call) {
	if c.checkTokenRequest() {
		s.generateForUser(c, kindServer)
	}
}

// adminGenerateToken is /server/admin/generateToken: errors come in the admin
// envelope and "expires" is a string.
func (s *Simulator) adminGenerateToken(c *call) {
	if c.checkTokenRequest() {
		s.generateForUser(c, kindAdmin)
	}
}

// adminRoot is /server/admin, the administrator directory: it takes server
// tokens of users with administrative privileges. A federated server knows
// portal tokens but does not let them administer it (403); a standalone
// server does not know them at all (498).
func (s *Simulator) adminRoot(c *call) {
	if !c.checkResourceRequest() {
		return
	}
	v := c.token()
	if v == "" {
		c.fail(tokenRequired())
		return
	}
	t, problem := s.tokens.check(c.r, c.from, v, false, s.now())
	switch {
	case problem == tokenWrongRealm && !s.cfg.Standalone:
		c.fail(permissionDenied())
		return
	case problem != tokenOK:
		c.fail(s.invalidToken(problem))
		return
	case t.app || s.accounts.isNoAdmin(t.subject):
		c.fail(permissionDenied())
		return
	}
	c.ok(adminRootResponse{
		Resources:      []string{"machines", "clusters", "system", "services", "security", "data", "uploads", "logs", "mode", "usagereports"},
		CurrentVersion: currentVersion,
		FullVersion:    fullVersion,
	})
}
