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

package controllers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/accountguard"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
)

// Test accounts of the simulator.
const (
	testUser     = "gisuser"
	testPassword = "correct-horse-battery-staple-7"
	testAppID    = "demoAppId123"
	testAppKey   = "app-secret-0d5b7c9e"
	testReferer  = "https://apps.example.com"
)

// harness runs a manager, watching one namespace, against the shared API
// server and its own ArcGIS simulator, with a fake clock shared by the
// reconciler, the ArcGIS client, the account guard and the simulator. Tests
// that kill managers or elect leaders start more with startManager.
type harness struct {
	t      *testing.T
	ctx    context.Context
	ns     string
	clock  *clocktesting.FakeClock
	sim    *arcgissim.Simulator
	writes *writeCounter // of the first manager
	logs   *syncBuffer   // of every manager of the harness
	pokes  atomic.Int64

	// credentials holds every credential value the test put in a Secret,
	// for the leak scan.
	mu          sync.Mutex
	credentials []string
	// allWrites holds the write counters of every manager started.
	allWrites []*writeCounter
}

type harnessOptions struct {
	sim     func(*arcgissim.Config)
	manager managerOptions
	// noManager leaves starting managers to the test.
	noManager bool
}

// managerOptions vary a manager from the defaults of the tests.
type managerOptions struct {
	// restConfig connects as another user than the cluster admin.
	restConfig     *rest.Config
	leaderElection bool
	clientTimeout  time.Duration
	perHostLimit   int
	// writes, when set, counts (and can hang or fail) the manager's writes
	// from its very first one.
	writes *writeCounter
}

func newHarness(t *testing.T, opts ...func(*harnessOptions)) *harness {
	t.Helper()
	var o harnessOptions
	for _, f := range opts {
		f(&o)
	}
	h := &harness{
		t:     t,
		ctx:   context.Background(),
		ns:    newNamespace(t),
		clock: clocktesting.NewFakeClock(time.Now().UTC().Truncate(time.Second)),
		logs:  &syncBuffer{},
	}

	cfg := arcgissim.Config{
		Users: map[string]string{testUser: testPassword},
		Apps:  map[string]string{testAppID: testAppKey},
		Clock: h.clock,
	}
	if o.sim != nil {
		o.sim(&cfg)
	}
	sim, err := arcgissim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	h.sim = sim
	// Cleanups run last-registered first: the leak scan runs while the
	// managers still run, and the simulator closes after they stopped.
	t.Cleanup(func() { _ = sim.Close() })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("manager log:\n%s", h.logs.String())
		}
	})

	// The simulator's CA, as users of a private CA would provide it.
	h.create(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "arcgis-ca", Namespace: h.ns},
		Data:       map[string]string{"ca.crt": string(sim.CAPEM())},
	})
	h.createCredentials("portal-credentials", map[string]string{"username": testUser, "password": testPassword})
	h.createCredentials("oauth-credentials", map[string]string{"client_id": testAppID, "client_secret": testAppKey})

	if !o.noManager {
		h.writes, _ = h.startManager(o.manager)
	}
	t.Cleanup(h.scanForLeaks)
	return h
}

// startManager starts a manager for the harness namespace and returns its
// write counter and a function that stops it, as a crash would: whatever it
// holds in memory is gone. Stopping is also registered as a cleanup.
func (h *harness) startManager(o managerOptions) (*writeCounter, func()) {
	t := h.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	writes := o.writes
	if writes == nil {
		writes = &writeCounter{}
	}
	h.mu.Lock()
	h.allWrites = append(h.allWrites, writes)
	h.mu.Unlock()
	restCfg := rest.CopyConfig(env.Config)
	if o.restConfig != nil {
		restCfg = rest.CopyConfig(o.restConfig)
	}
	restCfg.QPS, restCfg.Burst = 200, 400
	restCfg.Wrap(writes.wrap)

	opts := ctrl.Options{
		Scheme:                 scheme,
		Cache:                  CacheOptions([]string{h.ns}),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Logger:                 zap.New(zap.WriteTo(h.logs), zap.UseDevMode(true)),
		Controller:             ctrlConfigForTests(),
	}
	if o.leaderElection {
		lease, renew, retry := 3*time.Second, 2*time.Second, 250*time.Millisecond
		opts.LeaderElection = true
		opts.LeaderElectionID = "arcgis-token-operator-test"
		opts.LeaderElectionNamespace = h.ns
		opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod = &lease, &renew, &retry
		opts.LeaderElectionReleaseOnCancel = false // a crash does not release
	}
	mgr, err := ctrl.NewManager(restCfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	timeout := o.clientTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	perHost := o.perHostLimit
	if perHost == 0 {
		perHost = 4
	}
	r := &ArcGISTokenReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Issuer:    arcgis.New(arcgis.Options{Clock: h.clock, Timeout: timeout, MaxConcurrentPerHost: perHost}),
		Accounts:  accountguard.New(accountguard.Options{Clock: h.clock}),
		Recorder:  mgr.GetEventRecorder("arcgis-token-operator"),
		Clock:     h.clock,
		// Several workers, so that concurrency bugs have a chance to show.
		MaxConcurrentReconciles: 4,
		Restarter: &Restarter{
			Client:   mgr.GetClient(),
			Recorder: mgr.GetEventRecorder("arcgis-token-operator"),
			Clock:    h.clock,
			Debounce: 500 * time.Millisecond,
		},
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return writes, stop
}

// scanForLeaks fails the test when a credential or a token appears in the
// manager's log, an event or a condition message of the harness namespace,
// or when the operator sent a credential or a token in a URL query.
func (h *harness) scanForLeaks() {
	t := h.t
	ctx := context.Background()
	var texts []string
	texts = append(texts, h.logs.String(), globalLog.String())
	events := &eventsv1.EventList{}
	if err := k8sClient.List(ctx, events, client.InNamespace(h.ns)); err == nil {
		for _, e := range events.Items {
			texts = append(texts, e.Note, e.Reason)
		}
	}
	tokens := &arcgisv1alpha1.ArcGISTokenList{}
	if err := k8sClient.List(ctx, tokens, client.InNamespace(h.ns)); err == nil {
		for _, tok := range tokens.Items {
			for _, c := range tok.Status.Conditions {
				texts = append(texts, c.Message)
			}
			texts = append(texts, tok.Status.LastFailureReason, tok.Status.Identity)
		}
	}
	h.mu.Lock()
	secrets := append(append([]string{}, h.credentials...), h.sim.Secrets()...)
	h.mu.Unlock()
	for _, secret := range secrets {
		if len(secret) < 8 {
			continue // too short to tell from ordinary text; tests use long ones
		}
		for _, text := range texts {
			if strings.Contains(text, secret) {
				t.Errorf("a secret (%d characters, starting %q) leaked into the manager's output", len(secret), secret[:3])
				break
			}
		}
	}
	c := h.sim.Counters()
	if c.CredentialsInQuery != 0 || c.TokenInQuery != 0 {
		t.Errorf("the simulator saw %d requests with credentials and %d with a token in the URL query, want 0",
			c.CredentialsInQuery, c.TokenInQuery)
	}
}

// withSim adjusts the simulator's configuration.
func withSim(f func(*arcgissim.Config)) func(*harnessOptions) {
	return func(o *harnessOptions) { o.sim = f }
}

// withManager adjusts the first manager.
func withManager(m managerOptions) func(*harnessOptions) {
	return func(o *harnessOptions) { o.manager = m }
}

// withoutManager leaves starting managers to the test.
func withoutManager() func(*harnessOptions) {
	return func(o *harnessOptions) { o.noManager = true }
}

func (h *harness) create(obj client.Object) {
	h.t.Helper()
	if err := k8sClient.Create(h.ctx, obj); err != nil {
		h.t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// update reads obj (a Secret or ConfigMap of the test's namespace, by name),
// lets mutate change it and writes it back.
func (h *harness) update(name string, obj client.Object, mutate func()) {
	h.t.Helper()
	if err := k8sClient.Get(h.ctx, client.ObjectKey{Namespace: h.ns, Name: name}, obj); err != nil {
		h.t.Fatal(err)
	}
	mutate()
	if err := k8sClient.Update(h.ctx, obj); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) createCredentials(name string, data map[string]string) {
	h.t.Helper()
	h.mu.Lock()
	for k, v := range data {
		if k != "username" && k != "client_id" { // identities are not secret
			h.credentials = append(h.credentials, v)
		}
	}
	h.mu.Unlock()
	h.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns}, StringData: data})
}

// token returns an ArcGISToken of the given type in the harness namespace,
// pointed at the simulator and its CA.
func (h *harness) token(name string, typ arcgisv1alpha1.ServiceType) *arcgisv1alpha1.ArcGISToken {
	t := &arcgisv1alpha1.ArcGISToken{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns},
		Spec: arcgisv1alpha1.ArcGISTokenSpec{
			Type:              typ,
			URL:               h.sim.PortalURL(),
			CredentialsRef:    arcgisv1alpha1.CredentialsReference{Name: "portal-credentials"},
			Referer:           testReferer,
			ExpirationMinutes: 60,
			CABundleRef:       &arcgisv1alpha1.CABundleReference{Name: "arcgis-ca"},
		},
	}
	switch typ {
	case arcgisv1alpha1.ServiceTypeServer, arcgisv1alpha1.ServiceTypeServerAdmin:
		t.Spec.URL = h.sim.ServerURL()
	case arcgisv1alpha1.ServiceTypeFederated:
		t.Spec.ServerURL = h.sim.ServerURL()
	case arcgisv1alpha1.ServiceTypeOAuth:
		t.Spec.CredentialsRef.Name = "oauth-credentials"
	}
	return t
}

func (h *harness) get(name string) *arcgisv1alpha1.ArcGISToken {
	h.t.Helper()
	t := &arcgisv1alpha1.ArcGISToken{}
	if err := k8sClient.Get(h.ctx, client.ObjectKey{Namespace: h.ns, Name: name}, t); err != nil {
		h.t.Fatalf("getting ArcGISToken %s: %v", name, err)
	}
	return t
}

func (h *harness) secret(name string) *corev1.Secret {
	h.t.Helper()
	s := &corev1.Secret{}
	if err := k8sClient.Get(h.ctx, client.ObjectKey{Namespace: h.ns, Name: name}, s); err != nil {
		h.t.Fatalf("getting Secret %s: %v", name, err)
	}
	return s
}

// poke makes the manager reconcile an ArcGISToken now, after the fake clock
// moved, by changing an annotation that means nothing to the operator.
func (h *harness) poke(name string) {
	h.t.Helper()
	t := h.get(name)
	patch := client.MergeFrom(t.DeepCopy())
	if t.Annotations == nil {
		t.Annotations = map[string]string{}
	}
	t.Annotations["test.tokenoperator.dev/poke"] = fmt.Sprint(h.pokes.Add(1))
	if err := k8sClient.Patch(h.ctx, t, patch); err != nil {
		h.t.Fatalf("poking %s: %v", name, err)
	}
}

// step moves the fake clock and pokes the named ArcGISTokens.
func (h *harness) step(d time.Duration, names ...string) {
	h.t.Helper()
	h.clock.Step(d)
	for _, n := range names {
		h.poke(n)
	}
}

// eventually polls cond until it holds, or fails the test after timeout.
func (h *harness) eventually(what string, cond func() (bool, string)) {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("timed out waiting for %s: %s", what, last)
}

// waitCondition waits until the named condition has the status and reason.
func (h *harness) waitCondition(name, condType string, status metav1.ConditionStatus, reason string) *arcgisv1alpha1.ArcGISToken {
	h.t.Helper()
	var got *arcgisv1alpha1.ArcGISToken
	h.eventually(fmt.Sprintf("%s %s=%s/%s", name, condType, status, reason), func() (bool, string) {
		got = h.get(name)
		c := meta.FindStatusCondition(got.Status.Conditions, condType)
		if c == nil {
			return false, "no condition yet"
		}
		return c.Status == status && c.Reason == reason && c.ObservedGeneration == got.Generation,
			fmt.Sprintf("%s=%s/%s %q (observedGeneration %d, generation %d)", condType, c.Status, c.Reason, c.Message, c.ObservedGeneration, got.Generation)
	})
	return got
}

// stepUntil moves the fake clock on by 30 seconds at a time, poking the
// ArcGISToken, until done holds: for retries that wait out a backoff.
func (h *harness) stepUntil(name, what string, done func() bool) {
	h.t.Helper()
	h.eventually(what, func() (bool, string) {
		if done() {
			return true, ""
		}
		h.step(30*time.Second, name)
		time.Sleep(200 * time.Millisecond)
		return false, "not yet"
	})
}

// stepUntilReady steps the clock until the ArcGISToken is Ready.
func (h *harness) stepUntilReady(name string) {
	h.t.Helper()
	h.stepUntil(name, name+" Ready after retries", func() bool {
		return meta.IsStatusConditionTrue(h.get(name).Status.Conditions, arcgisv1alpha1.ConditionReady)
	})
}

// waitReady waits for Ready=True.
func (h *harness) waitReady(name string) *arcgisv1alpha1.ArcGISToken {
	h.t.Helper()
	return h.waitCondition(name, arcgisv1alpha1.ConditionReady, metav1.ConditionTrue, arcgisv1alpha1.ReasonTokenIssued)
}

// waitToken waits until the Secret holds a token other than old.
func (h *harness) waitToken(secretName, old string) string {
	h.t.Helper()
	var token string
	h.eventually("a new token in Secret "+secretName, func() (bool, string) {
		s := &corev1.Secret{}
		if err := k8sClient.Get(h.ctx, client.ObjectKey{Namespace: h.ns, Name: secretName}, s); err != nil {
			return false, err.Error()
		}
		token = string(s.Data[arcgisv1alpha1.SecretKeyToken])
		return token != "" && token != old, "token unchanged"
	})
	return token
}

// calls counts requests to a simulator endpoint, whatever their outcome.
func (h *harness) calls(endpoint string) int {
	return h.sim.Counters().Total(endpoint)
}

// events lists the events about an ArcGISToken, oldest first.
func (h *harness) events(name string) []eventsv1.Event {
	h.t.Helper()
	list := &eventsv1.EventList{}
	if err := k8sClient.List(h.ctx, list, client.InNamespace(h.ns)); err != nil {
		h.t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Regarding.Kind == "ArcGISToken" {
			out = append(out, e)
		}
	}
	return out
}

// waitEvent waits for an event with the reason about an ArcGISToken.
func (h *harness) waitEvent(name, reason string) eventsv1.Event {
	h.t.Helper()
	var found eventsv1.Event
	h.eventually("event "+reason+" on "+name, func() (bool, string) {
		var reasons []string
		for _, e := range h.events(name) {
			if e.Reason == reason {
				found = e
				return true, ""
			}
			reasons = append(reasons, e.Reason)
		}
		return false, "events so far: " + strings.Join(reasons, ",")
	})
	return found
}

// quiesce waits until the managers made no API write for a while.
func (h *harness) quiesce() {
	h.t.Helper()
	total := func() int {
		h.mu.Lock()
		defer h.mu.Unlock()
		n := 0
		for _, w := range h.allWrites {
			n += w.total()
		}
		return n
	}
	last, stable := total(), 0
	for stable < 6 {
		time.Sleep(50 * time.Millisecond)
		if n := total(); n != last {
			last, stable = n, 0
		} else {
			stable++
		}
	}
}

// writeCounter counts the manager's writes to the API server, by resource.
// Events and leases are not counted: they are not the operator's objects.
// It can also fail the next writes of a kind, as an API server under load
// or with a conflicting writer would.
type writeCounter struct {
	mu     sync.Mutex
	counts map[string]int
	fail   map[string]failure
	hang   map[string]chan struct{}
	// skip lets that many writes of a hung kind pass before the hang.
	skip map[string]int
}

// hangNext makes the next write of kind block until its request is
// cancelled, as a manager killed in the middle of it would never finish it.
// The returned channel is closed when that write started.
func (w *writeCounter) hangNext(kind string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.hang == nil {
		w.hang = map[string]chan struct{}{}
	}
	started := make(chan struct{})
	w.hang[kind] = started
	return started
}

// hangAfter is hangNext for the write of kind after the next n.
func (w *writeCounter) hangAfter(kind string, n int) <-chan struct{} {
	started := w.hangNext(kind)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.skip == nil {
		w.skip = map[string]int{}
	}
	w.skip[kind] = n
	return started
}

type failure struct {
	n      int
	status int
}

// failNext makes the next n writes of kind ("POST secrets", "PATCH
// arcgistokens/status") fail with the HTTP status (409 Conflict, 500, 503).
func (w *writeCounter) failNext(kind string, n, status int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail == nil {
		w.fail = map[string]failure{}
	}
	w.fail[kind] = failure{n: n, status: status}
}

func (w *writeCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method == http.MethodGet || strings.Contains(req.URL.Path, "/events") || strings.Contains(req.URL.Path, "/leases") {
			return rt.RoundTrip(req)
		}
		kind := req.Method + " " + resourceOf(req.URL.Path)
		w.mu.Lock()
		if w.counts == nil {
			w.counts = map[string]int{}
		}
		w.counts[kind]++
		f := w.fail[kind]
		if f.n > 0 {
			w.fail[kind] = failure{n: f.n - 1, status: f.status}
		}
		started, hang := w.hang[kind]
		if hang && w.skip[kind] > 0 {
			w.skip[kind]--
			hang = false
		} else {
			delete(w.hang, kind)
		}
		w.mu.Unlock()
		if f.n > 0 {
			return apiError(req, f.status), nil
		}
		if hang {
			close(started)
			<-req.Context().Done()
			return nil, req.Context().Err()
		}
		return rt.RoundTrip(req)
	})
}

// apiError is what the API server answers when it refuses a write.
func apiError(req *http.Request, status int) *http.Response {
	reason := map[int]string{409: "Conflict", 500: "InternalError", 503: "ServiceUnavailable"}[status]
	body := fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected by the test","reason":%q,"code":%d}`, reason, status)
	return &http.Response{
		StatusCode: status,
		Header:     http.Header{"Content-Type": []string{"application/json"}},
		Body:       io.NopCloser(strings.NewReader(body)),
		Request:    req,
	}
}

func (w *writeCounter) total() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.counts {
		n += c
	}
	return n
}

func (w *writeCounter) snapshot() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int, len(w.counts))
	for k, v := range w.counts {
		out[k] = v
	}
	return out
}

// resourceOf turns an API path into "secrets" or "arcgistokens/status".
func resourceOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range parts {
		if p == "namespaces" && i+2 < len(parts) {
			rest := parts[i+2:]
			if len(rest) >= 3 {
				return rest[0] + "/" + rest[2]
			}
			return rest[0]
		}
	}
	return path
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// syncBuffer collects the manager's log.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ctrlConfigForTests lets every test start its own manager with a controller
// of the same name in one process.
func ctrlConfigForTests() ctrlconfig.Controller {
	return ctrlconfig.Controller{SkipNameValidation: ptr.To(true)}
}
