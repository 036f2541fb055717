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
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	creds := Credentials{Username: "Admin", Password: secretPassword, ClientID: "app-id", ClientSecret: secretClientSecret}
	req := TokenRequest{Type: Portal, URL: "https://gis.example.com/portal", Credentials: creds}
	tok := Token{Token: secretServerToken, Expires: testExpires, SSL: true, ServiceURL: "https://gis.example.com/server"}
	vreq := ValidateRequest{Type: Server, URL: "https://gis.example.com/server", Token: secretStoredToken}
	values := map[string]struct {
		v    any
		keep []string // what must still show
	}{
		"Credentials":      {creds, []string{"Admin", "app-id", redacted}},
		"*Credentials":     {&creds, []string{"Admin", "app-id"}},
		"TokenRequest":     {req, []string{"Admin", "gis.example.com"}},
		"*TokenRequest":    {&req, []string{"Admin"}},
		"Token":            {tok, []string{"gis.example.com/server", "2026"}},
		"*Token":           {&tok, []string{"gis.example.com/server"}},
		"ValidateRequest":  {vreq, []string{"gis.example.com/server"}},
		"*ValidateRequest": {&vreq, []string{"gis.example.com/server"}},
		"nested in a map":  {map[string]any{"creds": creds, "token": tok}, []string{"Admin"}},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"}
	for name, tc := range values {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, verb := range verbs {
				out := fmt.Sprintf(verb, tc.v)
				assertNoSecret(t, name+" "+verb, out)
				if verb == "%v" || verb == "%+v" || verb == "%#v" {
					for _, k := range tc.keep {
						if !strings.Contains(out, k) {
							t.Errorf("%s %s = %s lost %q", name, verb, out, k)
						}
					}
				}
			}
			if s, ok := tc.v.(fmt.Stringer); ok {
				assertNoSecret(t, name+" String()", s.String())
			}
			if s, ok := tc.v.(fmt.GoStringer); ok {
				assertNoSecret(t, name+" GoString()", s.GoString())
			}
		})
	}

	t.Run("JSON, as structured loggers encode", func(t *testing.T) {
		t.Parallel()
		out, err := json.Marshal(map[string]any{"request": req, "token": tok, "validate": vreq, "ptr": &tok})
		if err != nil {
			t.Fatal(err)
		}
		assertNoSecret(t, "json", string(out))
		if !strings.Contains(string(out), "Admin") {
			t.Errorf("json %s lost the username", out)
		}
	})
	t.Run("slog", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
			slog.New(h).Info("issuing", "creds", creds, "request", req, "token", tok)
		}
		assertNoSecret(t, "slog", buf.String())
	})
	t.Run("unset secrets show as empty", func(t *testing.T) {
		t.Parallel()
		if s := (Credentials{Username: "u"}).String(); strings.Contains(s, redacted) {
			t.Errorf("%s: an unset password must not look set", s)
		}
	})
}
