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
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
	"github.com/tokenoperator/arcgis-token-operator/internal/tokenspec"
)

const (
	benchNS = "bench"
	caName  = "arcgis-ca"
	referer = "https://apps.example.com"
)

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := arcgisv1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// newClient returns a client with its own rate limits; qps < 0 means none.
func newClient(cfg *rest.Config, qps float32, burst int) (client.Client, error) {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = qps, burst
	c.UserAgent = "arcgis-token-operator-bench"
	return client.New(c, client.Options{Scheme: scheme})
}

// accountName is the i-th service account of the simulated portal, and the
// credentials Secret that holds it.
func accountName(i int) string { return fmt.Sprintf("svc-bench-%02d", i) }

func accountPassword(i int) string { return fmt.Sprintf("sim-only-password-%02d", i) }

// setupNamespace creates a namespace with the credentials of every account
// and the simulator's CA.
func setupNamespace(ctx context.Context, c client.Client, ns string, accounts int, ca []byte) error {
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: caName, Namespace: ns}, Data: map[string]string{"ca.crt": string(ca)}},
	}
	for i := range accounts {
		objs = append(objs, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: accountName(i), Namespace: ns},
			StringData: map[string]string{"username": accountName(i), "password": accountPassword(i)},
		})
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

func tokenName(i int) string { return fmt.Sprintf("token-%05d", i) }

// tokenObject is the i-th ArcGISToken: a portal token, referer-bound, on one
// of the accounts, checked against the portal only every hour.
func tokenObject(i int, ns string, o *options, portalURL string, lifetime int) *arcgisv1alpha1.ArcGISToken {
	return &arcgisv1alpha1.ArcGISToken{
		ObjectMeta: metav1.ObjectMeta{Name: tokenName(i), Namespace: ns},
		Spec: arcgisv1alpha1.ArcGISTokenSpec{
			Type:               arcgisv1alpha1.ServiceTypePortal,
			URL:                portalURL,
			CredentialsRef:     arcgisv1alpha1.CredentialsReference{Name: accountName(i % o.accounts)},
			Client:             arcgisv1alpha1.ClientBindingReferer,
			Referer:            referer,
			ExpirationMinutes:  int32(lifetime),
			CABundleRef:        &arcgisv1alpha1.CABundleReference{Kind: arcgisv1alpha1.CABundleKindConfigMap, Name: caName, Key: "ca.crt"},
			ValidationInterval: &metav1.Duration{Duration: o.validationInterval},
		},
	}
}

// parallel runs f(0..n-1) on workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// observation is one issued token seen in an ArcGISToken's status.
type observation struct {
	issuedAt time.Time // status.issuedAt (seconds)
	seen     time.Time // when the benchmark saw it
	granted  int32
}

// tokenState is what the benchmark saw of one ArcGISToken.
type tokenState struct {
	sent        time.Time // the benchmark's create request started
	created     time.Time // metadata.creationTimestamp (seconds)
	readySeen   time.Time // first time Ready=True was seen
	readyLTT    time.Time // the Ready condition's lastTransitionTime (seconds)
	renewalTime time.Time // status.renewalTime (seconds), latest
	expiresAt   time.Time // status.expiresAt (seconds), latest
	issued      []observation
	reason      string // Ready's reason, latest
}

// tracker watches the ArcGISTokens of the benchmark's namespace and records,
// with sub-second times on the benchmark's clock, when each became Ready and
// each time a new token was issued.
type tracker struct {
	mu     sync.Mutex
	tokens map[string]*tokenState
	ready  int
}

func newTracker() *tracker { return &tracker{tokens: map[string]*tokenState{}} }

func (t *tracker) state(name string) *tokenState {
	s := t.tokens[name]
	if s == nil {
		s = &tokenState{}
		t.tokens[name] = s
	}
	return s
}

func (t *tracker) markSent(name string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.state(name).sent = at
}

func (t *tracker) observe(obj any) {
	tok, ok := obj.(*arcgisv1alpha1.ArcGISToken)
	if !ok {
		return
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.state(tok.Name)
	s.created = tok.CreationTimestamp.Time
	if c := meta.FindStatusCondition(tok.Status.Conditions, arcgisv1alpha1.ConditionReady); c != nil {
		s.reason = c.Reason
		if c.Status == metav1.ConditionTrue && s.readySeen.IsZero() {
			s.readySeen, s.readyLTT = now, c.LastTransitionTime.Time
			t.ready++
		}
	}
	if st := tok.Status; st.IssuedAt != nil {
		if n := len(s.issued); n == 0 || !s.issued[n-1].issuedAt.Equal(st.IssuedAt.Time) {
			s.issued = append(s.issued, observation{issuedAt: st.IssuedAt.Time, seen: now, granted: st.GrantedMinutes})
		}
	}
	if rt := tok.Status.RenewalTime; rt != nil {
		s.renewalTime = rt.Time
	}
	if e := tok.Status.ExpiresAt; e != nil {
		s.expiresAt = e.Time
	}
}

func (t *tracker) readyCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ready
}

// snapshot returns a copy of every token's state.
func (t *tracker) snapshot() map[string]tokenState {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]tokenState, len(t.tokens))
	for k, v := range t.tokens {
		c := *v
		c.issued = append([]observation(nil), v.issued...)
		out[k] = c
	}
	return out
}

// issuedCounts returns how many tokens each ArcGISToken has been seen with.
func (t *tracker) issuedCounts() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int, len(t.tokens))
	for k, v := range t.tokens {
		out[k] = len(v.issued)
	}
	return out
}

// renewedSince counts the ArcGISTokens that were seen with more tokens than
// in base.
func (t *tracker) renewedSince(base map[string]int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k, b := range base {
		if s := t.tokens[k]; s != nil && len(s.issued) > b {
			n++
		}
	}
	return n
}

// reasons counts the Ready reasons of the ArcGISTokens that are not Ready,
// for error messages.
func (t *tracker) reasons() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]int{}
	for _, s := range t.tokens {
		if s.readySeen.IsZero() {
			r := s.reason
			if r == "" {
				r = "(no status)"
			}
			out[r]++
		}
	}
	return out
}

// startTracker starts an informer on the ArcGISTokens of ns.
func startTracker(ctx context.Context, cfg *rest.Config, ns string) (*tracker, error) {
	c, err := cache.New(cfg, cache.Options{Scheme: scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		return nil, err
	}
	inf, err := c.GetInformer(ctx, &arcgisv1alpha1.ArcGISToken{})
	if err != nil {
		return nil, err
	}
	t := newTracker()
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    t.observe,
		UpdateFunc: func(_, obj any) { t.observe(obj) },
	}); err != nil {
		return nil, err
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the benchmark's informer did not sync")
	}
	return t, nil
}

// fakeToken looks like a token the simulator issues: 48 random bytes in
// URL-safe base64, then "..".
func fakeToken() string {
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b) + ".."
}

// floorSecret is the Secret the operator writes for tok: same labels,
// annotations, owner reference and keys.
func floorSecret(tok *arcgisv1alpha1.ArcGISToken, portalURL string, issuedAt, expires time.Time) (*corev1.Secret, error) {
	exp := expires.UTC().Format(time.RFC3339)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: tok.Name, Namespace: tok.Namespace,
			Labels: map[string]string{arcgisv1alpha1.ManagedByLabel: arcgisv1alpha1.ManagedByValue, arcgisv1alpha1.TokenLabel: tok.Name},
			Annotations: map[string]string{
				arcgisv1alpha1.ExpiresAnnotation:   exp,
				arcgisv1alpha1.IssuedAtAnnotation:  issuedAt.UTC().Format(time.RFC3339),
				arcgisv1alpha1.IssuedForAnnotation: tokenspec.SpecFingerprint(&tok.Spec) + "/" + tokenspec.SpecFingerprint(&tok.Spec),
			},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			arcgisv1alpha1.SecretKeyToken:   []byte(fakeToken()),
			arcgisv1alpha1.SecretKeyExpires: []byte(exp),
			arcgisv1alpha1.SecretKeyURL:     []byte(portalURL),
			arcgisv1alpha1.SecretKeyReferer: []byte(referer),
		},
	}
	if err := controllerutil.SetControllerReference(tok, s, scheme); err != nil {
		return nil, err
	}
	return s, nil
}

// floorStatus sets the status the operator writes after issuing a token.
func floorStatus(tok *arcgisv1alpha1.ArcGISToken, issuedAt, expires time.Time, lifetime time.Duration) {
	st := &tok.Status
	at := func(t time.Time) *metav1.Time { m := metav1.NewTime(t.Truncate(time.Second)); return &m }
	renewal := expires.Add(-lifetime / 3)
	st.ObservedGeneration = tok.Generation
	st.SecretName = tok.Name
	st.IssuedAt, st.ExpiresAt, st.RenewalTime = at(issuedAt), at(expires), at(renewal)
	st.GrantedMinutes = int32(lifetime / time.Minute)
	st.Identity = tok.Spec.CredentialsRef.Name
	exp := expires.UTC().Format(time.RFC3339)
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: arcgisv1alpha1.ConditionIssuing, Status: metav1.ConditionFalse, Reason: arcgisv1alpha1.ReasonUpToDate,
		Message: "The next renewal is at " + renewal.UTC().Format(time.RFC3339), ObservedGeneration: tok.Generation,
		LastTransitionTime: *at(issuedAt),
	})
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: arcgisv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: arcgisv1alpha1.ReasonTokenIssued,
		Message: fmt.Sprintf("Secret %q holds a token valid until %s", tok.Name, exp), ObservedGeneration: tok.Generation,
		LastTransitionTime: *at(issuedAt),
	})
}

// floorRun measures the floor: a plain controller-runtime client, with the
// given rate limits and workers, writes what the operator writes for n
// ArcGISTokens (one Secret create and one status patch each) into ns, where
// the ArcGISTokens were created beforehand (not timed). No manager runs.
// Everything it created is deleted afterwards, so that the manager never sees
// it.
func floorRun(ctx context.Context, admin client.Client, cfg *rest.Config, o *options, ns string, n int,
	qps float32, burst int, sim *arcgissim.Simulator) (time.Duration, error) {
	if err := setupNamespace(ctx, admin, ns, o.accounts, sim.CAPEM()); err != nil {
		return 0, err
	}
	toks := make([]*arcgisv1alpha1.ArcGISToken, n)
	if err := parallel(ctx, n, o.createWorkers, func(ctx context.Context, i int) error {
		t := tokenObject(i, ns, o, sim.PortalURL(), 60)
		if err := admin.Create(ctx, t); err != nil {
			return fmt.Errorf("creating ArcGISToken %s/%s: %w", ns, t.Name, err)
		}
		toks[i] = t
		return nil
	}); err != nil {
		return 0, err
	}

	c, err := newClient(cfg, qps, burst)
	if err != nil {
		return 0, err
	}
	// The first requests of a client discover the API; the manager did that
	// when it started, so it is not timed here either.
	_ = c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "warm-up"}, &corev1.Secret{})
	_ = c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "warm-up"}, &arcgisv1alpha1.ArcGISToken{})

	lifetime := 60 * time.Minute
	start := time.Now()
	err = parallel(ctx, n, o.workers, func(ctx context.Context, i int) error {
		tok := toks[i]
		issued := time.Now()
		expires := issued.Add(lifetime)
		s, err := floorSecret(tok, sim.PortalURL(), issued, expires)
		if err != nil {
			return err
		}
		if err := c.Create(ctx, s); err != nil {
			return fmt.Errorf("floor: creating Secret %s: %w", s.Name, err)
		}
		orig := tok.DeepCopy()
		floorStatus(tok, issued, expires, lifetime)
		if err := c.Status().Patch(ctx, tok, client.MergeFrom(orig)); err != nil {
			return fmt.Errorf("floor: patching the status of %s: %w", tok.Name, err)
		}
		return nil
	})
	elapsed := time.Since(start)
	if err != nil {
		return 0, err
	}

	// Clean up: no controller-manager runs here, so neither the garbage
	// collector nor the namespace controller would.
	if err := admin.DeleteAllOf(ctx, &corev1.Secret{}, client.InNamespace(ns)); err != nil {
		return 0, err
	}
	if err := admin.DeleteAllOf(ctx, &arcgisv1alpha1.ArcGISToken{}, client.InNamespace(ns)); err != nil {
		return 0, err
	}
	if err := admin.DeleteAllOf(ctx, &corev1.ConfigMap{}, client.InNamespace(ns)); err != nil {
		return 0, err
	}
	return elapsed, nil
}

// createUnrelated creates n Secrets the operator has nothing to do with, of
// about 1 KiB each, as an application's configuration would be.
func createUnrelated(ctx context.Context, admin client.Client, o *options, n int) error {
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.unrelatedNS}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	payload := make([]byte, 1024)
	_, _ = rand.Read(payload)
	return parallel(ctx, n, o.createWorkers, func(ctx context.Context, i int) error {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-config-%05d", i), Namespace: o.unrelatedNS,
				Labels: map[string]string{"app.kubernetes.io/name": fmt.Sprintf("app-%03d", i%500)}},
			Data: map[string][]byte{"config.bin": payload},
		}
		return admin.Create(ctx, s)
	})
}
