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

package arcgis

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// A service whose clock differs from ours grants a lifetime on its own
// clock. The client measures it there (expires minus the answer's Date) and
// returns the earlier of the two clocks' expiries, so that a skew can neither
// stretch a lifetime (a renewal cliff) nor make an expired token look valid.
func TestTokenLifetimeOnServiceClock(t *testing.T) {
	const lifetime = time.Hour
	tests := map[string]struct {
		skew        time.Duration // service clock minus ours
		noDate      bool
		body        func(serviceNow time.Time) string
		wantExpires time.Time
		wantLife    time.Duration
		wantSkew    time.Duration
	}{
		"service 2 s ahead: the lifetime is the hour granted, not 1h0m2s": {
			skew: 2 * time.Second, wantExpires: testNow.Add(lifetime), wantLife: lifetime, wantSkew: 2 * time.Second,
		},
		"service 20 min ahead: the expiry is an hour from our now": {
			skew: 20 * time.Minute, wantExpires: testNow.Add(lifetime), wantLife: lifetime, wantSkew: 20 * time.Minute,
		},
		"service 2 min behind: the service's earlier expiry is kept": {
			skew: -2 * time.Minute, wantExpires: testNow.Add(lifetime - 2*time.Minute), wantLife: lifetime, wantSkew: -2 * time.Minute,
		},
		"service 90 min behind: its expiry is in our past, but the token works for an hour; half of it is trusted": {
			skew: -90 * time.Minute, wantExpires: testNow.Add(lifetime / 2), wantLife: lifetime, wantSkew: -90 * time.Minute,
		},
		"no Date header: our clock": {
			skew: 0, noDate: true, wantExpires: testNow.Add(lifetime), wantLife: lifetime,
		},
		"OAuth expires_in: relative, no skew involved": {
			skew:        5 * time.Minute,
			body:        func(time.Time) string { return `{"access_token":"a","expires_in":3600}` },
			wantExpires: testNow.Add(lifetime), wantLife: lifetime, wantSkew: 5 * time.Minute,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFakeService(t)
			serviceNow := testNow.Add(tc.skew)
			body := fmt.Sprintf(`{"token":"t","expires":%d}`, serviceNow.Add(lifetime).UnixMilli())
			if tc.body != nil {
				body = tc.body(serviceNow)
			}
			f.handle("/sharing/rest/generateToken", func(w http.ResponseWriter, _ *http.Request) {
				if tc.noDate {
					w.Header()["Date"] = nil
				} else {
					w.Header().Set("Date", serviceNow.Format(http.TimeFormat))
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(body))
			})
			f.handle("/sharing/rest/oauth2/token", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Date", serviceNow.Format(http.TimeFormat))
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(body))
			})
			req := TokenRequest{Type: Portal, URL: f.url(""), Credentials: Credentials{Username: testUser, Password: testPassword}}
			if tc.body != nil {
				req = TokenRequest{Type: OAuth, URL: f.url(""), Credentials: Credentials{ClientID: "id", ClientSecret: "secret"}}
			}
			got, err := f.newTestClient(Options{}).IssueToken(testContext(t), req)
			if err != nil {
				t.Fatalf("IssueToken: %v", err)
			}
			if !got.Expires.Equal(tc.wantExpires) || got.Lifetime != tc.wantLife || got.ClockSkew != tc.wantSkew {
				t.Errorf("expires %s lifetime %s skew %s; want %s, %s, %s",
					got.Expires.Format(time.RFC3339), got.Lifetime, got.ClockSkew, tc.wantExpires.Format(time.RFC3339), tc.wantLife, tc.wantSkew)
			}
		})
	}
}
