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
	"strings"
	"testing"
)

// Answers only a broken or hostile portal gives, which the simulator does
// not: they must be errors, never a key stored under the wrong slot.
func TestAPIKeyOddAnswers(t *testing.T) {
	t.Parallel()
	const secret = "Odd-Cl1ent-S3cret-Value"
	for name, tc := range map[string]struct {
		path, body string
		call       func(c *Client, f *fakeService) error
		want       Reason
		contains   string
	}{
		"key for the other slot": {
			path: "/sharing/rest/oauth2/token", body: `{"access_token":"AAPTxxxxxxxxxxxxxxxx1ABCDEFGHI","expires_in":3600}`,
			call: func(c *Client, f *fakeService) error {
				_, err := c.RegenerateAPIKey(testContext(t), APIKeySlotRequest{URL: f.url(""), Client: Credentials{ClientID: "c", ClientSecret: secret}, Slot: 2, Regenerate: true})
				return err
			},
			want: ReasonInvalidResponse, contains: "slot 1, not slot 2",
		},
		"key without a slot digit": {
			path: "/sharing/rest/oauth2/token", body: `{"access_token":"AAPTxxxxxxxxxxxxxxxxxxxxxxxxxxx","expires_in":3600}`,
			call: func(c *Client, f *fakeService) error {
				_, err := c.RegenerateAPIKey(testContext(t), APIKeySlotRequest{URL: f.url(""), Client: Credentials{ClientID: "c", ClientSecret: secret}, Slot: 1, Regenerate: true})
				return err
			},
			want: ReasonInvalidResponse, contains: "slot 0, not slot 1",
		},
		"app without slot flags": {
			path: "/sharing/rest/content/users/alice/items/i1/registeredAppInfo", body: `{"client_id":"c","client_secret":"` + secret + `","appType":"apikey"}`,
			call: func(c *Client, f *fakeService) error {
				_, err := c.RegisteredApp(testContext(t), APIKeyItemRequest{URL: f.url(""), Owner: "alice", ItemID: "i1", OwnerToken: "owner-tok"})
				return err
			},
			want: ReasonInvalidResponse, contains: "apiToken1Active",
		},
		"date in seconds": {
			path: "/sharing/rest/content/items/i1", body: `{"type":"API Key","apiToken1ExpirationDate":-1,"apiToken2ExpirationDate":"1768485600000000"}`,
			call: func(c *Client, f *fakeService) error {
				_, err := c.GetAPIKeyItem(testContext(t), APIKeyItemRequest{URL: f.url(""), Owner: "alice", ItemID: "i1", OwnerToken: "owner-tok"})
				return err
			},
			want: ReasonInvalidResponse, contains: "apiToken2ExpirationDate",
		},
		"update not a success": {
			path: "/sharing/rest/content/users/alice/items/i1/update", body: `{"success":false}`,
			call: func(c *Client, f *fakeService) error {
				return c.SetAPIKeyExpiration(testContext(t), APIKeyItemRequest{URL: f.url(""), Owner: "alice", ItemID: "i1", OwnerToken: "owner-tok"}, 1, testExpires)
			},
			want: ReasonInvalidResponse, contains: "success false",
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeService(t)
			f.respond(tc.path, 200, tc.body)
			err := tc.call(f.newTestClient(Options{}), f)
			e := mustError(t, err)
			if e.Reason != tc.want || !strings.Contains(e.Message, tc.contains) {
				t.Errorf("%v, want %s containing %q", err, tc.want, tc.contains)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "owner-tok") {
				t.Errorf("the error quotes a secret: %v", err)
			}
			for _, r := range f.all() {
				if r.Method != "POST" || r.RawQuery != "" {
					t.Errorf("%s %s?%s: want a POST without a query", r.Method, r.Path, r.RawQuery)
				}
			}
		})
	}
}
