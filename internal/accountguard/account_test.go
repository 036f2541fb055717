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

package accountguard_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/accountguard"
)

// TestGuardAcquireDeadline: a login that waits for others of its account
// gives up after AcquireTimeout with a Denied saying when to come back, not
// an error, so that one slow account cannot hold a worker (issue 10, defect 9).
func TestGuardAcquireDeadline(t *testing.T) {
	t.Parallel()
	g, clk := newGuard(accountguard.Options{})
	held := admit(t, g, key, fpBad) // unknown account: one at a time
	done := make(chan error, 1)
	go func() {
		p, err := g.Acquire(context.Background(), key, fpBad, "token-2")
		if p != nil {
			p.Release(accountguard.Inconclusive, 0)
		}
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !clk.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("Acquire does not wait on the clock")
		}
		time.Sleep(time.Millisecond)
	}
	clk.Step(9 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("gave up before the 10s deadline: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	clk.Step(time.Second)
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Acquire still waits after the deadline")
	}
	var d *accountguard.Denied
	if !errors.As(err, &d) || !d.Busy {
		t.Fatalf("Acquire = %v, want a Busy *Denied", err)
	}
	checkDenied(t, d, arcgisv1alpha1.ReasonServiceUnavailable, start.Add(20*time.Second))
	held.Release(accountguard.Rejected, 0)
	// The wait left nothing behind: the account's own rules apply.
	checkDenied(t, deny(t, g, key, fpBad), arcgisv1alpha1.ReasonInvalidCredentials, start.Add(10*time.Second+backoffBase))
}

// TestGuardPrunesIdleAccounts: accounts with nothing left to remember are
// dropped; those with a login in flight, a lock-out, a recent failure or
// success are kept.
func TestGuardPrunesIdleAccounts(t *testing.T) {
	t.Parallel()
	g, clk := newGuard(accountguard.Options{})
	for i := range 100 {
		k := fmt.Sprintf("user https://gis.example.com/portal/sharing/rest/generatetoken user%d", i)
		outcome := []accountguard.Outcome{accountguard.Success, accountguard.Rejected, accountguard.Inconclusive, accountguard.Locked}[i%4]
		admit(t, g, k, fpBad).Release(outcome, 0)
	}
	held := admit(t, g, "user https://gis.example.com/portal/sharing/rest/generatetoken busy", fpBad)
	if n := g.Len(); n != 101 {
		t.Fatalf("Len = %d, want 101", n)
	}
	clk.Step(16 * time.Minute) // past the window and the lock-out, not the backoff's memory
	admit(t, g, key, fpNew).Release(accountguard.Success, 0)
	// Kept: 25 with failures (their count spaces the next attempts), 25
	// locked, the one in flight, and the new one.
	if n := g.Len(); n != 52 {
		t.Errorf("after 16m Len = %d, want 52", n)
	}
	clk.Step(2*time.Hour + time.Minute)
	admit(t, g, key, fpNew).Release(accountguard.Success, 0)
	if n := g.Len(); n != 2 {
		t.Errorf("after 2h Len = %d, want 2 (the one in flight and the one just used)", n)
	}
	held.Release(accountguard.Success, 0)
	clk.Step(16 * time.Minute)
	admit(t, g, "user https://other.example.com/portal/sharing/rest/generatetoken x", fpNew).Release(accountguard.Inconclusive, 0)
	if n := g.Len(); n != 1 {
		t.Errorf("Len = %d, want 1", n)
	}
}

func TestOutcomeOf(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		login  bool
		reason string
		want   accountguard.Outcome
	}{
		"refused password":                  {true, arcgisv1alpha1.ReasonInvalidCredentials, accountguard.Rejected},
		"locked":                            {true, arcgisv1alpha1.ReasonAccountLocked, accountguard.Locked},
		"refused in unknown words":          {true, arcgisv1alpha1.ReasonBadRequest, accountguard.Rejected},
		"refused by a web tier":             {true, arcgisv1alpha1.ReasonPermissionDenied, accountguard.Rejected},
		"a JSON answer without a token":     {true, arcgisv1alpha1.ReasonInvalidResponse, accountguard.Rejected},
		"a reason nobody knows":             {true, "SomethingNew", accountguard.Rejected},
		"unavailable: transient":            {true, arcgisv1alpha1.ReasonServiceUnavailable, accountguard.Inconclusive},
		"no credentials sent: exchange 498": {false, arcgisv1alpha1.ReasonInvalidToken, accountguard.Inconclusive},
		"no credentials sent: discovery":    {false, arcgisv1alpha1.ReasonBadRequest, accountguard.Inconclusive},
	}
	for name, tc := range tests {
		if got := accountguard.OutcomeOf(tc.login, tc.reason); got != tc.want {
			t.Errorf("%s: OutcomeOf(%v, %q) = %v, want %v", name, tc.login, tc.reason, got, tc.want)
		}
	}
}

// TestGuardInvariantRandom: seeded random histories of many owners of one
// account, with wrong passwords, fixes, successes, lock-outs, outcomes that
// say nothing, and jumps of the clock. Whatever happens, at most 4 failed
// logins reach the account in any 15 minutes.
func TestGuardInvariantRandom(t *testing.T) {
	t.Parallel()
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 10))
		g, clk := newGuard(accountguard.Options{})
		var failures []time.Time
		current := "credfp-0" // what the service accepts
		owners := 1 + rng.IntN(8)
		creds := make([]string, owners)
		for i := range creds {
			creds[i] = fmt.Sprintf("credfp-%d", rng.IntN(3))
		}
		for step := range 400 {
			switch rng.IntN(10) {
			case 0: // someone edits a Secret
				creds[rng.IntN(owners)] = fmt.Sprintf("credfp-%d", rng.IntN(4))
			case 1: // the password changes on the service
				current = fmt.Sprintf("credfp-%d", rng.IntN(4))
			}
			i := rng.IntN(owners)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			p, err := g.Acquire(ctx, key, creds[i], fmt.Sprint(i))
			cancel()
			if err == nil {
				var out accountguard.Outcome
				switch {
				case rng.IntN(10) == 0:
					out = accountguard.Inconclusive
				case creds[i] == current:
					out = accountguard.Success
				default:
					out = accountguard.Rejected
					if rng.IntN(5) == 0 {
						out = accountguard.Locked
					}
					failures = append(failures, clk.Now())
				}
				p.Release(out, 0)
			} else if d := (*accountguard.Denied)(nil); !errors.As(err, &d) {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			clk.Step(time.Duration(rng.IntN(int(3*time.Minute/time.Second))) * time.Second)
		}
		slices.SortFunc(failures, time.Time.Compare)
		if most, at := maxInAnyWindow(failures, window); most > maxInWindow {
			t.Fatalf("seed %d: %d failed logins in the 15 minutes from %s, want at most %d", seed, most, at.Sub(start), maxInWindow)
		}
	}
}
