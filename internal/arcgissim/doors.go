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
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Loopback host names the serving certificate covers, so each is a door to
// the same simulator: like an organisation's URL and www.arcgis.com, or a
// web adaptor and the portal's own port.
const (
	HostIP        = "127.0.0.1"
	HostLocalhost = "localhost"
)

// validateAliases checks Config.PortalAliases: absolute paths of whole
// segments, without a trailing slash, that do not shadow the simulator's own
// roots or each other.
func validateAliases(aliases []string) error {
	seen := map[string]bool{}
	for _, a := range aliases {
		la := strings.ToLower(a)
		switch {
		case !strings.HasPrefix(a, "/") || strings.HasSuffix(a, "/") || strings.Contains(a, "//"):
			return fmt.Errorf("arcgissim: portal alias %q: want a path like /arcgis, without a trailing slash", a)
		case strings.ContainsAny(a, "?#% "):
			return fmt.Errorf("arcgissim: portal alias %q: only plain path segments are allowed", a)
		case la == "/portal" || la == "/server" || strings.HasPrefix(la, "/portal/") || strings.HasPrefix(la, "/server/") ||
			strings.HasPrefix(la+"/", controlPrefix):
			return fmt.Errorf("arcgissim: portal alias %q shadows the simulator's own paths", a)
		case seen[la]:
			return fmt.Errorf("arcgissim: portal alias %q given twice", a)
		}
		for other := range seen {
			if strings.HasPrefix(la, other+"/") || strings.HasPrefix(other, la+"/") {
				return fmt.Errorf("arcgissim: portal aliases %q and %q overlap", a, other)
			}
		}
		seen[la] = true
	}
	return nil
}

// throughDoor maps a request to the simulator's own path space: a portal
// alias becomes /portal. It also names the door the request came through,
// host and context path, e.g. "localhost/arcgis", for Counters.RequestsByDoor.
func (s *Simulator) throughDoor(r *http.Request) (path, door string) {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		host = strings.ToLower(h)
	}
	host = strings.Trim(host, "[]")
	path = r.URL.Path
	lp := strings.ToLower(path)
	for _, a := range s.cfg.PortalAliases {
		la := strings.ToLower(a)
		if lp == la || strings.HasPrefix(lp, la+"/") {
			return portalPath + path[len(a):], host + a
		}
	}
	for _, root := range []string{portalPath, serverPath} {
		if lp == root || strings.HasPrefix(lp, root+"/") {
			return path, host + root
		}
	}
	return path, host
}

// HostURL returns the listener's root under another loopback host name,
// e.g. HostURL(HostLocalhost) = "https://localhost:41234", or "" before Start.
func (s *Simulator) HostURL(host string) string {
	base := s.URL()
	if base == "" {
		return ""
	}
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return "https://" + net.JoinHostPort(host, u.Port())
}

// PortalURLs returns every door to the one simulated portal: the canonical
// PortalURL() first, then the same portal under "localhost", then each
// Config.PortalAliases under both host names. Every door shares one account
// store, one lock-out state and one token store, and the portal's
// sharing/rest/info names PortalURL() whatever door was used.
func (s *Simulator) PortalURLs() []string {
	if s.URL() == "" {
		return nil
	}
	var out []string
	for _, ctx := range append([]string{portalPath}, s.cfg.PortalAliases...) {
		// The listener's own address (127.0.0.1 or ::1), then localhost.
		for _, base := range []string{s.URL(), s.HostURL(HostLocalhost)} {
			out = append(out, base+ctx)
		}
	}
	return out
}
