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

// The world of the deterministic simulation (see simulation_test.go): the
// real reconciler, called directly, over controller-runtime's fake client and
// the ArcGIS simulator over HTTPS on loopback, with one fake clock, an
// event-time queue instead of a workqueue, and seeded faults.

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/accountguard"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
	"github.com/tokenoperator/arcgis-token-operator/internal/tokenspec"
)

// simEpoch is where every seed's clock starts: a fixed instant, so that a
// seed replays identically.
var simEpoch = time.Date(2026, time.March, 2, 8, 0, 0, 0, time.UTC)

const simNamespace = "sim"

// newSimOperator is what a manager start builds: a reconciler with a new
// ArcGIS client, a new account guard and empty memory, over the given API
// client. It is the one place that knows how the reconciler is wired; adapt
// it when the core's fields change (compare startManager in harness_test.go
// and SetupWithManager).
func newSimOperator(c client.Client, clk clock.PassiveClock, rec events.EventRecorder) *ArcGISTokenReconciler {
	r := &ArcGISTokenReconciler{
		Client:    c,
		APIReader: c,
		Issuer:    arcgis.New(arcgis.Options{Clock: clk, Timeout: 10 * time.Second, MaxConcurrentPerHost: 4}),
		Accounts:  accountguard.New(accountguard.Options{Clock: clk}),
		Recorder:  rec,
		Clock:     clk,
	}
	r.memory = newMemory()
	// No metadata informers: referenced Secrets are always read directly.
	r.refs = newRefReader(c, func(string) client.Reader { return nil })
	return r
}

// simConfig is one run of the simulation.
type simConfig struct {
	seed uint64
	days int
	// strict fails on every invariant; otherwise the invariants in
	// failingToday are checked and reported but do not fail.
	strict bool
	// survey notes the first violation of every invariant and goes on, to
	// list what fails (SIMULATE_SURVEY=1).
	survey bool
	// calm generates no random faults: only plant.script happens.
	calm  bool
	plant *simPlant
}

// simPlant is a bug planted on purpose, to show that an invariant catches it.
type simPlant struct {
	// operator doctors each new operator (at start and at every restart).
	operator func(w *simWorld, r *ArcGISTokenReconciler)
	// after runs after each reconcile, as if it were part of it.
	after func(w *simWorld, o *simObject)
	// script are the faults of the run, at times after the start.
	script []simEvent
}

// simObject is one ArcGISToken and what the invariants track about it.
type simObject struct {
	name    string
	uid     types.UID
	typ     arcgisv1alpha1.ServiceType
	creds   *simCreds
	account string // the simulator's account (arcgissim.AccountKey)
	created time.Time

	queued   bool
	next     time.Time
	failures int // consecutive reconcile errors: the workqueue's backoff

	// Invariant state.
	token        string      // the Secret's token as last seen (memory only)
	rotations    int         // how many tokens the Secret held
	pendingOK    int         // successful token calls since the last rotation
	lastIssue    time.Time   // the last successful token call
	forced       bool        // inputs changed or tokens revoked since lastIssue
	recent       []time.Time // reconciles within the last minute
	expiredToken string      // the expired token already reported
	// The last check of the stored token: when, whether the check itself
	// worked, and the rotations and restarts then (a new token or a
	// restart starts the checks' timing again).
	lastProbe                    time.Time
	lastProbeOK                  bool
	probeRotations, probeRestart int
}

// simCreds is a credentials Secret.
type simCreds struct {
	name      string
	uid       types.UID
	oauth     bool
	user      string // username or client ID
	good      string // what the service accepts
	current   string // what the Secret holds
	edits     int
	disturbed *simDisturbance // open while current != good
}

// simDisturbance is a span during which the world kept some objects from
// renewing: invariant secret-fresh does not hold them to it, during the span
// and for grace after it.
type simDisturbance struct {
	what       string
	scope      string // "all", "creds:<name>", "account:<key>"
	start, end time.Time
	open       bool
	grace      time.Duration
	// wholeLife: excuses every token alive during the span (a clock jump
	// moves an expiry the operator already planned for).
	wholeLife bool
}

// simEvent is a scheduled fault or fix.
type simEvent struct {
	at   time.Duration // after the start
	seq  int
	what string
	do   func(w *simWorld)
}

// simWriteFault refuses the operator's writes of one kind.
type simWriteFault struct {
	target    string // "secret" or "status"
	err       func(name string) error
	errName   string
	remaining int       // > 0: that many writes; 0: until
	until     time.Time // zero when count-limited only
	disturbed *simDisturbance
}

// reconcileLog is what happened during one reconcile.
type reconcileLog struct {
	obj           *simObject
	writes        []string
	refusedSecret int
	refusedStatus bool
	noopWrites    []string
	events        []string
}

// simViolation is a broken invariant.
type simViolation struct {
	invariant string
	at        time.Duration
	detail    string
}

// simWorld is one seed's world.
type simWorld struct {
	cfg simConfig
	// rng draws the world and each fault's details as it happens; plan
	// draws the agenda of faults, so that a shorter run is a prefix of a
	// longer one.
	rng   *rand.Rand
	plan  *rand.Rand
	clock *clocktesting.FakeClock
	sim   *arcgissim.Simulator
	raw   client.WithWatch // the API state, written by the world
	api   client.WithWatch // the operator's view, with faults and checks
	rec   *simRecorder
	op    *ArcGISTokenReconciler
	agent *http.Client // someone else logging in (lock-outs)

	service        arcgissim.Config
	serverAtPortal bool
	objects        []*simObject
	creds          []*simCreds

	agenda      []simEvent
	seq         int
	simFault    *simDisturbance // at most one simulator fault at a time
	outage      *simOutage      // a simulator fault that fails every call
	secretFault *simWriteFault
	statusFault *simWriteFault
	disturbs    []*simDisturbance
	// agentAttempts are the indexes of the simulator's login attempts made
	// by the agent, per account: not the operator's.
	agentAttempts map[string]map[int]bool
	loginsChecked map[string]int

	cur        *reconcileLog
	trace      []string
	violations []simViolation
	known      []simViolation // failingToday, not strict
	knownSeen  map[string]bool
	stopped    string
	reconciles int
	restarts   int
}

func (w *simWorld) now() time.Time         { return w.clock.Now() }
func (w *simWorld) elapsed() time.Duration { return w.now().Sub(simEpoch) }
func (w *simWorld) end() time.Time         { return simEpoch.Add(time.Duration(w.cfg.days) * 24 * time.Hour) }
func (w *simWorld) logf(f string, args ...any) {
	w.trace = append(w.trace, fmtElapsed(w.elapsed())+" "+fmt.Sprintf(f, args...))
}

// fmtElapsed writes a simulated time as +DdHHhMMmSSs.
func fmtElapsed(d time.Duration) string {
	d = d.Truncate(time.Second)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	d -= m * time.Minute
	return fmt.Sprintf("+%dd%02dh%02dm%02ds", days, h, m, d/time.Second)
}

// newSimWorld builds the world of a seed: the simulator with the seed's
// caps, clock skew and wording, the credentials, and the ArcGISTokens.
func newSimWorld(cfg simConfig) (*simWorld, error) {
	w := &simWorld{
		cfg:           cfg,
		rng:           rand.New(rand.NewPCG(cfg.seed, 0x5eed_a4c6_15)),
		plan:          rand.New(rand.NewPCG(cfg.seed, 0x91a2_a4c6_15)),
		clock:         clocktesting.NewFakeClock(simEpoch),
		agentAttempts: map[string]map[int]bool{},
		loginsChecked: map[string]int{},
		knownSeen:     map[string]bool{},
	}
	rng := w.rng
	pick := func(vs ...int) int { return vs[rng.IntN(len(vs))] }

	users := []struct{ name, password string }{
		{"alice", "alice-correct-horse-battery-1"},
		{"bob", "bob-correct-horse-battery-22"},
	}
	const appID, appSecret = "simAppId0001", "sim-app-secret-0d5b7c9e"
	simCfg := arcgissim.Config{
		Users:              map[string]string{users[0].name: users[0].password, users[1].name: users[1].password},
		Apps:               map[string]string{appID: appSecret},
		Clock:              w.clock,
		PortalMaxMinutes:   pick(20160, 20160, 240, 120, 60, 30, 10, 5),
		ServerShortMinutes: pick(60, 60, 30),
		ServerLongMinutes:  pick(1440, 240, 120, 60),
		PortalAliases:      []string{"/arcgis"},
	}
	if !cfg.calm {
		simCfg.ServerTokensAtPortal = rng.IntN(3) == 0
		simCfg.ClockOffset = time.Duration(rng.IntN(241)-120) * time.Second
		if rng.IntN(4) == 0 {
			simCfg.Wording = arcgissim.Wording{
				LoginFailure: []arcgissim.LoginWording{arcgissim.LoginWordingIncorrect, arcgissim.LoginWordingInvalidCredentials, arcgissim.LoginWordingHTTP401}[rng.IntN(3)],
			}
		}
		if rng.IntN(4) == 0 {
			simCfg.Wording.Lockout = arcgissim.LockoutWordingUnknown
		}
	}
	w.service = simCfg
	w.serverAtPortal = simCfg.ServerTokensAtPortal
	sim, err := arcgissim.New(simCfg)
	if err != nil {
		return nil, err
	}
	if err := sim.Start(); err != nil {
		return nil, err
	}
	w.sim = sim
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(sim.CAPEM())
	w.agent = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}

	// The plain object tracker: the field-managed one builds a REST mapper
	// of the whole scheme on every patch, and the operator never applies.
	w.raw = fake.NewClientBuilder().WithScheme(scheme).
		WithObjectTracker(clienttesting.NewObjectTracker(scheme, serializer.NewCodecFactory(scheme).UniversalDecoder())).
		WithStatusSubresource(&arcgisv1alpha1.ArcGISToken{}).Build()
	w.api = interceptor.NewClient(w.raw, w.interceptors())
	w.rec = &simRecorder{w: w}
	w.startOperator()

	ctx := context.Background()
	ca := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "arcgis-ca", Namespace: simNamespace, UID: "uid-ca"},
		Data: map[string]string{"ca.crt": string(sim.CAPEM())}}
	if err := w.raw.Create(ctx, ca); err != nil {
		return nil, err
	}
	for _, u := range users {
		w.creds = append(w.creds, &simCreds{name: "creds-" + u.name, user: u.name, good: u.password, current: u.password})
	}
	w.creds = append(w.creds, &simCreds{name: "creds-app", oauth: true, user: appID, good: appSecret, current: appSecret})
	for _, c := range w.creds {
		c.uid = types.UID("uid-" + c.name)
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: c.name, Namespace: simNamespace, UID: c.uid}, Data: c.data()}
		if err := w.raw.Create(ctx, s); err != nil {
			return nil, err
		}
	}

	// Several ArcGISTokens, the first two sharing alice's account (through
	// two doors of one portal when the second is a portal token too).
	n := 3 + rng.IntN(3)
	if cfg.calm {
		n = 3
	}
	doors := sim.PortalURLs()
	for i := range n {
		typ := []arcgisv1alpha1.ServiceType{arcgisv1alpha1.ServiceTypePortal, arcgisv1alpha1.ServiceTypePortal,
			arcgisv1alpha1.ServiceTypeServer, arcgisv1alpha1.ServiceTypeServer, arcgisv1alpha1.ServiceTypeOAuth}[rng.IntN(5)]
		if cfg.calm {
			typ = arcgisv1alpha1.ServiceTypePortal
		}
		creds := w.creds[0]
		if i >= 2 && rng.IntN(3) == 0 {
			creds = w.creds[1]
		}
		if typ == arcgisv1alpha1.ServiceTypeOAuth {
			creds = w.creds[2]
		}
		tok := &arcgisv1alpha1.ArcGISToken{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("tok-%d", i), Namespace: simNamespace,
				UID: types.UID(fmt.Sprintf("uid-tok-%d-%d", cfg.seed, i)), Generation: 1},
			Spec: arcgisv1alpha1.ArcGISTokenSpec{
				Type:              typ,
				URL:               doors[0],
				CredentialsRef:    arcgisv1alpha1.CredentialsReference{Name: creds.name},
				Referer:           testReferer,
				ExpirationMinutes: int32(pick(60, 60, 120, 240, 1440, 30)),
				CABundleRef:       &arcgisv1alpha1.CABundleReference{Name: "arcgis-ca"},
			},
		}
		if cfg.calm {
			tok.Spec.ExpirationMinutes = 60
		}
		account := arcgissim.AccountKey(arcgissim.RealmPortal, creds.user)
		switch typ {
		case arcgisv1alpha1.ServiceTypePortal:
			if !cfg.calm {
				tok.Spec.URL = doors[rng.IntN(len(doors))]
			}
		case arcgisv1alpha1.ServiceTypeServer:
			tok.Spec.URL = sim.ServerURL()
			if !w.serverAtPortal {
				account = arcgissim.AccountKey(arcgissim.RealmServer, creds.user)
			}
		case arcgisv1alpha1.ServiceTypeOAuth:
			account = arcgissim.AccountKey(arcgissim.RealmOAuth, creds.user)
		}
		if !cfg.calm {
			w.randomRenewal(tok, simCfg)
			switch rng.IntN(4) {
			case 0:
				tok.Spec.ValidationInterval = &metav1.Duration{Duration: 30 * time.Minute}
			case 1:
				tok.Spec.ValidationInterval = &metav1.Duration{Duration: time.Hour}
			}
		}
		if err := w.raw.Create(ctx, tok); err != nil {
			return nil, err
		}
		o := &simObject{name: tok.Name, uid: tok.UID, typ: typ, creds: creds, account: account, created: w.now()}
		w.objects = append(w.objects, o)
		w.enqueue(o)
		w.logf("create %s: %s as %s via %s, expirationMinutes %d, renewBefore %s, renewBeforePercentage %s",
			o.name, typ, account, doorName(tok.Spec.URL), tok.Spec.ExpirationMinutes, fmtDuration(tok.Spec.RenewBefore), fmtPercent(tok.Spec.RenewBeforePercentage))
	}
	w.logf("world: portal cap %dm, server caps %dm/%dm, clock offset %s, server logins at portal %v, wording %+v",
		simCfg.PortalMaxMinutes, simCfg.ServerShortMinutes, simCfg.ServerLongMinutes, simCfg.ClockOffset, simCfg.ServerTokensAtPortal, simCfg.Wording)

	if cfg.plant != nil {
		for _, e := range cfg.plant.script {
			w.schedule(e.at, e.what, e.do)
		}
	}
	if !cfg.calm {
		w.planFaults()
	}
	return w, nil
}

func doorName(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Hostname() + p.Path
}

func fmtDuration(d *metav1.Duration) string {
	if d == nil {
		return "-"
	}
	return d.Duration.String()
}

func fmtPercent(p *int32) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

// randomRenewal sets renewBefore or renewBeforePercentage, now and then
// near or above the lifetime the service grants (the renewal cliff).
func (w *simWorld) randomRenewal(tok *arcgisv1alpha1.ArcGISToken, c arcgissim.Config) {
	tok.Spec.RenewBefore, tok.Spec.RenewBeforePercentage = nil, nil
	granted := time.Duration(tok.Spec.ExpirationMinutes) * time.Minute
	cap := time.Duration(c.PortalMaxMinutes) * time.Minute
	if tok.Spec.Type == arcgisv1alpha1.ServiceTypeServer {
		cap = time.Duration(c.ServerLongMinutes) * time.Minute
	}
	granted = min(granted, cap)
	switch w.rng.IntN(8) {
	case 0:
		tok.Spec.RenewBeforePercentage = ptr.To(int32(10 + w.rng.IntN(80)))
	case 1:
		tok.Spec.RenewBefore = &metav1.Duration{Duration: granted / time.Duration(2+w.rng.IntN(4))}
	case 2:
		// Near or above the granted lifetime.
		tok.Spec.RenewBefore = &metav1.Duration{Duration: granted + time.Duration(w.rng.IntN(7)-4)*time.Second}
	}
}

func (c *simCreds) data() map[string][]byte {
	if c.oauth {
		return map[string][]byte{"client_id": []byte(c.user), "client_secret": []byte(c.current)}
	}
	return map[string][]byte{"username": []byte(c.user), "password": []byte(c.current)}
}

// startOperator starts (or restarts) the operator: whatever the previous one
// held in memory is gone, and every object is reconciled, as after a
// manager's initial list.
func (w *simWorld) startOperator() {
	w.op = newSimOperator(w.api, w.clock, w.rec)
	if w.outage != nil {
		clear(w.outage.hosts) // a new operator knows nothing of the outage
	}
	if w.cfg.plant != nil && w.cfg.plant.operator != nil {
		w.cfg.plant.operator(w, w.op)
	}
	for _, o := range w.objects {
		o.pendingOK = 0
		o.failures = 0
		w.enqueue(o)
	}
}

// enqueue makes an object due now, as a watch event would.
func (w *simWorld) enqueue(o *simObject) { w.enqueueAt(o, w.now()) }

func (w *simWorld) enqueueAt(o *simObject, at time.Time) {
	if !o.queued || at.Before(o.next) {
		o.queued, o.next = true, at
	}
}

// schedule adds an event to the agenda, after the start.
func (w *simWorld) schedule(at time.Duration, what string, do func(*simWorld)) {
	w.seq++
	e := simEvent{at: at, seq: w.seq, what: what, do: do}
	i, _ := slices.BinarySearchFunc(w.agenda, e, func(a, b simEvent) int {
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq))
	})
	w.agenda = slices.Insert(w.agenda, i, e)
}

// run drives the world to its end: the next event (a due reconcile or a
// fault), the clock moved to it, invariants checked after each.
func (w *simWorld) run() {
	defer func() { _ = w.sim.Close() }()
	end := w.end()
	for w.stopped == "" {
		var o *simObject
		for _, c := range w.objects {
			if c.queued && (o == nil || c.next.Before(o.next)) {
				o = c
			}
		}
		var e *simEvent
		if len(w.agenda) > 0 {
			e = &w.agenda[0]
		}
		switch {
		case e != nil && (o == nil || !simEpoch.Add(e.at).After(o.next)) && !simEpoch.Add(e.at).After(end):
			w.moveTo(simEpoch.Add(e.at))
			ev := *e
			w.agenda = w.agenda[1:]
			w.logf("fault: %s", ev.what)
			ev.do(w)
		case o != nil && !o.next.After(end):
			w.moveTo(o.next)
			w.reconcile(o)
		default:
			w.moveTo(end)
			return
		}
		w.checkLogins()
	}
}

func (w *simWorld) moveTo(t time.Time) {
	if t.After(w.now()) {
		w.clock.SetTime(t)
		w.checkFreshAll()
	}
	w.expireFaults()
}

// reconcile runs the operator's Reconcile once for an object, the way a
// controller worker would, and schedules its next reconcile.
func (w *simWorld) reconcile(o *simObject) {
	o.queued = false
	w.reconciles++
	before := w.sim.Counters()
	w.cur = &reconcileLog{obj: o}
	ctx, cancel := context.WithTimeout(logf.IntoContext(context.Background(), logr.Discard()), 30*time.Second)
	start := time.Now() // real time, for the hang check only
	res, err := w.callReconcile(ctx, o)
	hung := time.Since(start) > 25*time.Second
	cancel()
	if w.cfg.plant != nil && w.cfg.plant.after != nil {
		w.cfg.plant.after(w, o)
	}
	after := w.sim.Counters()
	calls := callsDuring(before, after)

	// What the workqueue does with the result.
	switch {
	case err != nil:
		o.failures++
		d := time.Second << min(o.failures-1, 20)
		w.enqueueAt(o, w.now().Add(min(d, maxAPIBackoff)))
	case res.RequeueAfter > 0:
		o.failures = 0
		w.enqueueAt(o, w.now().Add(res.RequeueAfter))
	default:
		o.failures = 0
	}

	tok := w.token(o)
	line := fmt.Sprintf("reconcile %s: calls [%s] writes [%s]", o.name, strings.Join(calls.list, " "), strings.Join(w.cur.writes, " "))
	if len(w.cur.events) > 0 {
		line += " events [" + strings.Join(w.cur.events, " ") + "]"
	}
	line += " -> " + conditionSummary(tok)
	if err != nil {
		line += " error " + errorClass(err)
	}
	if o.queued {
		line += " next " + fmtElapsed(o.next.Sub(simEpoch))
	}
	w.logf("%s", line)
	if hung {
		w.violate("reconcile-returns", "Reconcile of %s took more than 25 s of real time (a wait that never ends on a fake clock)", o.name)
	}
	w.checkReconcile(o, tok, res, err, calls)
	w.cur = nil
}

// callReconcile turns a panic into an invariant violation.
func (w *simWorld) callReconcile(ctx context.Context, o *simObject) (res ctrl.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			w.violate("reconcile-panics", "Reconcile of %s panicked: %v", o.name, p)
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return w.op.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: simNamespace, Name: o.name}})
}

// errorClass names an error without its message (which holds ports).
func errorClass(err error) string {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return string(apierrors.ReasonForError(err))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "DeadlineExceeded"
	}
	return "other"
}

func conditionSummary(tok *arcgisv1alpha1.ArcGISToken) string {
	if tok == nil {
		return "gone"
	}
	var parts []string
	for _, t := range []string{arcgisv1alpha1.ConditionReady, arcgisv1alpha1.ConditionIssuing} {
		if c := meta.FindStatusCondition(tok.Status.Conditions, t); c != nil {
			parts = append(parts, fmt.Sprintf("%s=%s/%s", t, c.Status, c.Reason))
		}
	}
	return strings.Join(parts, " ")
}

// simCalls is what the simulator saw during one reconcile.
type simCalls struct {
	list     []string // "endpoint=outcome×n", sorted
	okIssues int      // successful token calls
	failures []string // failed calls, probes' 498 aside
	// probes counts checks of a stored token; probesFailed those that
	// failed for another reason than a 498.
	probes, probesFailed int
}

// probeEndpoints are where stored tokens are checked.
var probeEndpoints = []string{arcgissim.EndpointPortalSelf, arcgissim.EndpointServerServices}

// tokenEndpoints are where tokens are issued (and passwords checked).
var tokenEndpoints = []string{
	arcgissim.EndpointPortalGenerateToken, arcgissim.EndpointServerGenerateToken,
	arcgissim.EndpointAdminGenerateToken, arcgissim.EndpointOAuthToken,
}

func callsDuring(before, after arcgissim.Counters) simCalls {
	var c simCalls
	endpoints := make([]string, 0, len(after.Requests))
	for e := range after.Requests {
		endpoints = append(endpoints, e)
	}
	slices.Sort(endpoints)
	for _, e := range endpoints {
		outcomes := make([]string, 0, len(after.Requests[e]))
		for out := range after.Requests[e] {
			outcomes = append(outcomes, out)
		}
		slices.Sort(outcomes)
		for _, out := range outcomes {
			n := after.Requests[e][out] - before.Requests[e][out]
			if n <= 0 {
				continue
			}
			c.list = append(c.list, fmt.Sprintf("%s=%s×%d", e, out, n))
			isToken := slices.Contains(tokenEndpoints, e)
			if slices.Contains(probeEndpoints, e) {
				c.probes += n
				if out != arcgissim.OutcomeOK && out != arcgissim.OutcomeInvalidToken {
					c.probesFailed += n
				}
			}
			switch {
			case out == arcgissim.OutcomeOK:
				if isToken {
					c.okIssues += n
				}
			case out == arcgissim.OutcomeInvalidToken && !isToken:
				// A probe found the token revoked: news, not a failure.
			default:
				c.failures = append(c.failures, e+"="+out)
			}
		}
	}
	return c
}

// token reads an ArcGISToken from the API state, nil when it is gone.
func (w *simWorld) token(o *simObject) *arcgisv1alpha1.ArcGISToken {
	tok := &arcgisv1alpha1.ArcGISToken{}
	if err := w.raw.Get(context.Background(), types.NamespacedName{Namespace: simNamespace, Name: o.name}, tok); err != nil {
		return nil
	}
	return tok
}

// secret reads an object's output Secret, nil when there is none.
func (w *simWorld) secret(tok *arcgisv1alpha1.ArcGISToken) *corev1.Secret {
	s := &corev1.Secret{}
	if err := w.raw.Get(context.Background(), types.NamespacedName{Namespace: simNamespace, Name: tokenspec.SecretName(tok)}, s); err != nil {
		return nil
	}
	return s
}

// interceptors inject the write faults and check that every write changes
// something.
func (w *simWorld) interceptors() interceptor.Funcs {
	secretWrite := func(verb string, obj client.Object, write func() error) error {
		if _, ok := obj.(*corev1.Secret); !ok {
			return write()
		}
		if w.cur != nil {
			w.cur.writes = append(w.cur.writes, "secret:"+verb)
		}
		if err := w.takeFault(w.secretFault, obj.GetName()); err != nil {
			if w.cur != nil {
				w.cur.refusedSecret++
				w.cur.writes[len(w.cur.writes)-1] += "(refused:" + string(apierrors.ReasonForError(err)) + ")"
			}
			return err
		}
		return write()
	}
	return interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			return secretWrite("create", obj, func() error { return c.Create(ctx, obj, opts...) })
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			return secretWrite("update", obj, func() error {
				return w.checkChange(ctx, c, "update", obj, func() error { return c.Update(ctx, obj, opts...) })
			})
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			return secretWrite("patch", obj, func() error {
				return w.checkChange(ctx, c, "patch", obj, func() error { return c.Patch(ctx, obj, patch, opts...) })
			})
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			return secretWrite("delete", obj, func() error { return c.Delete(ctx, obj, opts...) })
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			return w.statusWrite(ctx, c, "patch", obj, func() error { return c.SubResource(sub).Patch(ctx, obj, patch, opts...) })
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			return w.statusWrite(ctx, c, "update", obj, func() error { return c.SubResource(sub).Update(ctx, obj, opts...) })
		},
	}
}

func (w *simWorld) statusWrite(ctx context.Context, c client.Client, verb string, obj client.Object, write func() error) error {
	if w.cur != nil {
		w.cur.writes = append(w.cur.writes, "status:"+verb)
	}
	if err := w.takeFault(w.statusFault, obj.GetName()); err != nil {
		if w.cur != nil {
			w.cur.refusedStatus = true
			w.cur.writes[len(w.cur.writes)-1] += "(refused:" + string(apierrors.ReasonForError(err)) + ")"
		}
		return err
	}
	return w.checkChange(ctx, c, "status "+verb, obj, write)
}

// checkChange runs a write and records it when the stored object is the
// same after it as before (resourceVersion aside).
func (w *simWorld) checkChange(ctx context.Context, c client.Reader, verb string, obj client.Object, write func() error) error {
	before, ok := obj.DeepCopyObject().(client.Object)
	if !ok {
		return write()
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), before); err != nil {
		return write()
	}
	if err := write(); err != nil {
		return err
	}
	after, _ := obj.DeepCopyObject().(client.Object)
	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), after); err != nil {
		return nil
	}
	for _, o := range []client.Object{before, after} {
		o.SetResourceVersion("")
		o.SetManagedFields(nil)
	}
	if equality.Semantic.DeepEqual(before, after) && w.cur != nil {
		kind := "ArcGISToken"
		if _, isSecret := obj.(*corev1.Secret); isSecret {
			kind = "Secret"
		}
		w.cur.noopWrites = append(w.cur.noopWrites, fmt.Sprintf("%s %s %s", verb, kind, obj.GetName()))
	}
	return nil
}

// takeFault returns the error of an active write fault, counting it down.
func (w *simWorld) takeFault(f *simWriteFault, name string) error {
	if f == nil || w.cur == nil {
		return nil
	}
	if !f.until.IsZero() && !w.now().Before(f.until) {
		return nil
	}
	if f.remaining > 0 {
		f.remaining--
		if f.remaining == 0 {
			w.endWriteFault(f)
		}
	}
	return f.err(name)
}

func (w *simWorld) endWriteFault(f *simWriteFault) {
	w.closeDisturbance(f.disturbed)
	if w.secretFault == f {
		w.secretFault = nil
	}
	if w.statusFault == f {
		w.statusFault = nil
	}
}

// expireFaults ends the faults whose time is up.
func (w *simWorld) expireFaults() {
	for _, f := range []*simWriteFault{w.secretFault, w.statusFault} {
		if f != nil && !f.until.IsZero() && !w.now().Before(f.until) {
			w.endWriteFault(f)
		}
	}
}

func (w *simWorld) disturb(what, scope string, grace time.Duration) *simDisturbance {
	d := &simDisturbance{what: what, scope: scope, start: w.now(), open: true, grace: grace}
	w.disturbs = append(w.disturbs, d)
	return d
}

func (w *simWorld) closeDisturbance(d *simDisturbance) {
	if d != nil && d.open {
		d.open, d.end = false, w.now()
	}
}

// affects says whether a disturbance concerns an object.
func (d *simDisturbance) affects(o *simObject) bool {
	switch {
	case d.scope == "all":
		return true
	case strings.HasPrefix(d.scope, "creds:"):
		return d.scope == "creds:"+o.creds.name
	case strings.HasPrefix(d.scope, "account:"):
		return d.scope == "account:"+o.account
	}
	return false
}

// quiet says whether nothing kept an object from renewing between from and
// to; lifeStart is when its token was issued (for clock jumps).
func (w *simWorld) quiet(o *simObject, lifeStart, from, to time.Time) bool {
	for _, d := range w.disturbs {
		if !d.affects(o) {
			continue
		}
		f := from
		if d.wholeLife {
			f = lifeStart
		}
		if !d.start.After(to) && (d.open || !d.end.Add(d.grace).Before(f)) {
			return false
		}
	}
	return true
}

// simRecorder captures events.
type simRecorder struct{ w *simWorld }

var _ events.EventRecorder = (*simRecorder)(nil)

func (r *simRecorder) Eventf(regarding runtime.Object, _ runtime.Object, eventtype, reason, _, _ string, _ ...any) {
	name := ""
	if m, err := meta.Accessor(regarding); err == nil {
		name = m.GetName()
	}
	if r.w.cur != nil {
		e := eventtype + "/" + reason
		if name != r.w.cur.obj.name {
			e += "(" + name + ")"
		}
		r.w.cur.events = append(r.w.cur.events, e)
	}
}

// API errors the fake API server answers refused writes with.
var simAPIErrors = []struct {
	name string
	err  func(gr schema.GroupResource, name string) error
}{
	{"Invalid", func(gr schema.GroupResource, name string) error {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, name, field.ErrorList{
			field.Invalid(field.NewPath("metadata", "labels"), "gis apps!", "a valid label must be an empty string or consist of alphanumeric characters")})
	}},
	{"Forbidden", func(gr schema.GroupResource, name string) error {
		return apierrors.NewForbidden(gr, name, errors.New(`admission webhook "policy.example.com" denied the request`))
	}},
	{"Conflict", func(gr schema.GroupResource, name string) error {
		return apierrors.NewConflict(gr, name, errors.New("the object has been modified; please apply your changes to the latest version and try again"))
	}},
	{"InternalError", func(gr schema.GroupResource, name string) error {
		return apierrors.NewInternalError(errors.New("etcdserver: request timed out"))
	}},
	{"ServiceUnavailable", func(gr schema.GroupResource, name string) error {
		return apierrors.NewServiceUnavailable("the API server is shutting down")
	}},
}
