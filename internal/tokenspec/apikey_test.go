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

package tokenspec

import (
	"testing"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
)

func apiKeySpec() arcgisv1alpha1.ArcGISTokenSpec {
	return arcgisv1alpha1.ArcGISTokenSpec{
		Type: arcgisv1alpha1.ServiceTypeAPIKey, URL: "https://www.arcgis.com/",
		CredentialsRef: arcgisv1alpha1.CredentialsReference{Name: "owner"},
		Client:         arcgisv1alpha1.ClientBindingReferer, // the CRD default, meaningless here
		APIKey:         &arcgisv1alpha1.APIKeySpec{ItemID: "0123456789abcdef0123456789abcdef"},
	}
}

// The owner's login of an APIKey token is an ordinary portal login, so the
// account guard and the lock-out counter treat it like any other.
func TestAPIKeyOwnerLogin(t *testing.T) {
	creds := arcgis.Credentials{Username: "owner", Password: "pw"}
	for name, tc := range map[string]struct {
		referer, wantReferer string
		wantProbe            arcgis.Binding
	}{
		"no referer":   {"", "https://www.arcgis.com", arcgis.Binding{}},
		"with referer": {"https://maps.example.com", "https://maps.example.com", arcgis.Binding{Client: arcgis.ClientReferer, Referer: "https://maps.example.com"}},
	} {
		t.Run(name, func(t *testing.T) {
			spec := apiKeySpec()
			spec.Referer = tc.referer
			req, err := TokenRequest(&spec, creds, nil)
			if err != nil {
				t.Fatal(err)
			}
			if req.Type != arcgis.Portal || req.URL != "https://www.arcgis.com" || req.Credentials != creds ||
				req.Binding != (arcgis.Binding{Client: arcgis.ClientReferer, Referer: tc.wantReferer}) || req.ExpirationMinutes != ownerLoginMinutes {
				t.Errorf("owner login = %+v", req)
			}
			if v := ValidateRequest(&spec, "key", nil); v.Type != arcgis.APIKey || v.Binding != tc.wantProbe {
				t.Errorf("probe = %+v", v)
			}
			if got, want := AccountKey(&spec, creds), "portal https://www.arcgis.com owner"; got != want {
				t.Errorf("AccountKey = %q, want %q (the owner's portal account)", got, want)
			}
		})
	}
}

func TestAPIKeySpecChecks(t *testing.T) {
	creds := arcgis.Credentials{Username: "owner", Password: "pw"}
	for name, mutate := range map[string]func(*arcgisv1alpha1.ArcGISTokenSpec){
		"no apiKey":        func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.APIKey = nil },
		"bad item ID":      func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.APIKey.ItemID = "../users/x" },
		"two-line referer": func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Referer = "a\nb" },
		"apiKey on Portal": func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Type, s.Referer = arcgisv1alpha1.ServiceTypePortal, "x" },
	} {
		t.Run(name, func(t *testing.T) {
			spec := apiKeySpec()
			mutate(&spec)
			if _, err := TokenRequest(&spec, creds, nil); err == nil {
				t.Error("accepted")
			}
		})
	}
}
