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
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
	"github.com/tokenoperator/arcgis-token-operator/internal/tokenspec"
)

// Secret values that must never appear in an error.
const (
	testPassword     = "Hunter2-s3cr3t-PASSWORD"
	testClientSecret = "0auth-CLIENT-s3cr3t-value"
)

func portalSpec() arcgisv1alpha1.ArcGISTokenSpec {
	return arcgisv1alpha1.ArcGISTokenSpec{
		Type:              arcgisv1alpha1.ServiceTypePortal,
		URL:               "https://gis.example.com/portal",
		CredentialsRef:    arcgisv1alpha1.CredentialsReference{Name: "portal-credentials"},
		Client:            arcgisv1alpha1.ClientBindingReferer,
		Referer:           "https://apps.example.com",
		ExpirationMinutes: 120,
	}
}

func withType(typ arcgisv1alpha1.ServiceType, url string) arcgisv1alpha1.ArcGISTokenSpec {
	s := portalSpec()
	s.Type, s.URL = typ, url
	switch typ {
	case arcgisv1alpha1.ServiceTypeFederated:
		s.ServerURL = "https://gis.example.com/server"
	case arcgisv1alpha1.ServiceTypeOAuth:
		s.Client, s.Referer = "", ""
	}
	return s
}

func federatedSpec() arcgisv1alpha1.ArcGISTokenSpec {
	return withType(arcgisv1alpha1.ServiceTypeFederated, "https://gis.example.com/portal")
}

func oauthSpec() arcgisv1alpha1.ArcGISTokenSpec {
	return withType(arcgisv1alpha1.ServiceTypeOAuth, "https://www.arcgis.com")
}

func ipSpec() arcgisv1alpha1.ArcGISTokenSpec {
	s := portalSpec()
	s.Client, s.IP, s.Referer = arcgisv1alpha1.ClientBindingIP, "203.0.113.7", ""
	return s
}

// inputError checks that err is an *InputError with the reason, and that
// neither its text nor its message contains any of secrets.
func inputError(t *testing.T, err error, wantReason string, secrets ...string) *tokenspec.InputError {
	t.Helper()
	var ie *tokenspec.InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v (%T) is not an *InputError", err, err)
	}
	if ie.Reason != wantReason {
		t.Errorf("reason = %q, want %q (error %q)", ie.Reason, wantReason, err)
	}
	if err.Error() != ie.Reason+": "+ie.Message {
		t.Errorf("Error() = %q, want reason: message", err.Error())
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains the secret value %q", err, s)
		}
	}
	return ie
}

func TestSecretName(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		name, secretName, want string
	}{
		"defaults to the ArcGISToken's name": {name: "portal-token", want: "portal-token"},
		"explicit":                           {name: "portal-token", secretName: "gis-token", want: "gis-token"},
		"explicit, same as name":             {name: "x", secretName: "x", want: "x"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tok := &arcgisv1alpha1.ArcGISToken{ObjectMeta: metav1.ObjectMeta{Name: tc.name}}
			tok.Spec.SecretName = tc.secretName
			if got := tokenspec.SecretName(tok); got != tc.want {
				t.Errorf("SecretName = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCredentialKeys(t *testing.T) {
	t.Parallel()
	all := arcgisv1alpha1.CredentialsReference{
		Name: "c", UsernameKey: "user", PasswordKey: "pass", ClientIDKey: "app", ClientSecretKey: "app-secret",
	}
	tests := map[string]struct {
		typ                arcgisv1alpha1.ServiceType
		ref                arcgisv1alpha1.CredentialsReference
		wantID, wantSecret string
	}{
		"portal defaults":    {typ: arcgisv1alpha1.ServiceTypePortal, wantID: "username", wantSecret: "password"},
		"server defaults":    {typ: arcgisv1alpha1.ServiceTypeServer, wantID: "username", wantSecret: "password"},
		"admin defaults":     {typ: arcgisv1alpha1.ServiceTypeServerAdmin, wantID: "username", wantSecret: "password"},
		"federated defaults": {typ: arcgisv1alpha1.ServiceTypeFederated, wantID: "username", wantSecret: "password"},
		"OAuth defaults":     {typ: arcgisv1alpha1.ServiceTypeOAuth, wantID: "client_id", wantSecret: "client_secret"},
		"portal overrides":   {typ: arcgisv1alpha1.ServiceTypePortal, ref: all, wantID: "user", wantSecret: "pass"},
		"OAuth overrides":    {typ: arcgisv1alpha1.ServiceTypeOAuth, ref: all, wantID: "app", wantSecret: "app-secret"},
		"username key only":  {typ: arcgisv1alpha1.ServiceTypeServer, ref: arcgisv1alpha1.CredentialsReference{UsernameKey: "u"}, wantID: "u", wantSecret: "password"},
		"password key only":  {typ: arcgisv1alpha1.ServiceTypeServer, ref: arcgisv1alpha1.CredentialsReference{PasswordKey: "p"}, wantID: "username", wantSecret: "p"},
		"client ID key only": {typ: arcgisv1alpha1.ServiceTypeOAuth, ref: arcgisv1alpha1.CredentialsReference{ClientIDKey: "id"}, wantID: "id", wantSecret: "client_secret"},
		"client secret only": {typ: arcgisv1alpha1.ServiceTypeOAuth, ref: arcgisv1alpha1.CredentialsReference{ClientSecretKey: "s"}, wantID: "client_id", wantSecret: "s"},
		"OAuth keys ignored by portal": {
			typ: arcgisv1alpha1.ServiceTypePortal, ref: arcgisv1alpha1.CredentialsReference{ClientIDKey: "app", ClientSecretKey: "app-secret"},
			wantID: "username", wantSecret: "password",
		},
		"user keys ignored by OAuth": {
			typ: arcgisv1alpha1.ServiceTypeOAuth, ref: arcgisv1alpha1.CredentialsReference{UsernameKey: "user", PasswordKey: "pass"},
			wantID: "client_id", wantSecret: "client_secret",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			spec := &arcgisv1alpha1.ArcGISTokenSpec{Type: tc.typ, CredentialsRef: tc.ref}
			id, secret := tokenspec.CredentialKeys(spec)
			if id != tc.wantID || secret != tc.wantSecret {
				t.Errorf("CredentialKeys = (%q, %q), want (%q, %q)", id, secret, tc.wantID, tc.wantSecret)
			}
		})
	}
}

func TestCredentials(t *testing.T) {
	t.Parallel()
	type want struct {
		user, password, clientID, clientSecret string
	}
	tests := map[string]struct {
		spec       arcgisv1alpha1.ArcGISTokenSpec
		data       map[string][]byte
		want       want
		wantReason string   // empty: no error
		wantInErr  []string // the error names these (keys, Secret)
	}{
		"user and password": {
			spec: portalSpec(),
			data: map[string][]byte{"username": []byte("gisadmin"), "password": []byte(testPassword)},
			want: want{user: "gisadmin", password: testPassword},
		},
		"other keys of the Secret are ignored": {
			spec: portalSpec(),
			data: map[string][]byte{"username": []byte("gisadmin"), "password": []byte(testPassword), "client_id": []byte("x"), "note": []byte("y")},
			want: want{user: "gisadmin", password: testPassword},
		},
		"username case is kept": {
			spec: portalSpec(),
			data: map[string][]byte{"username": []byte("GISAdmin"), "password": []byte(testPassword)},
			want: want{user: "GISAdmin", password: testPassword},
		},
		"overridden keys": {
			spec: func() arcgisv1alpha1.ArcGISTokenSpec {
				s := portalSpec()
				s.CredentialsRef.UsernameKey, s.CredentialsRef.PasswordKey = "user", "pass"
				return s
			}(),
			data: map[string][]byte{"user": []byte("gisadmin"), "pass": []byte(testPassword), "username": []byte("wrong"), "password": []byte("wrong")},
			want: want{user: "gisadmin", password: testPassword},
		},
		"OAuth: client ID and secret": {
			spec: oauthSpec(),
			data: map[string][]byte{"client_id": []byte("AbCdEf123"), "client_secret": []byte(testClientSecret)},
			want: want{clientID: "AbCdEf123", clientSecret: testClientSecret},
		},
		"OAuth: overridden keys": {
			spec: func() arcgisv1alpha1.ArcGISTokenSpec {
				s := oauthSpec()
				s.CredentialsRef.ClientIDKey, s.CredentialsRef.ClientSecretKey = "appId", "appSecret"
				return s
			}(),
			data: map[string][]byte{"appId": []byte("AbCdEf123"), "appSecret": []byte(testClientSecret + "\n")},
			want: want{clientID: "AbCdEf123", clientSecret: testClientSecret},
		},
		"OAuth: username and password are not used": {
			spec:       oauthSpec(),
			data:       map[string][]byte{"username": []byte("gisadmin"), "password": []byte(testPassword)},
			wantReason: arcgisv1alpha1.ReasonCredentialsNotFound,
			wantInErr:  []string{`"client_id"`, `"portal-credentials"`},
		},
		"trailing newline dropped": {
			spec: portalSpec(),
			data: map[string][]byte{"username": []byte("gisadmin\n"), "password": []byte(testPassword + "\n")},
			want: want{user: "gisadmin", password: testPassword},
		},
		"trailing CRLF dropped": {
			spec: portalSpec(),
			data: map[string][]byte{"username": []byte("gisadmin\r\n"), "password": []byte(testPassword + "\r\n")},
			want: want{user: "gisadmin", password: testPassword},
		},
		"several trailing newlines dropped": {
			spec: portalSpec(),
			data: map[string][]byte{"username": []byte("gisadmin"), "password": []byte(testPassword + "\n\n\r\n")},
			want: want{user: "gisadmin", password: testPassword},
		},
		"only newlines are trimmed: spaces and tabs are kept": {
			spec: portalSpec(),
			data: map[string][]byte{"username": []byte(" gisadmin "), "password": []byte("\t" + testPassword + " \t")},
			want: want{user: " gisadmin ", password: "\t" + testPassword + " \t"},
		},
		"leading and inner newlines are kept": {
			spec: portalSpec(),
			data: map[string][]byte{"username": []byte("\ngisadmin"), "password": []byte("pass\nword\n")},
			want: want{user: "\ngisadmin", password: "pass\nword"},
		},
		"a space is a password": {
			spec: portalSpec(),
			data: map[string][]byte{"username": []byte("gisadmin"), "password": []byte(" ")},
			want: want{user: "gisadmin", password: " "},
		},
		"missing username key": {
			spec:       portalSpec(),
			data:       map[string][]byte{"password": []byte(testPassword)},
			wantReason: arcgisv1alpha1.ReasonCredentialsNotFound,
			wantInErr:  []string{`"username"`, `"portal-credentials"`},
		},
		"missing password key": {
			spec:       portalSpec(),
			data:       map[string][]byte{"username": []byte("gisadmin")},
			wantReason: arcgisv1alpha1.ReasonCredentialsNotFound,
			wantInErr:  []string{`"password"`, `"portal-credentials"`},
		},
		"missing overridden key": {
			spec: func() arcgisv1alpha1.ArcGISTokenSpec {
				s := portalSpec()
				s.CredentialsRef.PasswordKey = "pass"
				return s
			}(),
			data:       map[string][]byte{"username": []byte("gisadmin"), "password": []byte(testPassword)},
			wantReason: arcgisv1alpha1.ReasonCredentialsNotFound,
			wantInErr:  []string{`"pass"`},
		},
		"no data at all": {
			spec:       portalSpec(),
			wantReason: arcgisv1alpha1.ReasonCredentialsNotFound,
			wantInErr:  []string{`"username"`},
		},
		"empty password": {
			spec:       portalSpec(),
			data:       map[string][]byte{"username": []byte("gisadmin"), "password": {}},
			wantReason: arcgisv1alpha1.ReasonCredentialsNotFound,
			wantInErr:  []string{`"password"`, "empty"},
		},
		"password of newlines only": {
			spec:       portalSpec(),
			data:       map[string][]byte{"username": []byte("gisadmin"), "password": []byte("\r\n\n")},
			wantReason: arcgisv1alpha1.ReasonCredentialsNotFound,
			wantInErr:  []string{`"password"`, "empty"},
		},
		"empty username": {
			spec:       portalSpec(),
			data:       map[string][]byte{"username": []byte("\n"), "password": []byte(testPassword)},
			wantReason: arcgisv1alpha1.ReasonCredentialsNotFound,
			wantInErr:  []string{`"username"`, "empty"},
		},
		"OAuth: empty client secret": {
			spec:       oauthSpec(),
			data:       map[string][]byte{"client_id": []byte("AbCdEf123"), "client_secret": []byte("\n")},
			wantReason: arcgisv1alpha1.ReasonCredentialsNotFound,
			wantInErr:  []string{`"client_secret"`},
		},
		"OAuth: missing client ID": {
			spec:       oauthSpec(),
			data:       map[string][]byte{"client_secret": []byte(testClientSecret)},
			wantReason: arcgisv1alpha1.ReasonCredentialsNotFound,
			wantInErr:  []string{`"client_id"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := tokenspec.Credentials(&tc.spec, tc.data)
			if tc.wantReason != "" {
				if err == nil {
					t.Fatalf("no error, want %s", tc.wantReason)
				}
				secrets := []string{testPassword, testClientSecret}
				for _, v := range tc.data {
					if s := strings.TrimSpace(string(v)); len(s) >= 3 {
						secrets = append(secrets, s)
					}
				}
				_ = inputError(t, err, tc.wantReason, secrets...)
				for _, s := range tc.wantInErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not name %s", err, s)
					}
				}
				if got != (arcgis.Credentials{}) {
					t.Errorf("credentials returned with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			w := arcgis.Credentials{Username: tc.want.user, Password: tc.want.password, ClientID: tc.want.clientID, ClientSecret: tc.want.clientSecret}
			if got.Username != w.Username || got.Password != w.Password || got.ClientID != w.ClientID || got.ClientSecret != w.ClientSecret {
				t.Errorf("Credentials = {%q %q %q %q}, want {%q %q %q %q}",
					got.Username, got.Password, got.ClientID, got.ClientSecret, w.Username, w.Password, w.ClientID, w.ClientSecret)
			}
		})
	}
}

// selfSignedPEM returns a freshly generated self-signed CA certificate as PEM.
func selfSignedPEM(t testing.TB, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestCABundle(t *testing.T) {
	t.Parallel()
	ca1, ca2 := selfSignedPEM(t, "Example Root CA 1"), selfSignedPEM(t, "Example Root CA 2")
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("not really a key")})
	garbage := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("this is not DER")})
	cm := &arcgisv1alpha1.CABundleReference{Name: "gis-ca"}
	secretRef := &arcgisv1alpha1.CABundleReference{Kind: arcgisv1alpha1.CABundleKindSecret, Name: "gis-ca-secret", Key: "bundle.pem"}
	tests := map[string]struct {
		ref        *arcgisv1alpha1.CABundleReference
		value      []byte
		found      bool
		wantErr    string // substring of the message; empty: no error
		wantInErrs []string
	}{
		"one certificate":                 {ref: cm, value: ca1, found: true},
		"two certificates":                {ref: cm, value: append(append([]byte{}, ca1...), ca2...), found: true},
		"text around the certificate":     {ref: cm, value: append(append([]byte("# our root\n"), ca1...), "\ntrailer\n"...), found: true},
		"certificate and another block":   {ref: cm, value: append(append([]byte{}, keyPEM...), ca1...), found: true},
		"from a Secret, custom key":       {ref: secretRef, value: ca2, found: true},
		"missing key, ConfigMap defaults": {ref: cm, found: false, wantErr: "has no key", wantInErrs: []string{"ConfigMap", `"gis-ca"`, `"ca.crt"`}},
		"missing key, Secret":             {ref: secretRef, found: false, wantErr: "has no key", wantInErrs: []string{"Secret", `"gis-ca-secret"`, `"bundle.pem"`}},
		"missing key even with a value":   {ref: cm, value: ca1, found: false, wantErr: "has no key"},
		"empty value":                     {ref: cm, value: nil, found: true, wantErr: "holds no PEM certificate", wantInErrs: []string{`"ca.crt"`, `"gis-ca"`}},
		"no PEM":                          {ref: cm, value: []byte("just some text, no PEM here\n"), found: true, wantErr: "holds no PEM certificate"},
		"DER, not PEM":                    {ref: cm, value: mustDER(t, ca1), found: true, wantErr: "holds no PEM certificate"},
		"a non-certificate block only":    {ref: cm, value: keyPEM, found: true, wantErr: "holds no PEM certificate"},
		"garbage in a CERTIFICATE block":  {ref: secretRef, value: garbage, found: true, wantErr: "cannot be parsed", wantInErrs: []string{"Secret", `"bundle.pem"`}},
		"a good and a bad certificate":    {ref: cm, value: append(append([]byte{}, ca1...), garbage...), found: true, wantErr: "cannot be parsed"},
		"truncated PEM":                   {ref: cm, value: ca1[:len(ca1)/2], found: true, wantErr: "holds no PEM certificate"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := tokenspec.CABundle(tc.ref, tc.value, tc.found)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if !bytes.Equal(got, tc.value) {
					t.Errorf("bundle changed: got %d bytes, want the %d given", len(got), len(tc.value))
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.wantErr)
			}
			_ = inputError(t, err, arcgisv1alpha1.ReasonInvalidSpec)
			for _, s := range append([]string{tc.wantErr}, tc.wantInErrs...) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if got != nil {
				t.Errorf("bundle returned with an error")
			}
		})
	}
}

func mustDER(t *testing.T, p []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(p)
	if b == nil {
		t.Fatal("no PEM")
	}
	return b.Bytes
}

func TestCABundleKindKey(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		ref      arcgisv1alpha1.CABundleReference
		wantKind arcgisv1alpha1.CABundleKind
		wantKey  string
	}{
		"defaults":        {ref: arcgisv1alpha1.CABundleReference{Name: "x"}, wantKind: arcgisv1alpha1.CABundleKindConfigMap, wantKey: "ca.crt"},
		"Secret":          {ref: arcgisv1alpha1.CABundleReference{Name: "x", Kind: arcgisv1alpha1.CABundleKindSecret}, wantKind: arcgisv1alpha1.CABundleKindSecret, wantKey: "ca.crt"},
		"custom key":      {ref: arcgisv1alpha1.CABundleReference{Name: "x", Key: "root.pem"}, wantKind: arcgisv1alpha1.CABundleKindConfigMap, wantKey: "root.pem"},
		"explicit values": {ref: arcgisv1alpha1.CABundleReference{Name: "x", Kind: arcgisv1alpha1.CABundleKindConfigMap, Key: "ca.crt"}, wantKind: arcgisv1alpha1.CABundleKindConfigMap, wantKey: "ca.crt"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			kind, key := tokenspec.CABundleKindKey(&tc.ref)
			if kind != tc.wantKind || key != tc.wantKey {
				t.Errorf("CABundleKindKey = (%q, %q), want (%q, %q)", kind, key, tc.wantKind, tc.wantKey)
			}
		})
	}
}

func TestBinding(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		typ     arcgisv1alpha1.ServiceType
		client  arcgisv1alpha1.ClientBinding
		referer string
		ip      string
		want    arcgis.Binding
	}{
		"referer": {
			typ: arcgisv1alpha1.ServiceTypePortal, client: arcgisv1alpha1.ClientBindingReferer, referer: "https://apps.example.com", ip: "203.0.113.7",
			want: arcgis.Binding{Client: arcgis.ClientReferer, Referer: "https://apps.example.com"},
		},
		"default client is referer": {
			typ: arcgisv1alpha1.ServiceTypeServer, referer: "https://apps.example.com",
			want: arcgis.Binding{Client: arcgis.ClientReferer, Referer: "https://apps.example.com"},
		},
		"ip": {
			typ: arcgisv1alpha1.ServiceTypeServerAdmin, client: arcgisv1alpha1.ClientBindingIP, referer: "https://apps.example.com", ip: "203.0.113.7",
			want: arcgis.Binding{Client: arcgis.ClientIP, IP: "203.0.113.7"},
		},
		"ipv6": {
			typ: arcgisv1alpha1.ServiceTypeFederated, client: arcgisv1alpha1.ClientBindingIP, ip: "2001:db8::7",
			want: arcgis.Binding{Client: arcgis.ClientIP, IP: "2001:db8::7"},
		},
		"request ip": {
			typ: arcgisv1alpha1.ServiceTypePortal, client: arcgisv1alpha1.ClientBindingRequestIP, referer: "https://apps.example.com", ip: "203.0.113.7",
			want: arcgis.Binding{Client: arcgis.ClientRequestIP},
		},
		"OAuth is not bound":                                          {typ: arcgisv1alpha1.ServiceTypeOAuth, client: arcgisv1alpha1.ClientBindingReferer, referer: "https://apps.example.com"},
		"OAuth is not bound, even with IP":                            {typ: arcgisv1alpha1.ServiceTypeOAuth, client: arcgisv1alpha1.ClientBindingIP, ip: "203.0.113.7"},
		"OAuth is not bound, client unset":                            {typ: arcgisv1alpha1.ServiceTypeOAuth},
		"referer kept exactly as written":                             {typ: arcgisv1alpha1.ServiceTypePortal, referer: "@esri/arcgis-rest-js", want: arcgis.Binding{Client: arcgis.ClientReferer, Referer: "@esri/arcgis-rest-js"}},
		"referer binding with no referer":                             {typ: arcgisv1alpha1.ServiceTypePortal, want: arcgis.Binding{Client: arcgis.ClientReferer}},
		"unknown client falls back (spec is checked by TokenRequest)": {typ: arcgisv1alpha1.ServiceTypePortal, client: "Cookie", referer: "r", want: arcgis.Binding{Client: arcgis.ClientReferer, Referer: "r"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			spec := &arcgisv1alpha1.ArcGISTokenSpec{Type: tc.typ, Client: tc.client, Referer: tc.referer, IP: tc.ip}
			if got := tokenspec.Binding(spec); got != tc.want {
				t.Errorf("Binding = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestTokenRequest(t *testing.T) {
	t.Parallel()
	creds := arcgis.Credentials{Username: "gisadmin", Password: testPassword}
	appCreds := arcgis.Credentials{ClientID: "AbCdEf123", ClientSecret: testClientSecret}
	ca := selfSignedPEM(t, "Example Root CA")
	referer := arcgis.Binding{Client: arcgis.ClientReferer, Referer: "https://apps.example.com"}
	mod := func(base arcgisv1alpha1.ArcGISTokenSpec, f func(*arcgisv1alpha1.ArcGISTokenSpec)) arcgisv1alpha1.ArcGISTokenSpec {
		f(&base)
		return base
	}
	tests := map[string]struct {
		spec  arcgisv1alpha1.ArcGISTokenSpec
		creds arcgis.Credentials
		ca    []byte
		want  arcgis.TokenRequest
		// wantErr is a substring of the InvalidSpec message; empty: no error.
		wantErr string
	}{
		"portal": {
			spec: portalSpec(), creds: creds, ca: ca,
			want: arcgis.TokenRequest{Type: arcgis.Portal, URL: "https://gis.example.com/portal", Credentials: creds, Binding: referer, ExpirationMinutes: 120, CABundle: ca},
		},
		"server": {
			spec: withType(arcgisv1alpha1.ServiceTypeServer, "https://gis.example.com/server"), creds: creds,
			want: arcgis.TokenRequest{Type: arcgis.Server, URL: "https://gis.example.com/server", Credentials: creds, Binding: referer, ExpirationMinutes: 120},
		},
		"server admin": {
			spec: withType(arcgisv1alpha1.ServiceTypeServerAdmin, "https://gis.example.com/server"), creds: creds,
			want: arcgis.TokenRequest{Type: arcgis.ServerAdmin, URL: "https://gis.example.com/server", Credentials: creds, Binding: referer, ExpirationMinutes: 120},
		},
		"federated": {
			spec: federatedSpec(), creds: creds,
			want: arcgis.TokenRequest{Type: arcgis.Federated, URL: "https://gis.example.com/portal", ServerURL: "https://gis.example.com/server", Credentials: creds, Binding: referer, ExpirationMinutes: 120},
		},
		"OAuth": {
			spec: oauthSpec(), creds: appCreds,
			want: arcgis.TokenRequest{Type: arcgis.OAuth, URL: "https://www.arcgis.com", Credentials: appCreds, ExpirationMinutes: 120},
		},
		"OAuth ignores client and referer": {
			spec: mod(oauthSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Client, s.Referer, s.IP = "Bogus", "a\nb", "nope" }), creds: appCreds,
			want: arcgis.TokenRequest{Type: arcgis.OAuth, URL: "https://www.arcgis.com", Credentials: appCreds, ExpirationMinutes: 120},
		},
		"expiration defaults to 60": {
			spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.ExpirationMinutes = 0 }), creds: creds,
			want: arcgis.TokenRequest{Type: arcgis.Portal, URL: "https://gis.example.com/portal", Credentials: creds, Binding: referer, ExpirationMinutes: 60},
		},
		"expiration 1": {
			spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.ExpirationMinutes = 1 }), creds: creds,
			want: arcgis.TokenRequest{Type: arcgis.Portal, URL: "https://gis.example.com/portal", Credentials: creds, Binding: referer, ExpirationMinutes: 1},
		},
		"expiration two weeks": {
			spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.ExpirationMinutes = 20160 }), creds: creds,
			want: arcgis.TokenRequest{Type: arcgis.Portal, URL: "https://gis.example.com/portal", Credentials: creds, Binding: referer, ExpirationMinutes: 20160},
		},
		"trailing slashes dropped": {
			spec: mod(federatedSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) {
				s.URL, s.ServerURL = "https://gis.example.com/portal/", "https://gis.example.com/server//"
			}), creds: creds,
			want: arcgis.TokenRequest{Type: arcgis.Federated, URL: "https://gis.example.com/portal", ServerURL: "https://gis.example.com/server", Credentials: creds, Binding: referer, ExpirationMinutes: 120},
		},
		"root URL with slash": {
			spec: mod(oauthSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.URL = "https://www.arcgis.com/" }), creds: appCreds,
			want: arcgis.TokenRequest{Type: arcgis.OAuth, URL: "https://www.arcgis.com", Credentials: appCreds, ExpirationMinutes: 120},
		},
		"ip binding": {
			spec: ipSpec(), creds: creds,
			want: arcgis.TokenRequest{Type: arcgis.Portal, URL: "https://gis.example.com/portal", Credentials: creds, Binding: arcgis.Binding{Client: arcgis.ClientIP, IP: "203.0.113.7"}, ExpirationMinutes: 120},
		},
		"ipv6 binding": {
			spec: mod(ipSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.IP = "2001:db8::1" }), creds: creds,
			want: arcgis.TokenRequest{Type: arcgis.Portal, URL: "https://gis.example.com/portal", Credentials: creds, Binding: arcgis.Binding{Client: arcgis.ClientIP, IP: "2001:db8::1"}, ExpirationMinutes: 120},
		},
		"request ip binding needs no referer": {
			spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) {
				s.Client, s.Referer = arcgisv1alpha1.ClientBindingRequestIP, ""
			}), creds: creds,
			want: arcgis.TokenRequest{Type: arcgis.Portal, URL: "https://gis.example.com/portal", Credentials: creds, Binding: arcgis.Binding{Client: arcgis.ClientRequestIP}, ExpirationMinutes: 120},
		},
		"client unset means referer": {
			spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Client = "" }), creds: creds,
			want: arcgis.TokenRequest{Type: arcgis.Portal, URL: "https://gis.example.com/portal", Credentials: creds, Binding: referer, ExpirationMinutes: 120},
		},
		"expiration negative":       {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.ExpirationMinutes = -1 }), wantErr: "expirationMinutes"},
		"expiration over two weeks": {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.ExpirationMinutes = 20161 }), wantErr: "expirationMinutes"},
		"http URL":                  {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.URL = "http://gis.example.com/portal" }), wantErr: "url must be an absolute https:// URL"},
		"ftp URL":                   {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.URL = "ftp://gis.example.com/portal" }), wantErr: "url must be an absolute https:// URL"},
		"no scheme":                 {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.URL = "gis.example.com/portal" }), wantErr: "url must be an absolute https:// URL"},
		"scheme-relative":           {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.URL = "//gis.example.com/portal" }), wantErr: "url must be an absolute https:// URL"},
		"no host":                   {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.URL = "https:///portal" }), wantErr: "url must be an absolute https:// URL"},
		"port only":                 {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.URL = "https://:443/portal" }), wantErr: "url must be an absolute https:// URL"},
		"empty URL":                 {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.URL = "" }), wantErr: "url must be an absolute https:// URL"},
		"unparseable URL":           {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.URL = "https://gis.example.com/%zz" }), wantErr: "url must be an absolute https:// URL"},
		"URL with a query":          {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.URL = "https://gis.example.com/portal?f=json" }), wantErr: "url must not carry a query"},
		"URL with a fragment":       {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.URL = "https://gis.example.com/portal#home" }), wantErr: "url must not carry a query"},
		"URL with user info": {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) {
			s.URL = "https://gisadmin:" + testPassword + "@gis.example.com/portal"
		}), wantErr: "user information"},
		"URL with a user name":        {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.URL = "https://gisadmin@gis.example.com/portal" }), wantErr: "user information"},
		"serverURL on a portal":       {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.ServerURL = "https://gis.example.com/server" }), wantErr: "serverURL is only used by type Federated"},
		"serverURL on OAuth":          {spec: mod(oauthSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.ServerURL = "https://gis.example.com/server" }), wantErr: "serverURL is only used by type Federated"},
		"serverURL on a server":       {spec: mod(withType(arcgisv1alpha1.ServiceTypeServer, "https://gis.example.com/server"), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.ServerURL = "https://gis.example.com/server" }), wantErr: "serverURL is only used by type Federated"},
		"federated without serverURL": {spec: mod(federatedSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.ServerURL = "" }), wantErr: "serverURL must be an absolute https:// URL"},
		"federated, http serverURL":   {spec: mod(federatedSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.ServerURL = "http://gis.example.com/server" }), wantErr: "serverURL must be an absolute https:// URL"},
		"federated, serverURL query":  {spec: mod(federatedSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.ServerURL = "https://gis.example.com/server?x=1" }), wantErr: "serverURL must not carry a query"},
		"federated, http url":         {spec: mod(federatedSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.URL = "http://gis.example.com/portal" }), wantErr: "url must be an absolute https:// URL"},
		"OAuth, http url":             {spec: mod(oauthSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.URL = "http://www.arcgis.com" }), wantErr: "url must be an absolute https:// URL"},
		"referer missing":             {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Referer = "" }), wantErr: "referer is required"},
		"referer missing, client unset": {
			spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Client, s.Referer = "", "" }), wantErr: "referer is required",
		},
		"referer with a newline":           {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Referer = "https://apps.example.com\nX-Evil: 1" }), wantErr: "single line"},
		"referer with a carriage return":   {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Referer = "https://apps.example.com\r" }), wantErr: "single line"},
		"ip missing":                       {spec: mod(ipSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.IP = "" }), wantErr: "ip must be an IPv4 or IPv6 address"},
		"ip not an address":                {spec: mod(ipSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.IP = "gis.example.com" }), wantErr: "ip must be an IPv4 or IPv6 address"},
		"ip out of range":                  {spec: mod(ipSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.IP = "256.1.1.1" }), wantErr: "ip must be an IPv4 or IPv6 address"},
		"ip with a prefix":                 {spec: mod(ipSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.IP = "10.0.0.0/8" }), wantErr: "ip must be an IPv4 or IPv6 address"},
		"unknown type":                     {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Type = "ArcGISOnline" }), wantErr: `type "ArcGISOnline" is not one of`},
		"type is case-sensitive":           {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Type = "portal" }), wantErr: `type "portal" is not one of`},
		"empty type":                       {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Type = "" }), wantErr: "type"},
		"unknown client":                   {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Client = "Cookie" }), wantErr: `client "Cookie" is not one of`},
		"client is case-sensitive":         {spec: mod(portalSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Client = "referer" }), wantErr: `client "referer" is not one of`},
		"ip binding does not need referer": {spec: mod(ipSpec(), func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.IP = "" }), wantErr: "ip must be"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := tc.creds
			if tc.wantErr != "" {
				c = arcgis.Credentials{Username: "gisadmin", Password: testPassword, ClientID: "AbCdEf123", ClientSecret: testClientSecret}
			}
			got, err := tokenspec.TokenRequest(&tc.spec, c, tc.ca)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("no error, want %q; got URL %q", tc.wantErr, got.URL)
				}
				_ = inputError(t, err, arcgisv1alpha1.ReasonInvalidSpec, testPassword, testClientSecret)
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q does not contain %q", err, tc.wantErr)
				}
				if !reflect.DeepEqual(got, arcgis.TokenRequest{}) {
					t.Errorf("a request was returned with the error")
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("TokenRequest =\n%#v\nwant\n%#v", got, tc.want)
			}
			// Credentials' %#v masks the secret parts: compare them too.
			if got.Credentials.Password != tc.want.Credentials.Password || got.Credentials.ClientSecret != tc.want.Credentials.ClientSecret {
				t.Errorf("secret parts of the credentials were not passed through")
			}
		})
	}
}

// TestTokenRequestRefusesEmptyQueryOrFragment shows that a URL ending in a
// bare "?" or "#" is accepted, although the CRD refuses any URL containing them
// and TokenRequest says it checks again what the CRD validates.
func TestTokenRequestRefusesEmptyQueryOrFragment(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		url, serverURL string
	}{
		"bare ? on url":         {url: "https://gis.example.com/portal?"},
		"bare # on url":         {url: "https://gis.example.com/portal#"},
		"?# on url":             {url: "https://gis.example.com/portal?#"},
		"bare ? on host":        {url: "https://gis.example.com?"},
		"bare ? on serverURL":   {url: "https://gis.example.com/portal", serverURL: "https://gis.example.com/server?"},
		"bare # on serverURL":   {url: "https://gis.example.com/portal", serverURL: "https://gis.example.com/server/#"},
		"slash then bare query": {url: "https://gis.example.com/portal/?"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := federatedSpec()
			spec.URL = tc.url
			if tc.serverURL != "" {
				spec.ServerURL = tc.serverURL
			}
			if req, err := tokenspec.TokenRequest(&spec, arcgis.Credentials{Username: "u", Password: "p"}, nil); err == nil {
				t.Errorf("accepted: URL %q, ServerURL %q", req.URL, req.ServerURL)
			}
		})
	}
}

func TestValidateRequest(t *testing.T) {
	t.Parallel()
	ca := selfSignedPEM(t, "Example Root CA")
	tests := map[string]struct {
		spec arcgisv1alpha1.ArcGISTokenSpec
		want arcgis.ValidateRequest
	}{
		"portal": {
			spec: portalSpec(),
			want: arcgis.ValidateRequest{Type: arcgis.Portal, URL: "https://gis.example.com/portal", Token: "tok..", Binding: arcgis.Binding{Client: arcgis.ClientReferer, Referer: "https://apps.example.com"}, CABundle: ca},
		},
		"federated, slashes dropped": {
			spec: func() arcgisv1alpha1.ArcGISTokenSpec {
				s := federatedSpec()
				s.URL, s.ServerURL = s.URL+"/", s.ServerURL+"/"
				return s
			}(),
			want: arcgis.ValidateRequest{Type: arcgis.Federated, URL: "https://gis.example.com/portal", ServerURL: "https://gis.example.com/server", Token: "tok..", Binding: arcgis.Binding{Client: arcgis.ClientReferer, Referer: "https://apps.example.com"}, CABundle: ca},
		},
		"ip": {
			spec: ipSpec(),
			want: arcgis.ValidateRequest{Type: arcgis.Portal, URL: "https://gis.example.com/portal", Token: "tok..", Binding: arcgis.Binding{Client: arcgis.ClientIP, IP: "203.0.113.7"}, CABundle: ca},
		},
		"OAuth": {
			spec: oauthSpec(),
			want: arcgis.ValidateRequest{Type: arcgis.OAuth, URL: "https://www.arcgis.com", Token: "tok..", CABundle: ca},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := tokenspec.ValidateRequest(&tc.spec, "tok..", ca); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ValidateRequest =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestServiceURL(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		spec arcgisv1alpha1.ArcGISTokenSpec
		want string
	}{
		"portal":      {spec: portalSpec(), want: "https://gis.example.com/portal"},
		"server":      {spec: withType(arcgisv1alpha1.ServiceTypeServer, "https://gis.example.com/server/"), want: "https://gis.example.com/server"},
		"admin":       {spec: withType(arcgisv1alpha1.ServiceTypeServerAdmin, "https://gis.example.com/server"), want: "https://gis.example.com/server"},
		"OAuth":       {spec: oauthSpec(), want: "https://www.arcgis.com"},
		"federated":   {spec: federatedSpec(), want: "https://gis.example.com/server"},
		"federated /": {spec: func() arcgisv1alpha1.ArcGISTokenSpec { s := federatedSpec(); s.ServerURL += "/"; return s }(), want: "https://gis.example.com/server"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := tokenspec.ServiceURL(&tc.spec); got != tc.want {
				t.Errorf("ServiceURL = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAccountKey(t *testing.T) {
	t.Parallel()
	user := func(name string) arcgis.Credentials {
		return arcgis.Credentials{Username: name, Password: testPassword}
	}
	app := func(id string) arcgis.Credentials {
		return arcgis.Credentials{ClientID: id, ClientSecret: testClientSecret}
	}
	spec := func(typ arcgisv1alpha1.ServiceType, url string) arcgisv1alpha1.ArcGISTokenSpec {
		return withType(typ, url)
	}
	tests := map[string]struct {
		spec  arcgisv1alpha1.ArcGISTokenSpec
		creds arcgis.Credentials
		want  string
	}{
		"portal":                  {spec: portalSpec(), creds: user("gisadmin"), want: "portal https://gis.example.com/portal gisadmin"},
		"portal, URL case folded": {spec: spec(arcgisv1alpha1.ServiceTypePortal, "https://GIS.Example.com/Portal/"), creds: user("gisadmin"), want: "portal https://gis.example.com/portal gisadmin"},
		"username case kept":      {spec: portalSpec(), creds: user("GISAdmin"), want: "portal https://gis.example.com/portal GISAdmin"},
		"server":                  {spec: spec(arcgisv1alpha1.ServiceTypeServer, "https://gis.example.com/server"), creds: user("siteadmin"), want: "server https://gis.example.com/server siteadmin"},
		"server admin":            {spec: spec(arcgisv1alpha1.ServiceTypeServerAdmin, "https://gis.example.com/server/"), creds: user("siteadmin"), want: "server https://gis.example.com/server siteadmin"},
		"federated logs in at the portal": {
			spec: federatedSpec(), creds: user("gisadmin"), want: "portal https://gis.example.com/portal gisadmin",
		},
		"OAuth by client ID": {spec: oauthSpec(), creds: app("AbCdEf123"), want: "oauth https://www.arcgis.com AbCdEf123"},
		"OAuth ignores a username": {
			spec: oauthSpec(), creds: arcgis.Credentials{Username: "gisadmin", ClientID: "AbCdEf123"}, want: "oauth https://www.arcgis.com AbCdEf123",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := tokenspec.AccountKey(&tc.spec, tc.creds)
			if got != tc.want {
				t.Errorf("AccountKey = %q, want %q", got, tc.want)
			}
			if strings.Contains(got, testPassword) || strings.Contains(got, testClientSecret) {
				t.Errorf("AccountKey %q holds a secret", got)
			}
		})
	}

	pairs := map[string]struct {
		a, b         arcgisv1alpha1.ArcGISTokenSpec
		credA, credB arcgis.Credentials
		wantSame     bool
	}{
		"usernames differing in case are two accounts": {
			a: portalSpec(), b: portalSpec(), credA: user("Admin"), credB: user("admin"),
		},
		"same user, different password: one account": {
			a: portalSpec(), b: portalSpec(), credA: user("gisadmin"), credB: arcgis.Credentials{Username: "gisadmin", Password: "other"}, wantSame: true,
		},
		"portal and server realms differ": {
			a: spec(arcgisv1alpha1.ServiceTypePortal, "https://gis.example.com/gis"), b: spec(arcgisv1alpha1.ServiceTypeServer, "https://gis.example.com/gis"),
			credA: user("gisadmin"), credB: user("gisadmin"),
		},
		"server and server admin share the server's users": {
			a: spec(arcgisv1alpha1.ServiceTypeServer, "https://gis.example.com/server"), b: spec(arcgisv1alpha1.ServiceTypeServerAdmin, "https://gis.example.com/server"),
			credA: user("siteadmin"), credB: user("siteadmin"), wantSame: true,
		},
		"portal and federated share the portal's users": {
			a: portalSpec(), b: federatedSpec(), credA: user("gisadmin"), credB: user("gisadmin"), wantSame: true,
		},
		"different portals": {
			a: portalSpec(), b: spec(arcgisv1alpha1.ServiceTypePortal, "https://other.example.com/portal"), credA: user("gisadmin"), credB: user("gisadmin"),
		},
		"trailing slash is the same portal": {
			a: portalSpec(), b: spec(arcgisv1alpha1.ServiceTypePortal, "https://gis.example.com/portal/"), credA: user("gisadmin"), credB: user("gisadmin"), wantSame: true,
		},
		"host case is the same portal": {
			a: portalSpec(), b: spec(arcgisv1alpha1.ServiceTypePortal, "https://GIS.EXAMPLE.COM/portal"), credA: user("gisadmin"), credB: user("gisadmin"), wantSame: true,
		},
		"OAuth apps by client ID": {
			a: oauthSpec(), b: oauthSpec(), credA: app("app-1"), credB: app("app-2"),
		},
		"OAuth app and a user of the same name": {
			a: oauthSpec(), b: spec(arcgisv1alpha1.ServiceTypePortal, "https://www.arcgis.com"), credA: app("gisadmin"), credB: user("gisadmin"),
		},
		"a space cannot merge fields": {
			a: portalSpec(), b: spec(arcgisv1alpha1.ServiceTypePortal, "https://gis.example.com/portal"),
			credA: user("x y"), credB: user("x"),
		},
	}
	for name, tc := range pairs {
		t.Run("pair "+name, func(t *testing.T) {
			t.Parallel()
			ka, kb := tokenspec.AccountKey(&tc.a, tc.credA), tokenspec.AccountKey(&tc.b, tc.credB)
			if (ka == kb) != tc.wantSame {
				t.Errorf("keys %q and %q: same = %v, want %v", ka, kb, ka == kb, tc.wantSame)
			}
		})
	}
}

// TestAccountKeySameAccountSpelledDifferently lists spellings of one account
// that the ArcGIS client accepts as the same service but that get different
// keys, so that each spelling gets its own lock-out budget from the guard.
func TestAccountKeySameAccountSpelledDifferently(t *testing.T) {
	t.Parallel()
	user := arcgis.Credentials{Username: "gisadmin", Password: testPassword}
	app := arcgis.Credentials{ClientID: "AbCdEf123", ClientSecret: testClientSecret}
	tests := map[string]struct {
		typ   arcgisv1alpha1.ServiceType
		a, b  string
		creds arcgis.Credentials
	}{
		"portal /sharing/rest":    {typ: arcgisv1alpha1.ServiceTypePortal, a: "https://gis.example.com/portal", b: "https://gis.example.com/portal/sharing/rest", creds: user},
		"portal /sharing":         {typ: arcgisv1alpha1.ServiceTypePortal, a: "https://gis.example.com/portal", b: "https://gis.example.com/portal/sharing/", creds: user},
		"server /rest/services":   {typ: arcgisv1alpha1.ServiceTypeServer, a: "https://gis.example.com/server", b: "https://gis.example.com/server/rest/services", creds: user},
		"server admin /admin":     {typ: arcgisv1alpha1.ServiceTypeServerAdmin, a: "https://gis.example.com/server", b: "https://gis.example.com/server/admin", creds: user},
		"explicit default port":   {typ: arcgisv1alpha1.ServiceTypePortal, a: "https://gis.example.com/portal", b: "https://gis.example.com:443/portal", creds: user},
		"OAuth host case":         {typ: arcgisv1alpha1.ServiceTypeOAuth, a: "https://www.arcgis.com", b: "https://WWW.ArcGIS.com", creds: app},
		"OAuth /sharing/rest":     {typ: arcgisv1alpha1.ServiceTypeOAuth, a: "https://www.arcgis.com", b: "https://www.arcgis.com/sharing/rest", creds: app},
		"federated /sharing/rest": {typ: arcgisv1alpha1.ServiceTypeFederated, a: "https://gis.example.com/portal", b: "https://gis.example.com/portal/sharing/rest", creds: user},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, b := withType(tc.typ, tc.a), withType(tc.typ, tc.b)
			if ka, kb := tokenspec.AccountKey(&a, tc.creds), tokenspec.AccountKey(&b, tc.creds); ka != kb {
				t.Errorf("one account, two keys: %q and %q", ka, kb)
			}
		})
	}
}

var fingerprintFormat = regexp.MustCompile(`^[0-9a-f]{16}$`)

// TestSpecFingerprint changes one spec field at a time. Every field of the
// spec (and of its references) must appear in the table, so that a new field
// cannot be added without deciding whether a token depends on it.
func TestSpecFingerprint(t *testing.T) {
	t.Parallel()
	caRef := func(s *arcgisv1alpha1.ArcGISTokenSpec) {
		s.CABundleRef = &arcgisv1alpha1.CABundleReference{Name: "gis-ca"}
	}
	withCA := func() arcgisv1alpha1.ArcGISTokenSpec { s := portalSpec(); caRef(&s); return s }
	tests := map[string]struct {
		field      string // Go field name, for the coverage check
		base       func() arcgisv1alpha1.ArcGISTokenSpec
		mutate     func(*arcgisv1alpha1.ArcGISTokenSpec)
		wantChange bool
	}{
		"type":                       {field: "Type", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Type = arcgisv1alpha1.ServiceTypeServer }, wantChange: true},
		"type Server to ServerAdmin": {field: "Type", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Type = arcgisv1alpha1.ServiceTypeServerAdmin }, wantChange: true},
		"url":                        {field: "URL", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.URL = "https://gis.example.com/arcgis" }, wantChange: true},
		"url trailing slash":         {field: "URL", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.URL += "/" }},
		"serverURL":                  {field: "ServerURL", base: federatedSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.ServerURL = "https://gis.example.com/hosting" }, wantChange: true},
		"serverURL trailing slash":   {field: "ServerURL", base: federatedSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.ServerURL += "/" }},
		"credentialsRef replaced, same keys": {field: "CredentialsRef", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) {
			s.CredentialsRef = arcgisv1alpha1.CredentialsReference{Name: "portal-credentials", UsernameKey: "username", ClientIDKey: "id"}
		}},
		"credentials Secret":             {field: "Name", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.CredentialsRef.Name = "other-credentials" }, wantChange: true},
		"usernameKey":                    {field: "UsernameKey", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.CredentialsRef.UsernameKey = "user" }, wantChange: true},
		"usernameKey set to its default": {field: "UsernameKey", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.CredentialsRef.UsernameKey = "username" }},
		"usernameKey on OAuth":           {field: "UsernameKey", base: oauthSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.CredentialsRef.UsernameKey = "user" }},
		"passwordKey":                    {field: "PasswordKey", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.CredentialsRef.PasswordKey = "pass" }, wantChange: true},
		"passwordKey set to its default": {field: "PasswordKey", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.CredentialsRef.PasswordKey = "password" }},
		"passwordKey on OAuth":           {field: "PasswordKey", base: oauthSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.CredentialsRef.PasswordKey = "pass" }},
		"clientIDKey":                    {field: "ClientIDKey", base: oauthSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.CredentialsRef.ClientIDKey = "app" }, wantChange: true},
		"clientIDKey set to its default": {field: "ClientIDKey", base: oauthSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.CredentialsRef.ClientIDKey = "client_id" }},
		"clientIDKey on a portal":        {field: "ClientIDKey", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.CredentialsRef.ClientIDKey = "app" }},
		"clientSecretKey":                {field: "ClientSecretKey", base: oauthSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.CredentialsRef.ClientSecretKey = "secret" }, wantChange: true},
		"clientSecretKey on a portal":    {field: "ClientSecretKey", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.CredentialsRef.ClientSecretKey = "secret" }},
		"client Referer to IP": {field: "Client", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) {
			s.Client, s.IP = arcgisv1alpha1.ClientBindingIP, "203.0.113.7"
		}, wantChange: true},
		"client Referer to RequestIP":  {field: "Client", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Client = arcgisv1alpha1.ClientBindingRequestIP }, wantChange: true},
		"client Referer to unset":      {field: "Client", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Client = "" }},
		"client on OAuth":              {field: "Client", base: oauthSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Client = arcgisv1alpha1.ClientBindingRequestIP }},
		"referer":                      {field: "Referer", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Referer = "https://maps.example.com" }, wantChange: true},
		"referer on an IP-bound token": {field: "Referer", base: ipSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Referer = "https://maps.example.com" }},
		"referer on OAuth":             {field: "Referer", base: oauthSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Referer = "https://maps.example.com" }},
		"ip":                           {field: "IP", base: ipSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.IP = "203.0.113.8" }, wantChange: true},
		"ip on a referer-bound token":  {field: "IP", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.IP = "203.0.113.8" }},
		"expirationMinutes":            {field: "ExpirationMinutes", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.ExpirationMinutes = 60 }, wantChange: true},
		"renewBefore":                  {field: "RenewBefore", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.RenewBefore = &metav1.Duration{Duration: 15 * time.Minute} }},
		"renewBeforePercentage":        {field: "RenewBeforePercentage", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { p := int32(25); s.RenewBeforePercentage = &p }},
		"secretName":                   {field: "SecretName", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.SecretName = "elsewhere" }},
		"secretTemplate":               {field: "SecretTemplate", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.SecretTemplate = &arcgisv1alpha1.SecretTemplate{} }},
		"secretTemplate labels": {field: "Labels", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) {
			s.SecretTemplate = &arcgisv1alpha1.SecretTemplate{Labels: map[string]string{"a": "b"}}
		}},
		"secretTemplate annotations": {field: "Annotations", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) {
			s.SecretTemplate = &arcgisv1alpha1.SecretTemplate{Annotations: map[string]string{"a": "b"}}
		}},
		"validationInterval": {field: "ValidationInterval", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.ValidationInterval = &metav1.Duration{} }},
		"suspend":            {field: "Suspend", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.Suspend = true }},
		"rolloutRestartTargets": {field: "RolloutRestartTargets", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) {
			s.RolloutRestartTargets = []arcgisv1alpha1.RolloutRestartTarget{{Kind: arcgisv1alpha1.WorkloadKindDeployment, Name: "web"}}
		}},
		"caBundleRef added":               {field: "CABundleRef", base: portalSpec, mutate: caRef, wantChange: true},
		"caBundleRef removed":             {field: "CABundleRef", base: withCA, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.CABundleRef = nil }, wantChange: true},
		"caBundleRef kind":                {field: "Kind", base: withCA, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.CABundleRef.Kind = arcgisv1alpha1.CABundleKindSecret }, wantChange: true},
		"caBundleRef kind set to default": {field: "Kind", base: withCA, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.CABundleRef.Kind = arcgisv1alpha1.CABundleKindConfigMap }},
		"caBundleRef name":                {field: "Name", base: withCA, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.CABundleRef.Name = "other-ca" }, wantChange: true},
		"caBundleRef key":                 {field: "Key", base: withCA, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.CABundleRef.Key = "root.pem" }, wantChange: true},
		"caBundleRef key set to default":  {field: "Key", base: withCA, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) { s.CABundleRef.Key = "ca.crt" }},
		"renewal fields together": {field: "RenewBefore", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) {
			s.RenewBefore = &metav1.Duration{Duration: time.Minute}
			s.Suspend = true
			s.SecretName = "x"
		}},
		// For API keys the fingerprint only restarts a failure's backoff: the
		// lifecycle follows status.apiKey.
		"apiKey": {field: "APIKey", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) {
			s.APIKey = &arcgisv1alpha1.APIKeySpec{ItemID: "0123456789abcdef0123456789abcdef"}
		}, wantChange: true},
		"credentials name and key swapped": {field: "Name", base: portalSpec, mutate: func(s *arcgisv1alpha1.ArcGISTokenSpec) {
			s.CredentialsRef.Name, s.CredentialsRef.UsernameKey = "username", "portal-credentials"
		}, wantChange: true},
	}

	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.field] = true
	}
	for _, typ := range []reflect.Type{
		reflect.TypeFor[arcgisv1alpha1.ArcGISTokenSpec](),
		reflect.TypeFor[arcgisv1alpha1.CredentialsReference](),
		reflect.TypeFor[arcgisv1alpha1.CABundleReference](),
		reflect.TypeFor[arcgisv1alpha1.SecretTemplate](),
	} {
		for f := range typ.Fields() {
			if !covered[f.Name] {
				t.Errorf("%s.%s has no case in this table: decide whether a token depends on it", typ.Name(), f.Name)
			}
		}
	}

	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base := tc.base()
			changed := tc.base()
			tc.mutate(&changed)
			if reflect.DeepEqual(base, changed) {
				t.Fatalf("the mutation changes nothing")
			}
			before, after := tokenspec.SpecFingerprint(&base), tokenspec.SpecFingerprint(&changed)
			for _, fp := range []string{before, after} {
				if !fingerprintFormat.MatchString(fp) {
					t.Errorf("fingerprint %q is not 16 hex digits", fp)
				}
			}
			if (before != after) != tc.wantChange {
				t.Errorf("fingerprint %s -> %s: changed = %v, want %v", before, after, before != after, tc.wantChange)
			}
			if again := tokenspec.SpecFingerprint(&changed); again != after {
				t.Errorf("not deterministic: %s then %s", after, again)
			}
		})
	}
}

// TestSpecFingerprintDefaultedExpiration shows that an unset expiration (0,
// which TokenRequest turns into 60) and an explicit 60 fingerprint differently.
func TestSpecFingerprintDefaultedExpiration(t *testing.T) {
	t.Parallel()
	unset, sixty := portalSpec(), portalSpec()
	unset.ExpirationMinutes, sixty.ExpirationMinutes = 0, 60
	if a, b := tokenspec.SpecFingerprint(&unset), tokenspec.SpecFingerprint(&sixty); a != b {
		t.Errorf("expirationMinutes 0 and 60: fingerprints %s and %s, want the same", a, b)
	}
}

func TestSpecFingerprintEveryTypeDistinct(t *testing.T) {
	t.Parallel()
	seen := map[string]arcgisv1alpha1.ServiceType{}
	for _, typ := range []arcgisv1alpha1.ServiceType{
		arcgisv1alpha1.ServiceTypePortal, arcgisv1alpha1.ServiceTypeServer, arcgisv1alpha1.ServiceTypeServerAdmin,
		arcgisv1alpha1.ServiceTypeFederated, arcgisv1alpha1.ServiceTypeOAuth,
	} {
		s := withType(typ, "https://gis.example.com/gis")
		fp := tokenspec.SpecFingerprint(&s)
		if other, ok := seen[fp]; ok {
			t.Errorf("%s and %s share fingerprint %s", typ, other, fp)
		}
		seen[fp] = typ
	}
}

func TestInputsFingerprint(t *testing.T) {
	t.Parallel()
	ca1, ca2 := selfSignedPEM(t, "CA 1"), selfSignedPEM(t, "CA 2")
	type inputs struct {
		uid, rv string
		ca      []byte
	}
	base := inputs{uid: "0b6e7d2c-1f1a-4c3e-9d7e-5f4a3b2c1d0e", rv: "12345", ca: ca1}
	tests := map[string]struct {
		other      inputs
		wantChange bool
	}{
		"same inputs":              {other: base},
		"same CA, another copy":    {other: inputs{uid: base.uid, rv: base.rv, ca: bytes.Clone(ca1)}},
		"Secret recreated (UID)":   {other: inputs{uid: "0b6e7d2c-1f1a-4c3e-9d7e-5f4a3b2c1d0f", rv: base.rv, ca: ca1}, wantChange: true},
		"Secret updated (version)": {other: inputs{uid: base.uid, rv: "12346", ca: ca1}, wantChange: true},
		"CA content":               {other: inputs{uid: base.uid, rv: base.rv, ca: ca2}, wantChange: true},
		"CA one byte longer":       {other: inputs{uid: base.uid, rv: base.rv, ca: append(bytes.Clone(ca1), '\n')}, wantChange: true},
		"CA removed":               {other: inputs{uid: base.uid, rv: base.rv}, wantChange: true},
		"UID and version swapped":  {other: inputs{uid: base.rv, rv: base.uid, ca: ca1}, wantChange: true},
		"fields cannot be shifted": {other: inputs{uid: base.uid + base.rv, rv: "", ca: ca1}, wantChange: true},
	}
	want := tokenspec.InputsFingerprint(base.uid, base.rv, base.ca)
	if !fingerprintFormat.MatchString(want) {
		t.Fatalf("fingerprint %q is not 16 hex digits", want)
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := tokenspec.InputsFingerprint(tc.other.uid, tc.other.rv, tc.other.ca)
			if (got != want) != tc.wantChange {
				t.Errorf("fingerprint %s vs %s: changed = %v, want %v", want, got, got != want, tc.wantChange)
			}
		})
	}
	if a, b := tokenspec.InputsFingerprint("u", "1", nil), tokenspec.InputsFingerprint("u", "1", []byte{}); a != b {
		t.Errorf("no CA: nil and empty bundles differ: %s, %s", a, b)
	}
}
