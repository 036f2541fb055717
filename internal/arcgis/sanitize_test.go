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
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestSanitize(t *testing.T) {
	t.Parallel()
	sec := newSecrets("hunter2-Secret", "ab", `q"uote/slash&amp=ü`)
	tests := map[string]struct {
		in        string
		want      string   // exact, when set
		contains  []string // substrings that must stay
		forbidden []string // substrings that must go
	}{
		"plain text is kept": {
			in: "Unable to generate token. Invalid username or password.", want: "Unable to generate token. Invalid username or password.",
		},
		"exact secret": {
			in: "bad password hunter2-Secret given", want: "bad password [REDACTED] given",
		},
		"form-encoded secret": {
			in: "got " + url.QueryEscape(`q"uote/slash&amp=ü`), forbidden: []string{url.QueryEscape(`q"uote/slash&amp=ü`)},
		},
		"JSON-escaped secret": {
			in: `got "q\"uote/slash&amp=ü"`, forbidden: []string{`q\"uote`},
		},
		"short secret only as a word": {
			in: "about ab and (ab)", want: "about [REDACTED] and ([REDACTED])",
		},
		"token= value": {
			in: "request token=abc.def-GHI.. was refused", want: "request token=[REDACTED] was refused",
		},
		"password and client_secret values": {
			in:        "username=u&password=p4ss&client_secret=s3cr3t&f=json",
			forbidden: []string{"p4ss", "s3cr3t"}, contains: []string{"username=u", "f=json"},
		},
		"access_token in JSON": {
			in: `{"access_token":"xyz987","expires_in":7200}`, forbidden: []string{"xyz987"}, contains: []string{"expires_in"},
		},
		"Bearer credentials": {
			in: "Authorization: Bearer abc.DEF.123", forbidden: []string{"abc.DEF.123"},
		},
		"X-Esri-Authorization header": {
			in: "X-Esri-Authorization: Bearer tok-123", forbidden: []string{"tok-123"},
		},
		"URL query and user info": {
			in:        "see https://user:pw@gis.example.com/portal/sharing/rest/generateToken?username=u&password=p&f=json#frag.",
			want:      "see https://[REDACTED]@gis.example.com/portal/sharing/rest/generateToken?[REDACTED].",
			forbidden: []string{"pw@", "password=p", "frag"},
		},
		"URL without query is kept": {
			in: "at https://gis.example.com/server/rest/info, please", want: "at https://gis.example.com/server/rest/info, please",
		},
		"opaque token-looking run": {
			in:        "token p4a6kDFu7V6rD8gA0RLmIIAbn4DyeQCl7L7zSpIaSgGihDo1EUDM.. expired",
			forbidden: []string{"p4a6kDFu7V6rD8gA0RLmIIAbn4DyeQCl7L7zSpIaSgGihDo1EUDM"},
		},
		"host names and UUIDs are not tokens": {
			in:   "host machine-01.internal.corp.example.com item 0123abcd-4567-89ef-0123-456789abcdef",
			want: "host machine-01.internal.corp.example.com item 0123abcd-4567-89ef-0123-456789abcdef",
		},
		"control characters and line breaks": {
			in: "line1\r\nline2\x00\x1b[31m", want: "line1 line2 [31m",
		},
		"invalid UTF-8": {
			in: "bad \xff byte", want: "bad \uFFFD byte",
		},
		"long text is cut": {
			in: strings.Repeat("é", 400), contains: []string{"…"},
		},
		"a secret at the cut is removed before cutting": {
			in: strings.Repeat("x ", 145) + "hunter2-Secret", forbidden: []string{"hunter2", "hunter"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := sanitize(tc.in, sec)
			if tc.want != "" && got != tc.want {
				t.Errorf("sanitize(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			for _, s := range tc.contains {
				if !strings.Contains(got, s) {
					t.Errorf("sanitize(%q) = %q lost %q", tc.in, got, s)
				}
			}
			for _, s := range tc.forbidden {
				if strings.Contains(got, s) {
					t.Errorf("sanitize(%q) = %q still holds %q", tc.in, got, s)
				}
			}
			if len(got) > maxMessageLen {
				t.Errorf("%d bytes, more than %d", len(got), maxMessageLen)
			}
			if again := sanitize(got, sec); again != got {
				t.Errorf("not idempotent: %q then %q", got, again)
			}
		})
	}
}

// TestCutInput: a huge text is cut before it is sanitised, and the cut must
// not leave the start of a secret that no pattern would then recognise.
func TestCutInput(t *testing.T) {
	t.Parallel()
	secretList := newSecrets("hunter2-Secret", "pass phrase!").list()
	tests := map[string]struct {
		in        string
		forbidden string
	}{
		"cut inside a word":                   {strings.Repeat("y", maxSanitizeInput-4) + " hunter2-Secret", "hun"},
		"cut inside a secret after its space": {strings.Repeat("y", maxSanitizeInput-8) + " pass phrase!", "pass"},
		"cut inside a key=value pair":         {strings.Repeat("y ", maxSanitizeInput/2-2) + "token=abcdef", "token"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := cutInput(tc.in, secretList)
			if len(got) > maxSanitizeInput+len(" …") {
				t.Errorf("%d bytes left", len(got))
			}
			if strings.Contains(got, tc.forbidden) {
				t.Errorf("cut text ends in %q", got[max(0, len(got)-20):])
			}
		})
	}
	if got := cutInput(strings.Repeat("z", 2*maxSanitizeInput), secretList); got != "" {
		t.Errorf("one huge word: %d bytes left, want none", len(got))
	}
}

// Distinctive secrets for TestNoSecretInErrors. The password holds
// characters that form and JSON encoding change.
const (
	secretPassword     = `Pa55"w0rd/Secret&=ü!`
	secretClientSecret = "cl1entS3cretValue-987"
	secretPortalToken  = "PortalTok3n-AbCdEfGh.."
	secretServerToken  = "ServerTok3n-IjKlMnOp.."
	secretStoredToken  = "St0redTok3n_QrStUvWx.."
)

var allSecrets = []string{secretPassword, secretClientSecret, secretPortalToken, secretServerToken, secretStoredToken}

// assertNoSecret fails when text holds any secret, raw or encoded.
func assertNoSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range allSecrets {
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s), jsonEscape(s, true), jsonEscape(s, false), html.EscapeString(s)} {
			if strings.Contains(text, form) {
				t.Errorf("%s holds the secret %q (as %q): %s", what, s, form, text)
			}
		}
	}
}

// echoBody makes a recorded answer repeat what the service received, the way
// careless services and proxies do: the raw request body and the URL with the
// body as its query, inside every string of a JSON body, and in the title and
// text of anything else.
func echoBody(body string, r *http.Request, received string) string {
	echo := fmt.Sprintf(" received %s from https://%s%s?%s token=%s", received, r.Host, r.URL.Path, received, r.PostFormValue("token"))
	var doc any
	if err := json.Unmarshal([]byte(body), &doc); err == nil {
		out, _ := json.Marshal(appendToStrings(doc, echo))
		return string(out)
	}
	if strings.TrimSpace(body) == "" {
		return body
	}
	return "<html><head><title>Error" + html.EscapeString(echo) + "</title></head><body>" + body + echo + "</body></html>"
}

func appendToStrings(v any, suffix string) any {
	switch v := v.(type) {
	case string:
		return v + suffix
	case []any:
		for i := range v {
			v[i] = appendToStrings(v[i], suffix)
		}
		return v
	case map[string]any:
		for k := range v {
			if k != "status" { // the admin envelope's marker must stay "error"
				v[k] = appendToStrings(v[k], suffix)
			}
		}
		return v
	}
	return v
}

// TestNoSecretInErrors runs every error row of the table, for every kind of
// request, against a service that echoes the request's password, client
// secret and tokens back, and checks that no error text holds any of them.
func TestNoSecretInErrors(t *testing.T) {
	t.Parallel()
	kinds := map[string]func(c *Client, f *fakeService) error{
		"Portal": func(c *Client, f *fakeService) error {
			_, err := c.IssueToken(testContext(t), TokenRequest{Type: Portal, URL: f.url("/portal"),
				Credentials: Credentials{Username: "u", Password: secretPassword},
				Binding:     Binding{Client: ClientReferer, Referer: testReferer}})
			return err
		},
		"ServerAdmin": func(c *Client, f *fakeService) error {
			_, err := c.IssueToken(testContext(t), TokenRequest{Type: ServerAdmin, URL: f.url("/arcgis"),
				Credentials: Credentials{Username: "u", Password: secretPassword}})
			return err
		},
		"OAuth": func(c *Client, f *fakeService) error {
			_, err := c.IssueToken(testContext(t), TokenRequest{Type: OAuth, URL: f.url("/portal"),
				Credentials: Credentials{ClientID: "id", ClientSecret: secretClientSecret}})
			return err
		},
		"Federated exchange": func(c *Client, f *fakeService) error {
			_, err := c.IssueToken(testContext(t), TokenRequest{Type: Federated, URL: f.url("/portal"), ServerURL: f.url("/server"),
				Credentials: Credentials{Username: "u", Password: secretPassword}})
			return err
		},
		"Validate": func(c *Client, f *fakeService) error {
			_, err := c.ValidateToken(testContext(t), ValidateRequest{Type: Portal, URL: f.url("/portal"), Token: secretStoredToken})
			return err
		},
	}
	for name, tc := range tokenReplyCases() {
		if tc.want != nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeService(t)
			answer := func(w http.ResponseWriter, r *http.Request) {
				raw, _ := io.ReadAll(r.Body)
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, echoBody(tc.body, r, string(raw)))
			}
			f.handle("/portal/sharing/rest/generateToken", func(w http.ResponseWriter, r *http.Request) {
				if r.PostFormValue("token") == "" && isFederatedLogin(r) {
					jsonHandler(200, portalTokenBody(secretPortalToken))(w, r)
					return
				}
				answer(w, r)
			})
			f.handle("/arcgis/admin/generateToken", answer)
			f.handle("/portal/sharing/rest/oauth2/token", answer)
			f.handle("/portal/sharing/rest/portals/self", answer)
			for kind, run := range kinds {
				c := f.newTestClient(Options{})
				err := run(c, f)
				if err == nil {
					if kind == "Validate" {
						continue // a JSON object without an error is a valid token there
					}
					t.Fatalf("%s: no error", kind)
				}
				e := mustError(t, err)
				assertNoSecret(t, kind+" Error()", e.Error())
				assertNoSecret(t, kind+" Message", e.Message)
				assertNoSecret(t, kind+" %+v", fmt.Sprintf("%+v", e))
			}
		})
	}
}

// isFederatedLogin tells the federated kind's portal login, which succeeds
// so that the exchange's answer is the one tested, from the Portal kind's
// login, which is referer-bound.
func isFederatedLogin(r *http.Request) bool { return r.PostFormValue("client") == "" }

// TestNoSecretInLocalErrors covers errors made without an answer: refused
// requests quoting a URL, and network failures.
func TestNoSecretInLocalErrors(t *testing.T) {
	t.Parallel()
	f := newFakeService(t)
	c := f.newTestClient(Options{})
	ctx := testContext(t)
	creds := Credentials{Username: "u", Password: secretPassword, ClientID: "id", ClientSecret: secretClientSecret}
	closed := newFakeService(t)
	closedURL := closed.url("")
	closed.srv.Close()
	reqs := map[string]TokenRequest{
		"token in the URL query":     {Type: Portal, URL: f.url("/portal?token=" + url.QueryEscape(secretPortalToken)), Credentials: creds},
		"password in the user info":  {Type: Portal, URL: "https://u:" + url.PathEscape(secretPassword) + "@" + f.host(), Credentials: creds},
		"token in an http:// URL":    {Type: Portal, URL: "http://" + f.host() + "/?token=" + secretPortalToken, Credentials: creds},
		"unparsable URL with token":  {Type: Portal, URL: "https://" + f.host() + "/%zz?token=" + secretPortalToken, Credentials: creds},
		"secret as the service type": {Type: ServiceType(secretClientSecret), URL: f.url(""), Credentials: creds},
		"secret as a binding":        {Type: Portal, URL: f.url(""), Credentials: creds, Binding: Binding{Client: ClientType(secretPassword)}},
		"connection refused":         {Type: OAuth, URL: closedURL, Credentials: creds},
		"TLS failure":                {Type: Portal, URL: f.url(""), Credentials: creds, CABundle: unrelatedRootPEM(t)},
	}
	for name, req := range reqs {
		_, err := c.IssueToken(ctx, req)
		e := mustError(t, err)
		assertNoSecret(t, name, e.Error())
	}
	_, err := c.ValidateToken(ctx, ValidateRequest{Type: Portal, URL: closedURL, Token: secretStoredToken})
	assertNoSecret(t, "validate connection refused", mustError(t, err).Error())
}
