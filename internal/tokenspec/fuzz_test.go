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

package tokenspec_test

import (
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
	"github.com/tokenoperator/arcgis-token-operator/internal/tokenspec"
)

// samples reads the example ArcGISTokens shipped in config/samples.
func samples(tb testing.TB) []arcgisv1alpha1.ArcGISToken {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "arcgis_v1alpha1_*.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatal("no samples found in config/samples")
	}
	out := make([]arcgisv1alpha1.ArcGISToken, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var tok arcgisv1alpha1.ArcGISToken
		if err := yaml.UnmarshalStrict(b, &tok); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		out = append(out, tok)
	}
	return out
}

// TestSamplesMakeRequests checks that every sample in config/samples turns
// into a request (with the defaults the API server would apply).
func TestSamplesMakeRequests(t *testing.T) {
	t.Parallel()
	all := samples(t)
	types := map[arcgisv1alpha1.ServiceType]bool{}
	for _, tok := range all {
		types[tok.Spec.Type] = true
		spec := tok.Spec
		if spec.Type != arcgisv1alpha1.ServiceTypeOAuth && spec.Client == "" {
			spec.Client = arcgisv1alpha1.ClientBindingReferer
		}
		idKey, secretKey := tokenspec.CredentialKeys(&spec)
		creds, err := tokenspec.Credentials(&spec, map[string][]byte{idKey: []byte("id"), secretKey: []byte(testPassword + "\n")})
		if err != nil {
			t.Errorf("%s: credentials: %v", tok.Name, err)
			continue
		}
		req, err := tokenspec.TokenRequest(&spec, creds, nil)
		if err != nil {
			t.Errorf("%s: %v", tok.Name, err)
			continue
		}
		wantMinutes := int(spec.ExpirationMinutes)
		if spec.Type == arcgisv1alpha1.ServiceTypeAPIKey {
			wantMinutes = 30 // the item owner's login, not a key
		}
		if req.URL != strings.TrimRight(spec.URL, "/") || req.ExpirationMinutes != wantMinutes {
			t.Errorf("%s: request URL %q, expiration %d", tok.Name, req.URL, req.ExpirationMinutes)
		}
	}
	if len(types) != 6 {
		t.Errorf("samples cover types %v, want all six", types)
	}
}

// FuzzTokenRequest translates arbitrary specs and credentials into requests.
// It must never panic; an accepted request has https:// URLs without query,
// fragment or user information and a sane binding and lifetime; and no error
// text depends on, or contains, the secret fed in.
//
//	go test ./internal/tokenspec/ -run '^$' -fuzz FuzzTokenRequest -fuzztime 60s
func FuzzTokenRequest(f *testing.F) {
	for _, tok := range samples(f) {
		s := tok.Spec
		f.Add(string(s.Type), s.URL, s.ServerURL, string(s.Client), s.Referer, s.IP, s.ExpirationMinutes,
			[]byte("gisadmin"), []byte(testPassword+"\n"))
	}
	f.Add("Portal", "http://gis.example.com/portal", "", "", "r", "", int32(0), []byte("u"), []byte("p"))
	f.Add("Portal", "https://u:"+testPassword+"@gis.example.com/portal", "", "", "r", "", int32(60), []byte("u"), []byte(testPassword))
	f.Add("Federated", "https://gis.example.com/portal/", "https://gis.example.com/server?x", "IP", "", "::1", int32(20160), []byte("u"), []byte("\r\n"))
	f.Add("Server", "https://gis.example.com/server#x", "", "RequestIP", "", "", int32(-1), []byte(""), []byte("pw"))
	f.Add("OAuth", "https://www.arcgis.com/", "", "Bogus", "a\nb", "x", int32(20161), []byte("app"), []byte(testClientSecret))
	f.Add("ServerAdmin", "https://gis.example.com/server", "", "Referer", "https://apps.example.com\r\n", "", int32(30), []byte("u"), []byte("p\n"))

	f.Fuzz(func(t *testing.T, typ, rawURL, serverURL, client, referer, ip string, expiration int32, id, secret []byte) {
		spec := arcgisv1alpha1.ArcGISTokenSpec{
			Type:              arcgisv1alpha1.ServiceType(typ),
			URL:               rawURL,
			ServerURL:         serverURL,
			CredentialsRef:    arcgisv1alpha1.CredentialsReference{Name: "creds"},
			Client:            arcgisv1alpha1.ClientBinding(client),
			Referer:           referer,
			IP:                ip,
			ExpirationMinutes: expiration,
		}
		secretValue := strings.TrimRight(string(secret), "\r\n")
		// sentinel has the same emptiness as secret; any error text must be
		// the same with either.
		sentinel := secret
		if secretValue != "" {
			sentinel = []byte("fuzz-sentinel-value")
		}

		creds, credErr := credentialsFor(&spec, id, secret)
		_, sentinelCredErr := credentialsFor(&spec, id, sentinel)
		checkNoSecret(t, "Credentials", credErr, sentinelCredErr, secretValue)
		if credErr != nil {
			var ie *tokenspec.InputError
			if !errors.As(credErr, &ie) || ie.Reason != arcgisv1alpha1.ReasonCredentialsNotFound {
				t.Fatalf("Credentials error %q is not CredentialsNotFound", credErr)
			}
			// Keep translating the spec: the checks below do not depend on it.
			creds = arcgis.Credentials{Username: string(id), Password: string(secret), ClientID: string(id), ClientSecret: string(secret)}
		}

		req, err := tokenspec.TokenRequest(&spec, creds, nil)
		sentinelCreds := creds
		sentinelCreds.Password, sentinelCreds.ClientSecret = "fuzz-sentinel-value", "fuzz-sentinel-value"
		_, sentinelErr := tokenspec.TokenRequest(&spec, sentinelCreds, nil)
		checkNoSecret(t, "TokenRequest", err, sentinelErr, secretValue)

		// These must not panic whatever the spec.
		_ = tokenspec.SpecFingerprint(&spec)
		_ = tokenspec.AccountKey(&spec, creds)
		_ = tokenspec.ServiceURL(&spec)
		_ = tokenspec.ValidateRequest(&spec, "tok", nil)

		if err != nil {
			var ie *tokenspec.InputError
			if !errors.As(err, &ie) || ie.Reason != arcgisv1alpha1.ReasonInvalidSpec {
				t.Fatalf("TokenRequest error %q is not InvalidSpec", err)
			}
			return
		}

		if string(req.Type) != typ {
			t.Errorf("type %q became %q", typ, req.Type)
		}
		checkAcceptedURL(t, "url", req.URL)
		if spec.Type == arcgisv1alpha1.ServiceTypeFederated {
			checkAcceptedURL(t, "serverURL", req.ServerURL)
		} else if req.ServerURL != "" {
			t.Errorf("type %s got serverURL %q", typ, req.ServerURL)
		}
		if req.ExpirationMinutes < 1 || req.ExpirationMinutes > 20160 {
			t.Errorf("expiration %d accepted as %d", expiration, req.ExpirationMinutes)
		}
		if req.Credentials != creds {
			t.Errorf("credentials not passed through")
		}
		b := req.Binding
		switch {
		case spec.Type == arcgisv1alpha1.ServiceTypeOAuth:
			if b != (arcgis.Binding{}) {
				t.Errorf("OAuth request bound: %+v", b)
			}
		case b.Client == arcgis.ClientReferer:
			if b.Referer == "" || strings.ContainsAny(b.Referer, "\r\n") {
				t.Errorf("referer %q accepted", b.Referer)
			}
		case b.Client == arcgis.ClientIP:
			if net.ParseIP(b.IP) == nil {
				t.Errorf("ip %q accepted", b.IP)
			}
		case b.Client == arcgis.ClientRequestIP:
		default:
			t.Errorf("binding %+v accepted", b)
		}
	})
}

func credentialsFor(spec *arcgisv1alpha1.ArcGISTokenSpec, id, secret []byte) (arcgis.Credentials, error) {
	idKey, secretKey := tokenspec.CredentialKeys(spec)
	return tokenspec.Credentials(spec, map[string][]byte{idKey: id, secretKey: secret})
}

// checkNoSecret fails when an error's text depends on the secret's value or
// contains it where the same call with a sentinel secret does not.
func checkNoSecret(t *testing.T, what string, err, sentinelErr error, secret string) {
	t.Helper()
	if (err == nil) != (sentinelErr == nil) {
		t.Fatalf("%s: whether it fails depends on the secret's value", what)
	}
	if err == nil || secret == "" {
		return
	}
	if err.Error() != sentinelErr.Error() {
		t.Fatalf("%s: the error text depends on the secret's value", what)
	}
	if strings.Contains(err.Error(), secret) && !strings.Contains(sentinelErr.Error(), secret) {
		t.Fatalf("%s: the error text contains the secret", what)
	}
}

// checkAcceptedURL checks a URL TokenRequest accepted.
func checkAcceptedURL(t *testing.T, field, raw string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s %q accepted but does not parse: %v", field, raw, err)
	}
	if !strings.EqualFold(u.Scheme, "https") || u.Hostname() == "" || u.Opaque != "" {
		t.Errorf("%s %q accepted: not an absolute https:// URL", field, raw)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(raw, "?#") {
		t.Errorf("%s %q accepted with a query or fragment", field, raw)
	}
	if u.User != nil {
		t.Errorf("%s %q accepted with user information", field, raw)
	}
	if strings.HasSuffix(raw, "/") {
		t.Errorf("%s %q keeps a trailing slash", field, raw)
	}
}
