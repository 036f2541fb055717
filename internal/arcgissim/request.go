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
	"io"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Endpoints, as named in Counters.Requests and selected by Fault.Endpoint.
const (
	EndpointPortalGenerateToken = "portal/generateToken"
	EndpointPortalInfo          = "portal/info"
	EndpointPortalSelf          = "portal/portals/self"
	EndpointCommunitySelf       = "portal/community/self"
	EndpointCommunityUser       = "portal/community/users"
	EndpointOAuthToken          = "portal/oauth2/token"
	EndpointOAuthRevoke         = "portal/oauth2/revokeToken"
	EndpointItem                = "portal/content/items"
	EndpointRegisteredAppInfo   = "portal/content/registeredAppInfo"
	EndpointItemUpdate          = "portal/content/update"
	EndpointServerInfo          = "server/rest/info"
	EndpointServerServices      = "server/rest/services"
	EndpointServerGenerateToken = "server/tokens/generateToken"
	EndpointAdminGenerateToken  = "server/admin/generateToken"
	EndpointAdmin               = "server/admin"
	// EndpointUnknown counts requests to any other path.
	EndpointUnknown = "unknown"
)

// allEndpoints lists the endpoints a fault may select.
var allEndpoints = []string{
	EndpointPortalGenerateToken, EndpointPortalInfo, EndpointPortalSelf, EndpointCommunitySelf,
	EndpointCommunityUser, EndpointOAuthToken, EndpointOAuthRevoke, EndpointItem,
	EndpointRegisteredAppInfo, EndpointItemUpdate, EndpointServerInfo, EndpointServerServices, EndpointServerGenerateToken,
	EndpointAdminGenerateToken, EndpointAdmin, EndpointUnknown,
}

// URL paths of the endpoints.
const (
	portalPath     = "/portal"
	portalRESTPath = portalPath + "/sharing/rest"
	serverPath     = "/server"
	controlPrefix  = "/__sim/"
)

// maxBodyBytes bounds form bodies; token requests are tiny.
const maxBodyBytes = 1 << 20

// route is an endpoint's name, error envelope and handler.
type route struct {
	endpoint string
	envelope envelope
	handle   func(*call)
}

// patternRoute is a route whose path has variable segments ("*"): a
// username or an item ID, passed to the handler in call.vars.
type patternRoute struct {
	segments []string // lower case; "*" matches one non-empty segment
	route
}

// newRoutes maps normalised paths (see routeKey) to routes.
func (s *Simulator) newRoutes() map[string]route {
	routes := make(map[string]route)
	for path, rt := range map[string]route{
		portalRESTPath + "/generateToken":      {EndpointPortalGenerateToken, envREST, s.portalGenerateToken},
		portalRESTPath + "/info":               {EndpointPortalInfo, envREST, s.portalInfo},
		portalRESTPath + "/portals/self":       {EndpointPortalSelf, envREST, s.portalSelf},
		portalRESTPath + "/community/self":     {EndpointCommunitySelf, envREST, s.communitySelf},
		portalRESTPath + "/oauth2/token":       {EndpointOAuthToken, envREST, s.oauthToken},
		portalRESTPath + "/oauth2/revokeToken": {EndpointOAuthRevoke, envREST, s.oauthRevoke},
		serverPath + "/rest/info":              {EndpointServerInfo, envREST, s.serverInfo},
		serverPath + "/rest/services":          {EndpointServerServices, envREST, s.serverServices},
		serverPath + "/tokens/generateToken":   {EndpointServerGenerateToken, envREST, s.serverGenerateToken},
		serverPath + "/admin/generateToken":    {EndpointAdminGenerateToken, envAdmin, s.adminGenerateToken},
		serverPath + "/admin":                  {EndpointAdmin, envAdmin, s.adminRoot},
	} {
		routes[routeKey(path)] = rt
	}
	return routes
}

// newPatternRoutes lists the routes with variable segments.
func (s *Simulator) newPatternRoutes() []patternRoute {
	var out []patternRoute
	for path, rt := range map[string]route{
		portalRESTPath + "/community/users/*":                         {EndpointCommunityUser, envREST, s.communityUser},
		portalRESTPath + "/content/items/*":                           {EndpointItem, envREST, s.itemRead},
		portalRESTPath + "/content/users/*/items/*/registeredAppInfo": {EndpointRegisteredAppInfo, envREST, s.registeredAppInfo},
		portalRESTPath + "/content/users/*/items/*/update":            {EndpointItemUpdate, envREST, s.itemUpdate},
	} {
		out = append(out, patternRoute{segments: strings.Split(strings.Trim(strings.ToLower(path), "/"), "/"), route: rt})
	}
	return out
}

// lookupRoute finds the route of a path: an exact one, else a pattern
// whose literal segments match case-insensitively. Variable segments keep
// their case (usernames are case-sensitive).
func (s *Simulator) lookupRoute(path string) (route, []string, bool) {
	if rt, ok := s.routes[routeKey(path)]; ok {
		return rt, nil, true
	}
	if len(path) > 1 {
		path = strings.TrimRight(path, "/")
	}
	segments := strings.Split(strings.TrimPrefix(path, "/"), "/")
next:
	for _, pr := range s.patterns {
		if len(pr.segments) != len(segments) {
			continue
		}
		var vars []string
		for i, want := range pr.segments {
			switch {
			case want == "*" && segments[i] != "":
				vars = append(vars, segments[i])
			case !strings.EqualFold(want, segments[i]):
				continue next
			}
		}
		return pr.route, vars, true
	}
	return route{}, nil, false
}

// routeKey normalises a path the way IIS and Tomcat in front of ArcGIS do:
// case-insensitive, trailing slash optional.
func routeKey(path string) string {
	if len(path) > 1 {
		path = strings.TrimRight(path, "/")
	}
	return strings.ToLower(path)
}

// call is one request to a simulated endpoint.
type call struct {
	s        *Simulator
	w        http.ResponseWriter
	r        *http.Request
	endpoint string
	envelope envelope
	from     netip.Addr // the client's address, for ip and requestip bindings
	vars     []string   // the variable segments of a pattern route
	query    url.Values
	body     url.Values // empty unless a form-encoded POST
	outcome  string
	status   int
	counted  bool
}

// count records the call's outcome, once. An answer reaches the client only
// after serveHTTP returns (net/http then flushes a short answer, or the last
// chunk of a long one), so counting on return is early enough for answers;
// drop counts before it closes the connection.
func (c *call) count() {
	if c.counted {
		return
	}
	c.counted = true
	c.s.counters.end(c.endpoint, c.outcome)
}

// serveHTTP dispatches a request: the control API, or a simulated endpoint
// wrapped in counting, logging and fault injection.
func (s *Simulator) serveHTTP(w http.ResponseWriter, r *http.Request) {
	// net/http would stamp the real time; the service's clock may be fake
	// or offset, and clients read it from the Date header.
	w.Header().Set("Date", s.ServiceNow().UTC().Format(http.TimeFormat))
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		s.control.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	path, door := s.throughDoor(r)
	rt, vars, known := s.lookupRoute(path)
	if !known {
		rt = route{endpoint: EndpointUnknown, handle: notFound}
	}
	c := &call{s: s, w: w, r: r, endpoint: rt.endpoint, envelope: rt.envelope, vars: vars, query: r.URL.Query(), body: url.Values{}}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		c.from = ap.Addr().Unmap()
	}

	s.counters.begin(door, c.query.Get("token") != "", hasCredentials(c.query))
	defer func() {
		c.count()
		if s.log != nil {
			s.log.Info("request", "endpoint", c.endpoint, "method", r.Method, "outcome", c.outcome,
				"status", c.status, "remote", r.RemoteAddr, "duration", time.Since(start))
		}
	}()

	// The body is read before any fault: Go's server notices a client that
	// gave up only once the body is read, and a delay fault must end then.
	c.readForm()
	if s.applyFault(c) {
		return
	}
	rt.handle(c)
}

// readForm parses a form-encoded POST body. Any other content type leaves
// the body unread: ArcGIS then sees no parameters at all, which is the
// "silent" failure of clients that forget the Content-Type.
func (c *call) readForm() {
	if c.r.Method != http.MethodPost {
		return
	}
	mediaType, _, err := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/x-www-form-urlencoded" {
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, maxBodyBytes))
	if err != nil {
		return
	}
	// A malformed body yields what could be parsed, like a servlet container.
	c.body, _ = url.ParseQuery(string(raw))
}

// param returns a parameter from the body, else from the query string: like
// a servlet container, ArcGIS merges both.
func (c *call) param(name string) string {
	if v := c.body.Get(name); v != "" {
		return v
	}
	return c.query.Get(name)
}

// token returns the token a request presents: the "token" form field, the
// X-Esri-Authorization or Authorization bearer header, or the query string.
func (c *call) token() string {
	if v := c.body.Get("token"); v != "" {
		return v
	}
	for _, h := range []string{"X-Esri-Authorization", "Authorization"} {
		if v := bearer(c.r.Header.Get(h)); v != "" {
			return v
		}
	}
	return c.query.Get("token")
}

// bearer returns the token of a "Bearer T" header value, or "".
func bearer(v string) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// hasCredentials reports credentials in a URL query string.
func hasCredentials(q url.Values) bool {
	return q.Has("username") || q.Has("password") || q.Has("client_secret")
}

// checkTokenRequest enforces generateToken's and oauth2/token's transport
// rules: no credentials in the URL, and POST only.
func (c *call) checkTokenRequest() bool {
	detail := ""
	switch {
	case hasCredentials(c.query):
		detail = detailQueryCredentials
	case c.r.Method != http.MethodPost:
		detail = detailPostOnly
	default:
		return true
	}
	c.w.Header().Set("Allow", http.MethodPost)
	c.fail(methodNotSupported(detail))
	return false
}

// checkPostOnly refuses anything but POST on an operation that changes
// something (item update).
func (c *call) checkPostOnly() bool {
	if c.r.Method == http.MethodPost {
		return true
	}
	c.w.Header().Set("Allow", http.MethodPost)
	c.fail(methodNotSupported(detailOperationPostOnly))
	return false
}

// checkResourceRequest allows GET and POST on resources.
func (c *call) checkResourceRequest() bool {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodPost {
		c.w.Header().Set("Allow", "GET, POST")
		c.fail(methodNotSupported(detailGetOrPost))
		return false
	}
	return true
}

// notFound answers paths no endpoint serves the way a web server in front of
// ArcGIS does: a real 404 with an HTML page.
func notFound(c *call) {
	c.outcome = OutcomeNotFound
	c.writeRaw(http.StatusNotFound, "text/html; charset=utf-8",
		"<html><body><h1>404 Not Found</h1></body></html>\n")
}
