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

// The deterministic simulation of the core, the way FoundationDB tests its
// own: the real Reconcile, called directly over controller-runtime's fake
// client and the ArcGIS simulator (HTTPS on loopback), one fake clock for
// the reconciler, the ArcGIS client, the account guard and the simulator, and
// an event-time queue in place of the workqueue. Each seed draws a world
// (caps, clock skew, wording, several ArcGISTokens, some sharing an account)
// and a week of faults (outages, flaky calls, clock jumps, lock-outs,
// revocations, wrong passwords and fixes, refused Secret and status writes,
// restarts, spec changes), and the invariants of sim_invariants_test.go are
// checked after every step. Only a seeded math/rand/v2 source decides
// anything, so a seed replays identically:
//
//	make simulate SEED=123             # one seed, with its trace
//	make simulate SEEDS=200            # seeds 1..200
//	make simulate SEEDS=200 STRICT=1   # also fail on failingToday

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/accountguard"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
)

// simDefaultSeeds is how many seeds `make test` runs: as many as fit in
// about a minute and a half on two shared cores (see docs/development.md).
const simDefaultSeeds = 16

const simDays = 7

// simTraceTail is how many steps of the trace a failure prints.
const simTraceTail = 30

func simEnvSeeds(t *testing.T) []uint64 {
	if v := os.Getenv("SIMULATE_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SIMULATE_SEED=%q: %v", v, err)
		}
		return []uint64{s}
	}
	n := simDefaultSeeds
	if v := os.Getenv("SIMULATE_SEEDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("SIMULATE_SEEDS=%q: want a positive number", v)
		}
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	return seeds
}

func simStrict() bool { return os.Getenv("SIMULATE_STRICT") == "1" }

func simDaysFromEnv(t *testing.T) int {
	if v := os.Getenv("SIMULATE_DAYS"); v != "" {
		d, err := strconv.Atoi(v)
		if err != nil || d < 1 {
			t.Fatalf("SIMULATE_DAYS=%q: want a positive number", v)
		}
		return d
	}
	return simDays
}

func TestSimulation(t *testing.T) {
	seeds := simEnvSeeds(t)
	days, strict := simDaysFromEnv(t), simStrict()
	verbose := len(seeds) == 1
	start := time.Now()
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			w := runSimulation(t, simConfig{seed: seed, days: days, strict: strict, survey: os.Getenv("SIMULATE_SURVEY") == "1"})
			if verbose {
				t.Logf("trace of seed %d:\n%s", seed, strings.Join(w.trace, "\n"))
			}
			reportSimulation(t, w)
		})
	}
	t.Cleanup(func() {
		t.Logf("%d seeds × %d simulated days in %s", len(seeds), days, time.Since(start).Round(time.Millisecond))
	})
}

func runSimulation(t *testing.T, cfg simConfig) *simWorld {
	t.Helper()
	w, err := newSimWorld(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.run()
	return w
}

// replayCommand says how to run one seed again.
func replayCommand(seed uint64, strict bool) string {
	s := ""
	if strict {
		s = " STRICT=1"
	}
	env := ""
	if strict {
		env = " SIMULATE_STRICT=1"
	}
	return fmt.Sprintf("make simulate SEED=%d%s   (or: SIMULATE_SEED=%d%s KUBEBUILDER_ASSETS=$PWD/bin/k8s go test ./controllers -run '^TestSimulation$' -count=1 -v)",
		seed, s, seed, env)
}

// reportSimulation fails the test on the seed's violations, with the replay
// command and the end of the trace, and logs the known ones.
func reportSimulation(t *testing.T, w *simWorld) {
	t.Helper()
	t.Logf("seed %d: %d reconciles, %d restarts, %d faults planned; simulated until %s",
		w.cfg.seed, w.reconciles, w.restarts, w.seq, fmtElapsed(w.elapsed()))
	for _, v := range w.known {
		t.Logf("seed %d: known failure (failingToday: %s) %s at %s: %s", w.cfg.seed, failingToday[v.invariant], v.invariant, fmtElapsed(v.at), v.detail)
	}
	if len(w.violations) == 0 {
		return
	}
	v := w.violations[0]
	tail := w.trace[max(0, len(w.trace)-simTraceTail):]
	t.Errorf("seed %d broke invariant %s at %s: %s\n(%s)\nreplay: %s\nlast %d steps:\n%s",
		w.cfg.seed, v.invariant, fmtElapsed(v.at), v.detail, simInvariants[v.invariant],
		replayCommand(w.cfg.seed, w.cfg.strict && failingToday[v.invariant] != ""), len(tail), strings.Join(tail, "\n"))
}

// A seed replays identically: same trace, step by step.
func TestSimulationReplaysIdentically(t *testing.T) {
	t.Parallel()
	cfg := simConfig{seed: 7, days: 2, strict: true}
	a := runSimulation(t, cfg)
	b := runSimulation(t, cfg)
	if a.reconciles < 50 {
		t.Errorf("only %d reconciles in two days: the replay proves little", a.reconciles)
	}
	for i := range max(len(a.trace), len(b.trace)) {
		var la, lb string
		if i < len(a.trace) {
			la = a.trace[i]
		}
		if i < len(b.trace) {
			lb = b.trace[i]
		}
		if la != lb {
			t.Fatalf("seed %d did not replay identically; step %d:\nfirst run:  %s\nsecond run: %s", cfg.seed, i, la, lb)
		}
	}
}

// The invariants catch bugs planted on purpose.
func TestSimulationCatchesPlantedBugs(t *testing.T) {
	t.Parallel()
	wrongPassword := func(at, d time.Duration) simEvent {
		return simEvent{at: at, what: "wrong password in creds-alice", do: func(w *simWorld) {
			c := w.creds[0]
			w.editCredentials(c, "not-alice-s-password-0")
			w.schedule(w.after(d), "creds-alice fixed", func(w *simWorld) { w.editCredentials(c, c.good) })
		}}
	}
	tokenOutage := func(at, d time.Duration) simEvent {
		return simEvent{at: at, what: "generateToken outage", do: func(w *simWorld) {
			w.injectSimFault(arcgissim.Fault{Endpoint: arcgissim.EndpointPortalGenerateToken, Kind: arcgissim.FaultStatus, Status: 503},
				"503 on generateToken", d)
		}}
	}
	// An outage of the whole service as every object is asked to renew:
	// their backoffs start together.
	wholeOutage := func(at, d time.Duration) simEvent {
		return simEvent{at: at, what: "outage of the whole service, every object renewing", do: func(w *simWorld) {
			w.injectSimFault(arcgissim.Fault{Kind: arcgissim.FaultStatus, Status: 503}, "503 on everything", d)
			for _, o := range w.objects {
				tok := w.token(o)
				orig := tok.DeepCopy()
				metav1.SetMetaDataAnnotation(&tok.ObjectMeta, arcgisv1alpha1.RenewAtAnnotation, w.now().Format(time.RFC3339))
				if err := w.raw.Patch(context.Background(), tok, client.MergeFrom(orig)); err != nil {
					w.violate("world", "asking %s to renew: %v", o.name, err)
				}
				w.enqueue(o)
			}
		}}
	}
	tests := map[string]struct {
		plant *simPlant
		want  string
	}{
		"a service health that never holds a failing service's calls": {
			plant: &simPlant{
				operator: func(w *simWorld, r *ArcGISTokenReconciler) { r.memory.services.openAfter = math.MaxInt },
				script:   []simEvent{wholeOutage(2*time.Hour, 3*time.Hour)},
			},
			want: "outage-calls",
		},
		"an issuer that asks for every token twice": {
			plant: &simPlant{operator: func(w *simWorld, r *ArcGISTokenReconciler) {
				r.Issuer = doubleIssuer{r.Issuer}
			}},
			want: "one-call-per-rotation",
		},
		"a reconciler whose clock runs three hours late": {
			plant: &simPlant{operator: func(w *simWorld, r *ArcGISTokenReconciler) {
				r.Clock = lateClock{w.clock, 3 * time.Hour}
			}},
			want: "secret-fresh",
		},
		"a status patch after every reconcile, changed or not": {
			plant: &simPlant{after: func(w *simWorld, o *simObject) {
				tok := w.token(o)
				if tok != nil {
					_ = w.op.Status().Patch(context.Background(), tok, client.MergeFrom(tok.DeepCopy()))
				}
			}},
			want: "write-changes",
		},
		"conditions that always say Ready": {
			plant: &simPlant{
				after: func(w *simWorld, o *simObject) {
					tok := w.token(o)
					if tok == nil {
						return
					}
					orig := tok.DeepCopy()
					meta.SetStatusCondition(&tok.Status.Conditions, metav1.Condition{Type: arcgisv1alpha1.ConditionReady,
						Status: metav1.ConditionTrue, Reason: arcgisv1alpha1.ReasonTokenIssued, Message: "all is well"})
					meta.SetStatusCondition(&tok.Status.Conditions, metav1.Condition{Type: arcgisv1alpha1.ConditionIssuing,
						Status: metav1.ConditionFalse, Reason: arcgisv1alpha1.ReasonUpToDate, Message: "all is well"})
					_ = w.raw.Status().Patch(context.Background(), tok, client.MergeFrom(orig))
				},
				script: []simEvent{tokenOutage(2*time.Hour, 3*time.Hour)},
			},
			want: "failure-visible",
		},
		"a reconciler that forgets when it last checked a token": {
			plant: func() *simPlant {
				var op *ArcGISTokenReconciler
				return &simPlant{
					operator: func(w *simWorld, r *ArcGISTokenReconciler) { op = r },
					// Forget the checks, and look again a minute later.
					after: func(w *simWorld, o *simObject) {
						op.memory.mu.Lock()
						clear(op.memory.probes)
						op.memory.mu.Unlock()
						w.enqueueAt(o, w.now().Add(time.Minute))
					},
				}
			}(),
			want: "probe-spacing",
		},
		"an account guard that never says no": {
			plant: &simPlant{
				operator: func(w *simWorld, r *ArcGISTokenReconciler) {
					r.Accounts = accountguard.New(accountguard.Options{Clock: w.clock, MaxAttemptsPerWindow: 1000,
						BackoffBase: time.Second, BackoffMax: time.Second, LockoutDuration: time.Second})
				},
				// Forget each object's own backoff too: only the guard stood in the way.
				after: func(w *simWorld, o *simObject) {
					tok := w.token(o)
					if tok == nil || tok.Status.LastFailureTime == nil {
						return
					}
					orig := tok.DeepCopy()
					tok.Status.FailedAttempts, tok.Status.LastFailureTime = 0, nil
					_ = w.raw.Status().Patch(context.Background(), tok, client.MergeFrom(orig))
					w.enqueueAt(o, w.now().Add(time.Minute))
				},
				script: []simEvent{wrongPassword(time.Hour, 2*time.Hour)},
			},
			want: "failed-logins",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// The same world without the bug keeps the invariant: what is
			// caught is the bug, not the world.
			control := runSimulation(t, simConfig{seed: 1, days: 1, calm: true, survey: true,
				plant: &simPlant{script: tc.plant.script}})
			for _, v := range control.known {
				if v.invariant == tc.want {
					t.Fatalf("without the planted bug, %s already fails at %s: %s", v.invariant, fmtElapsed(v.at), v.detail)
				}
			}
			w := runSimulation(t, simConfig{seed: 1, days: 1, strict: true, calm: true, plant: tc.plant})
			for _, v := range w.violations {
				if v.invariant == tc.want {
					t.Logf("caught: %s at %s: %s", v.invariant, fmtElapsed(v.at), v.detail)
					return
				}
			}
			t.Errorf("the planted bug went unnoticed: want a violation of %s, got %v\nlast steps:\n%s",
				tc.want, w.violations, strings.Join(w.trace[max(0, len(w.trace)-simTraceTail):], "\n"))
		})
	}
}

// doubleIssuer asks for every token twice and keeps the second.
type doubleIssuer struct{ arcgis.TokenIssuer }

func (d doubleIssuer) IssueToken(ctx context.Context, req arcgis.TokenRequest) (*arcgis.Token, error) {
	if _, err := d.TokenIssuer.IssueToken(ctx, req); err != nil {
		return nil, err
	}
	return d.TokenIssuer.IssueToken(ctx, req)
}

// lateClock runs behind the world's clock.
type lateClock struct {
	c    interface{ Now() time.Time }
	late time.Duration
}

func (l lateClock) Now() time.Time                  { return l.c.Now().Add(-l.late) }
func (l lateClock) Since(t time.Time) time.Duration { return l.Now().Sub(t) }
