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

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/reasons"
	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

// The plugin runs against a real kube-apiserver and etcd (make envtest) with
// the CRDs of config/crd/bases. The tests write the ArcGISTokens' status and
// Secrets themselves, as the operator would, so that every field has a known
// value and the output can be compared whole.

var (
	env        *testenv.Env
	k8s        client.Client
	kubeconfig string
	// now is the plugin's clock in every test.
	now = time.Date(2026, 11, 25, 16, 0, 0, 0, time.UTC)
)

func TestMain(m *testing.M) { os.Exit(runSuite(m)) }

func runSuite(m *testing.M) int {
	var err error
	if env, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = arcgisv1alpha1.AddToScheme(scheme)
	if k8s, err = client.New(env.Config, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "kubectl-arcgistoken-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// result is one run of the plugin.
type result struct {
	out, errOut string
	err         error
}

// run runs the plugin in-process, as `kubectl arcgistoken ARGS
// --kubeconfig ...` would, with the clock at now.
func run(t *testing.T, cfg string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCommand(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		clocktesting.NewFakePassiveClock(now))
	cmd.SetArgs(append(args, "--kubeconfig", cfg))
	err := cmd.ExecuteContext(context.Background())
	return result{out: out.String(), errOut: errOut.String(), err: err}
}

// noToken fails when any output holds a token, whole or base64-encoded.
func noToken(t *testing.T, r result, tokens ...string) {
	t.Helper()
	for _, tok := range tokens {
		for _, form := range []string{tok, base64.StdEncoding.EncodeToString([]byte(tok))} {
			if strings.Contains(r.out, form) || strings.Contains(r.errOut, form) || r.err != nil && strings.Contains(r.err.Error(), form) {
				t.Errorf("the output shows a token:\n%s\n%s", r.out, r.errOut)
			}
		}
	}
}

func fingerprint(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])[:12]
}

// namespace makes a namespace of the test's own.
func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "plugin-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), ns) })
	return ns.Name
}

func at(d time.Duration) *metav1.Time { return ptr.To(metav1.NewTime(now.Add(d))) }

// fixture is an ArcGISToken with the status the operator would write, and
// (when token is set) its Secret.
type fixture struct {
	name   string
	spec   arcgisv1alpha1.ArcGISTokenSpec
	status arcgisv1alpha1.ArcGISTokenStatus
	token  string
}

func (f fixture) create(t *testing.T, ns string) *arcgisv1alpha1.ArcGISToken {
	t.Helper()
	ctx := context.Background()
	tok := &arcgisv1alpha1.ArcGISToken{ObjectMeta: metav1.ObjectMeta{Name: f.name, Namespace: ns}, Spec: f.spec}
	if err := k8s.Create(ctx, tok); err != nil {
		t.Fatal(err)
	}
	tok.Status = f.status
	if err := k8s.Status().Update(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if f.token == "" {
		return tok
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: f.status.SecretName, Namespace: ns,
			Labels: map[string]string{arcgisv1alpha1.ManagedByLabel: arcgisv1alpha1.ManagedByValue, arcgisv1alpha1.TokenLabel: f.name},
			Annotations: map[string]string{
				arcgisv1alpha1.ExpiresAnnotation:   f.status.ExpiresAt.UTC().Format(time.RFC3339),
				arcgisv1alpha1.IssuedAtAnnotation:  f.status.IssuedAt.UTC().Format(time.RFC3339),
				arcgisv1alpha1.IssuedForAnnotation: "3f2a9c/81d04b",
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: arcgisv1alpha1.GroupVersion.String(), Kind: "ArcGISToken", Name: tok.Name, UID: tok.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Data: map[string][]byte{
			arcgisv1alpha1.SecretKeyToken:   []byte(f.token),
			arcgisv1alpha1.SecretKeyExpires: []byte(f.status.ExpiresAt.UTC().Format(time.RFC3339)),
			arcgisv1alpha1.SecretKeyURL:     []byte(f.spec.URL),
		},
	}
	if f.spec.Referer != "" {
		s.Data[arcgisv1alpha1.SecretKeyReferer] = []byte(f.spec.Referer)
	}
	if err := k8s.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	return tok
}

const (
	healthyToken = "hT9eQxv3LkP0aZr7Ws2Yb8Nc4Ud6Mf1Gj5Ki9Ol3Pm7Qn2Ro6Sp0Tq4Ur8Vs1Wt5Xu"
	oauthToken   = "oA5kR9mT2xW7qZ3vB8nC1dF6gH4jK0lP5sU9yE2iO7aQ3wT8rY1uI6oP4aS0dF9g"
)

func healthy() fixture {
	return fixture{
		name: "portal-token",
		spec: arcgisv1alpha1.ArcGISTokenSpec{
			Type: arcgisv1alpha1.ServiceTypePortal, URL: "https://gis.example.com/portal",
			CredentialsRef: arcgisv1alpha1.CredentialsReference{Name: "portal-credentials"},
			Referer:        "https://maps.example.com", ExpirationMinutes: 120,
		},
		status: arcgisv1alpha1.ArcGISTokenStatus{
			ObservedGeneration: 1,
			Conditions: []metav1.Condition{
				{Type: "Issuing", Status: metav1.ConditionFalse, Reason: "UpToDate", Message: "The next renewal is at 2026-11-25T16:48:40Z", ObservedGeneration: 1, LastTransitionTime: *at(-20 * time.Minute)},
				{Type: "Ready", Status: metav1.ConditionTrue, Reason: "TokenIssued", Message: `Secret "portal-token" holds a token valid until 2026-11-25T17:40:00Z`, ObservedGeneration: 1, LastTransitionTime: *at(-20 * time.Minute)},
				{Type: "Validated", Status: metav1.ConditionTrue, Reason: "Validated", Message: "The service accepted the stored token when it was issued or last checked", ObservedGeneration: 1, LastTransitionTime: *at(-20 * time.Minute)},
			},
			SecretName: "portal-token", IssuedAt: at(-20 * time.Minute), ExpiresAt: at(100 * time.Minute),
			RenewalTime: at(48*time.Minute + 40*time.Second), GrantedMinutes: 120, Identity: "svc-maps",
		},
		token: healthyToken,
	}
}

func failing() fixture {
	return fixture{
		name: "wrong-password-token",
		spec: arcgisv1alpha1.ArcGISTokenSpec{
			Type: arcgisv1alpha1.ServiceTypePortal, URL: "https://gis.example.com/portal",
			CredentialsRef: arcgisv1alpha1.CredentialsReference{Name: "wrong-credentials"},
			Referer:        "https://maps.example.com", ExpirationMinutes: 60,
		},
		status: arcgisv1alpha1.ArcGISTokenStatus{
			ObservedGeneration: 1,
			Conditions: []metav1.Condition{
				{Type: "Issuing", Status: metav1.ConditionTrue, Reason: "InvalidCredentials", Message: "Failed to issue a token: InvalidCredentials from generateToken at gis.example.com (HTTP 200, code 400): Unable to generate token. Invalid username or password; next attempt at 2026-11-25T16:08:00Z", ObservedGeneration: 1, LastTransitionTime: *at(-12 * time.Minute)},
				{Type: "Ready", Status: metav1.ConditionFalse, Reason: "InvalidCredentials", Message: "Failed to issue a token: InvalidCredentials from generateToken at gis.example.com (HTTP 200, code 400): Unable to generate token. Invalid username or password; next attempt at 2026-11-25T16:08:00Z", ObservedGeneration: 1, LastTransitionTime: *at(-12 * time.Minute)},
				{Type: "Stalled", Status: metav1.ConditionTrue, Reason: "InvalidCredentials", Message: "Failed to issue a token: InvalidCredentials from generateToken at gis.example.com (HTTP 200, code 400): Unable to generate token. Invalid username or password; next attempt at 2026-11-25T16:08:00Z", ObservedGeneration: 1, LastTransitionTime: *at(-12 * time.Minute)},
			},
			SecretName:     "wrong-password-token",
			FailedAttempts: 2, LastFailureTime: at(-2 * time.Minute), LastFailureReason: "InvalidCredentials",
		},
	}
}

func oauth() fixture {
	return fixture{
		name: "oauth-app-token",
		spec: arcgisv1alpha1.ArcGISTokenSpec{
			Type: arcgisv1alpha1.ServiceTypeOAuth, URL: "https://www.arcgis.com",
			CredentialsRef: arcgisv1alpha1.CredentialsReference{Name: "oauth-app-credentials"}, ExpirationMinutes: 120,
		},
		status: arcgisv1alpha1.ArcGISTokenStatus{
			ObservedGeneration: 1,
			Conditions: []metav1.Condition{
				{Type: "Ready", Status: metav1.ConditionTrue, Reason: "TokenIssued", Message: `Secret "oauth-app-token" holds a token valid until 2026-11-25T17:00:00Z`, ObservedGeneration: 1, LastTransitionTime: *at(-time.Hour)},
			},
			SecretName: "oauth-app-token", IssuedAt: at(-time.Hour), ExpiresAt: at(time.Hour),
			RenewalTime: at(20 * time.Minute), GrantedMinutes: 120, Identity: "aBcDeFgH12345678",
		},
		token: oauthToken,
	}
}

func TestStatus(t *testing.T) {
	ns := namespace(t)
	healthy().create(t, ns)
	failing().create(t, ns)

	t.Run("healthy", func(t *testing.T) {
		r := run(t, kubeconfig, "status", "portal-token", "-n", ns)
		if r.err != nil {
			t.Fatalf("%v\n%s", r.err, r.errOut)
		}
		want := `ArcGISToken:   ` + ns + `/portal-token
Type:          Portal  https://gis.example.com/portal
Identity:      svc-maps
Secret:        portal-token  token sha256:` + fingerprint(healthyToken) + ` (` + fmt.Sprint(len(healthyToken)) + ` characters; the token is not shown)
Issued:        2026-11-25T15:40:00Z (20m ago)
Expires:       2026-11-25T17:40:00Z (in 100m)
Next renewal:  2026-11-25T16:48:40Z (in 48m)
Lifetime:      120 minutes granted of 120 asked for
Last check:    passed, accepted since 2026-11-25T15:40:00Z (20m ago)

Conditions:
  TYPE       STATUS  REASON       SINCE                           MESSAGE
  Issuing    False   UpToDate     2026-11-25T15:40:00Z (20m ago)  The next renewal is at 2026-11-25T16:48:40Z
  Ready      True    TokenIssued  2026-11-25T15:40:00Z (20m ago)  Secret "portal-token" holds a token valid until 2026-11-25T17:40:00Z
  Validated  True    Validated    2026-11-25T15:40:00Z (20m ago)  The service accepted the stored token when it was issued or last checked

Last failure: none
`
		if r.out != want {
			t.Errorf("status printed:\n%s\nwant:\n%s", r.out, want)
		}
		noToken(t, r, healthyToken)
	})

	t.Run("failing, with the advice of its reason", func(t *testing.T) {
		r := run(t, kubeconfig, "status", "wrong-password-token", "-n", ns)
		if r.err != nil {
			t.Fatalf("%v\n%s", r.err, r.errOut)
		}
		info := reasons.Lookup("InvalidCredentials")
		for _, want := range []string{
			"Secret:        wrong-password-token (not found)",
			"Expires:       -",
			"Last check:    off, or not yet",
			"  Ready    False   InvalidCredentials  2026-11-25T15:48:00Z (12m ago)  Failed to issue a token: InvalidCredentials from generateToken",
			"Last failure: InvalidCredentials, 2 failed attempts, the last at 2026-11-25T15:58:00Z (2m ago)\n" +
				"  Failed to issue a token: InvalidCredentials from generateToken at gis.example.com (HTTP 200, code 400): Unable to generate token. Invalid username or password; next attempt at 2026-11-25T16:08:00Z\n" +
				"  Means:      " + info.Summary + "\n" +
				"  What to do: " + info.Advice + "\n" +
				"  More:       docs/troubleshooting.md#invalidcredentials\n",
		} {
			if !strings.Contains(r.out, want) {
				t.Errorf("status lacks %q:\n%s", want, r.out)
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		r := run(t, kubeconfig, "status", "wrong-password-token", "-n", ns, "-o", "json")
		if r.err != nil {
			t.Fatalf("%v\n%s", r.err, r.errOut)
		}
		var got statusReport
		if err := json.Unmarshal([]byte(r.out), &got); err != nil {
			t.Fatalf("%v:\n%s", err, r.out)
		}
		f := got.LastFailure
		if got.Ready || f == nil || f.Reason != "InvalidCredentials" || f.Attempts != 2 || !f.Time.Equal(now.Add(-2*time.Minute)) ||
			f.Advice != reasons.Lookup("InvalidCredentials").Advice || f.Troubleshooting != "docs/troubleshooting.md#invalidcredentials" ||
			!strings.HasPrefix(f.Message, "Failed to issue a token") || got.Secret.Error != "not found" || len(got.Conditions) != 3 {
			t.Errorf("status -o json:\n%s", r.out)
		}
	})

	t.Run("yaml, with the fingerprint", func(t *testing.T) {
		r := run(t, kubeconfig, "status", "portal-token", "-n", ns, "-o", "yaml")
		if r.err != nil {
			t.Fatalf("%v\n%s", r.err, r.errOut)
		}
		var got statusReport
		if err := yaml.UnmarshalStrict([]byte(r.out), &got); err != nil {
			t.Fatalf("%v:\n%s", err, r.out)
		}
		if !got.Ready || got.Secret.Token == nil || got.Secret.Token.SHA256 != fingerprint(healthyToken) ||
			got.Secret.Token.Length != len(healthyToken) || got.LastFailure != nil || got.GrantedMinutes != 120 {
			t.Errorf("status -o yaml:\n%s", r.out)
		}
		noToken(t, r, healthyToken)
	})

	t.Run("suspended", func(t *testing.T) {
		f := healthy()
		f.name, f.status.SecretName, f.spec.Suspend = "paused-token", "paused-token", true
		f.create(t, ns)
		r := run(t, kubeconfig, "status", "paused-token", "-n", ns)
		info := reasons.Lookup("Suspended")
		for _, want := range []string{
			"Suspended:     yes: the token is neither issued nor renewed",
			"Suspended:\n  Means:      " + info.Summary + "\n  What to do: " + info.Advice + "\n  More:       docs/troubleshooting.md#suspended\n",
		} {
			if !strings.Contains(r.out, want) {
				t.Errorf("status lacks %q:\n%s", want, r.out)
			}
		}
		noToken(t, r, healthyToken)
	})

	t.Run("errors", func(t *testing.T) {
		for name, c := range map[string]struct {
			args []string
			want string
		}{
			"unknown":          {[]string{"status", "nope", "-n", ns}, `ArcGISToken "nope" not found in namespace "` + ns + `"`},
			"no name":          {[]string{"status", "-n", ns}, "accepts 1 arg(s), received 0"},
			"bad output":       {[]string{"status", "portal-token", "-n", ns, "-o", "wide"}, `unknown output format "wide"`},
			"renew both":       {[]string{"renew", "portal-token", "--all", "-n", ns}, "give names or --all, not both"},
			"renew nothing":    {[]string{"renew", "-n", ns}, "give the name of an ArcGISToken"},
			"inspect unknown":  {[]string{"inspect", "nope", "-n", ns}, `ArcGISToken "nope" not found`},
			"inspect no token": {[]string{"inspect", "wrong-password-token", "-n", ns}, "wrong-password-token: not found"},
		} {
			t.Run(name, func(t *testing.T) {
				r := run(t, kubeconfig, c.args...)
				if r.err == nil || !strings.Contains(r.err.Error(), c.want) {
					t.Errorf("err = %v, want %q\n%s%s", r.err, c.want, r.out, r.errOut)
				}
			})
		}
	})
}

func TestInspect(t *testing.T) {
	ns := namespace(t)
	healthy().create(t, ns)
	oauth().create(t, ns)

	t.Run("referer-bound", func(t *testing.T) {
		r := run(t, kubeconfig, "inspect", "portal-token", "-n", ns)
		if r.err != nil {
			t.Fatalf("%v\n%s", r.err, r.errOut)
		}
		want := `Secret ` + ns + `/portal-token of ArcGISToken portal-token (controlled by it)
  token       ******** (` + fmt.Sprint(len(healthyToken)) + ` characters, sha256:` + fingerprint(healthyToken) + `)
  expires     2026-11-25T17:40:00Z (in 100m)
  url         https://gis.example.com/portal
  referer     https://maps.example.com
  identity    svc-maps
  issued at   2026-11-25T15:40:00Z (20m ago)
  issued for  3f2a9c/81d04b
`
		if r.out != want {
			t.Errorf("inspect printed:\n%s\nwant:\n%s", r.out, want)
		}
		noToken(t, r, healthyToken)
	})

	t.Run("OAuth, json", func(t *testing.T) {
		r := run(t, kubeconfig, "inspect", "oauth-app-token", "-n", ns, "-o", "json")
		if r.err != nil {
			t.Fatalf("%v\n%s", r.err, r.errOut)
		}
		var got inspectReport
		if err := json.Unmarshal([]byte(r.out), &got); err != nil {
			t.Fatalf("%v:\n%s", err, r.out)
		}
		if !got.Controlled || got.Token == nil || got.Token.SHA256 != fingerprint(oauthToken) || got.Referer != "" ||
			got.URL != "https://www.arcgis.com" || got.Identity != "aBcDeFgH12345678" || !got.ExpiresAt.Equal(now.Add(time.Hour)) {
			t.Errorf("inspect -o json:\n%s", r.out)
		}
		noToken(t, r, oauthToken)
		h := run(t, kubeconfig, "inspect", "oauth-app-token", "-n", ns)
		if !strings.Contains(h.out, "referer     (none: the token is not bound to a Referer)") {
			t.Errorf("inspect of an OAuth token:\n%s", h.out)
		}
		noToken(t, h, oauthToken)
	})

	t.Run("a Secret it does not control, with a key of its own", func(t *testing.T) {
		f := healthy()
		f.name, f.status.SecretName = "hijacked-token", "hijacked-token"
		f.create(t, ns)
		var s corev1.Secret
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "hijacked-token"}, &s); err != nil {
			t.Fatal(err)
		}
		s.OwnerReferences = nil
		s.Data["password"] = []byte("do-not-print-me")
		if err := k8s.Update(context.Background(), &s); err != nil {
			t.Fatal(err)
		}
		r := run(t, kubeconfig, "inspect", "hijacked-token", "-n", ns)
		if !strings.Contains(r.out, "(NOT controlled by it") || !strings.Contains(r.out, "password    (not written by the operator; not shown)") {
			t.Errorf("inspect:\n%s", r.out)
		}
		noToken(t, r, healthyToken, "do-not-print-me")
	})
}

func TestRenew(t *testing.T) {
	ns := namespace(t)
	healthy().create(t, ns)
	failing().create(t, ns)
	oauth().create(t, ns)
	renewAt := func(name string) string {
		var tok arcgisv1alpha1.ArcGISToken
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &tok); err != nil {
			t.Fatal(err)
		}
		return tok.Annotations[arcgisv1alpha1.RenewAtAnnotation]
	}
	stamp := now.Format(time.RFC3339)

	t.Run("one", func(t *testing.T) {
		r := run(t, kubeconfig, "renew", "portal-token", "-n", ns)
		if r.err != nil {
			t.Fatalf("%v\n%s", r.err, r.errOut)
		}
		if want := "arcgistoken " + ns + "/portal-token: renewal requested (renew-at=" + stamp + ")\n"; r.out != want {
			t.Errorf("renew printed %q, want %q", r.out, want)
		}
		if got := renewAt("portal-token"); got != stamp {
			t.Errorf("renew-at = %q, want %q", got, stamp)
		}
		if renewAt("oauth-app-token") != "" {
			t.Error("renew of one ArcGISToken annotated another")
		}
		again := run(t, kubeconfig, "renew", "portal-token", "-n", ns)
		if !strings.Contains(again.out, "it already had that value") {
			t.Errorf("a second renew in the same second printed %q", again.out)
		}
	})

	t.Run("all, json", func(t *testing.T) {
		r := run(t, kubeconfig, "renew", "--all", "-n", ns, "-o", "json")
		if r.err != nil {
			t.Fatalf("%v\n%s", r.err, r.errOut)
		}
		var got []renewal
		if err := json.Unmarshal([]byte(r.out), &got); err != nil {
			t.Fatalf("%v:\n%s", err, r.out)
		}
		if len(got) != 3 {
			t.Errorf("renew --all renewed %d, want 3:\n%s", len(got), r.out)
		}
		for _, name := range []string{"portal-token", "wrong-password-token", "oauth-app-token"} {
			if got := renewAt(name); got != stamp {
				t.Errorf("%s: renew-at = %q, want %q", name, got, stamp)
			}
		}
	})

	t.Run("all, in an empty namespace", func(t *testing.T) {
		r := run(t, kubeconfig, "renew", "--all", "-n", namespace(t))
		if r.err != nil || r.out != "" || !strings.Contains(r.errOut, "No ArcGISTokens found") {
			t.Errorf("renew --all in an empty namespace: %v %q %q", r.err, r.out, r.errOut)
		}
	})

	t.Run("an unknown one among others", func(t *testing.T) {
		r := run(t, kubeconfig, "renew", "nope", "oauth-app-token", "-n", ns)
		if r.err == nil || !strings.Contains(r.errOut, `ArcGISToken "nope" not found`) || !strings.Contains(r.out, "/oauth-app-token: renewal requested") {
			t.Errorf("renew of an unknown and a known one: %v\n%s%s", r.err, r.out, r.errOut)
		}
	})
}

// TestWithoutSecretAccess runs status and renew as a user who may read and
// patch ArcGISTokens but not read Secrets (the aggregated edit role without
// Secrets): the commands say so and show the rest.
func TestWithoutSecretAccess(t *testing.T) {
	ns := namespace(t)
	healthy().create(t, ns)
	ctx := context.Background()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "arcgistoken-editor", Namespace: ns},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{arcgisv1alpha1.GroupVersion.Group}, Resources: []string{"arcgistokens"},
			Verbs: []string{"get", "list", "patch"},
		}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "arcgistoken-editor", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "token-editor"}},
	}
	for _, o := range []client.Object{role, binding} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	user, err := env.ControlPlane.AddUser(envtest.User{Name: "token-editor"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}

	r := run(t, cfg, "status", "portal-token", "-n", ns)
	if r.err != nil || !strings.Contains(r.out, "Secret:        portal-token (you may not read it (forbidden))") || !regexp.MustCompile(`(?m)^\s+Ready\s+True\s`).MatchString(r.out) {
		t.Errorf("status without Secret access: %v\n%s%s", r.err, r.out, r.errOut)
	}
	i := run(t, cfg, "inspect", "portal-token", "-n", ns)
	if i.err == nil || !strings.Contains(i.out, "you may not read it (forbidden)") {
		t.Errorf("inspect without Secret access: %v\n%s%s", i.err, i.out, i.errOut)
	}
	if w := run(t, cfg, "renew", "portal-token", "-n", ns); w.err != nil {
		t.Errorf("renew with patch rights: %v\n%s", w.err, w.errOut)
	}
}
