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
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
)

// A service comes back after three calls in a row succeed, and a recovery
// stays known after the next failure: the second soak of issue 14 (10% of
// calls failing at random after the outage) showed that forgetting it on
// every random 503 released almost nobody.
func TestServiceHealthRemembersRecoveries(t *testing.T) {
	t.Parallel()
	s := newServiceHealth()
	at := func(sec int) time.Time { return time.Date(2026, 12, 6, 5, 0, sec, 0, time.UTC) }
	const host = "gis.example.com"

	objectFailed := at(0)
	s.failed(host, objectFailed) // an object's failure, in an outage
	if s.succeeded(host, at(1)) || s.succeeded(host, at(2)) {
		t.Fatal("recovered after fewer than three calls in a row")
	}
	if got := s.upAfter(host, objectFailed); !got.IsZero() {
		t.Fatalf("up after %s at two successes", got)
	}
	if !s.succeeded(host, at(3)) {
		t.Fatal("not recovered after three calls in a row")
	}
	if got := s.upAfter(host, objectFailed); !got.Equal(at(3)) {
		t.Fatalf("upAfter = %s, want %s", got, at(3))
	}

	// A flaky service fails a call again: the recovery after the object's
	// failure still stands.
	s.failed(host, objectFailed)
	if got := s.upAfter(host, objectFailed); !got.Equal(at(3)) {
		t.Fatalf("after a later failure upAfter = %s, want the recovery at %s", got, at(3))
	}
	// An object that failed after that recovery waits for the next one.
	if got := s.upAfter(host, at(4)); !got.IsZero() {
		t.Fatalf("an object that failed at %s is up after %s", at(4), got)
	}
	// One lucky call of a mostly failing service releases nobody.
	s.succeeded(host, at(5))
	s.failed(host, at(5))
	s.succeeded(host, at(6))
	s.succeeded(host, at(7))
	if got := s.upAfter(host, at(4)); !got.IsZero() {
		t.Fatalf("up after %s without three calls in a row", got)
	}
	if !s.succeeded(host, at(8)) || !s.upAfter(host, at(4)).Equal(at(8)) {
		t.Fatalf("upAfter = %s, want %s", s.upAfter(host, at(4)), at(8))
	}

	// Other hosts, no host, no failure time.
	if !s.upAfter("other.example.com", objectFailed).IsZero() || !s.upAfter(host, time.Time{}).IsZero() {
		t.Error("a recovery of one host released another, or an object with no failure")
	}
	if s.succeeded("", at(9)) {
		t.Error("an empty host recovered")
	}

	// Memory stays bounded whatever the flakiness.
	for i := range 10 * maxRecoveries {
		s.failed(host, objectFailed)
		for j := range healthyAfter {
			s.succeeded(host, at(10).Add(time.Duration(i*healthyAfter+j)*time.Millisecond))
		}
	}
	if n := len(s.hosts[host].recoveries); n != maxRecoveries {
		t.Errorf("%d recoveries remembered, want at most %d", n, maxRecoveries)
	}
}

// An outage holds the service's calls back after openAfter failures in a
// row: one trial call every trialEvery, by the first object due, and the
// first answer ends it.
func TestServiceHealthHoldsCallsInAnOutage(t *testing.T) {
	t.Parallel()
	s := newServiceHealth()
	start := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	const host = "gis.example.com"
	admitted := func(now time.Time) bool {
		ok, _, _ := s.admit(host, now)
		return ok
	}

	for i := range openAfter - 1 {
		s.failed(host, at(0))
		if !admitted(at(time.Duration(i) * time.Millisecond)) {
			t.Fatalf("held after %d failures in a row, want %d", i+1, openAfter)
		}
	}
	// A success in between starts the count again: a flaky service is
	// never held.
	s.succeeded(host, at(0))
	for range openAfter - 1 {
		s.failed(host, at(0))
	}
	if !admitted(at(0)) {
		t.Fatal("held after a success and fewer than openAfter failures")
	}
	s.failed(host, at(0))
	ok, trialAt, fails := s.admit(host, at(time.Second))
	if ok || !trialAt.Equal(at(trialEvery)) || fails != openAfter {
		t.Fatalf("admit after %d failures = %t, trial at %s, %d failures; want held until %s", openAfter, ok, trialAt, fails, at(trialEvery))
	}
	if !admitted(at(trialEvery)) {
		t.Fatal("the trial call was refused")
	}
	// One trial per period, whoever asks.
	for d := trialEvery; d < 2*trialEvery; d += 100 * time.Millisecond {
		if admitted(at(d)) {
			t.Fatalf("a second call admitted at %s within the trial period", d)
		}
	}
	s.failed(host, at(trialEvery+time.Second)) // the trial failed
	if _, _, fails := s.admit(host, at(trialEvery+time.Second)); fails != openAfter+1 {
		t.Errorf("failures in a row = %d, want %d", fails, openAfter+1)
	}
	if !admitted(at(2 * trialEvery)) {
		t.Fatal("the next trial was refused")
	}
	// The trial's answer ends the hold at once and counts as the recovery.
	if !s.succeeded(host, at(2*trialEvery)) {
		t.Fatal("the trial's success is not a recovery")
	}
	if !s.upAfter(host, at(0)).Equal(at(2 * trialEvery)) {
		t.Errorf("upAfter = %s, want %s", s.upAfter(host, at(0)), at(2*trialEvery))
	}
	for i := range 100 {
		if !admitted(at(2*trialEvery + time.Duration(i)*time.Millisecond)) {
			t.Fatal("calls still held after the service answered")
		}
	}
	// Other hosts and no host are never held.
	for range 2 * openAfter {
		s.failed(host, at(time.Minute))
	}
	if ok, _, _ := s.admit("other.example.com", at(time.Minute)); !ok {
		t.Error("an outage of one host held another")
	}
	if ok, _, _ := s.admit("", at(time.Minute)); !ok {
		t.Error("an object without a host was held")
	}
}

// blockingLister is a client whose List of ArcGISTokens waits for release
// and counts the Lists running at once.
type blockingLister struct {
	client.Client
	items   []arcgisv1alpha1.ArcGISToken
	release chan struct{}

	mu            sync.Mutex
	running, most int
	calls         int
}

func (c *blockingLister) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	c.mu.Lock()
	c.calls++
	c.running++
	c.most = max(c.most, c.running)
	c.mu.Unlock()
	<-c.release
	c.mu.Lock()
	c.running--
	c.mu.Unlock()
	list.(*arcgisv1alpha1.ArcGISTokenList).Items = c.items
	return nil
}

// A flaky service at 10,000 ArcGISTokens recovers every few seconds, and
// each recovery lists every ArcGISToken to release those that wait on it.
// The releases of one host run one at a time: recoveries that come while one
// runs make it run once more (an object that failed after its list was taken
// is released too), not a goroutine and a list of every object each.
func TestServiceRecoveriesReleaseOneAtATime(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tok := &arcgisv1alpha1.ArcGISToken{
		ObjectMeta: metav1.ObjectMeta{Namespace: "gis", Name: "a"},
		Spec:       arcgisv1alpha1.ArcGISTokenSpec{URL: "https://gis.example.com/portal"},
		Status:     arcgisv1alpha1.ArcGISTokenStatus{LastFailureReason: arcgisv1alpha1.ReasonServiceUnavailable},
	}
	c := &blockingLister{items: []arcgisv1alpha1.ArcGISToken{*tok}, release: make(chan struct{})}
	r := &ArcGISTokenReconciler{Client: c, Clock: clocktesting.NewFakeClock(time.Now()), memory: newMemory(),
		releases: workqueue.NewTyped[string](), recoveries: make(chan event.GenericEvent)}
	go func() { _ = r.releaseRecovered(ctx) }()
	released := make(chan string, 100)
	go func() {
		for {
			select {
			case e := <-r.recoveries:
				released <- e.Object.GetName()
			case <-ctx.Done():
				return
			}
		}
	}()

	recoverOnce := func() {
		r.serviceFailed(tok, arcgisv1alpha1.ReasonServiceUnavailable)
		for range healthyAfter {
			r.serviceAnswered(tok)
		}
	}
	// The first recovery's release reads the ArcGISTokens; the others come
	// while it does.
	recoverOnce()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		c.mu.Lock()
		started := c.calls > 0
		c.mu.Unlock()
		if started {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the recovery released nothing")
		}
	}
	const recoveries = 10
	for range recoveries - 1 {
		recoverOnce()
	}
	// Every recovery is queued before serviceAnswered returns; give any
	// release started for one time to reach List.
	time.Sleep(200 * time.Millisecond)
	c.mu.Lock()
	most := c.most
	c.mu.Unlock()
	close(c.release)
	if most != 1 {
		t.Errorf("%d releases of one host listed at once, want 1", most)
	}
	next := func() string {
		select {
		case name := <-released:
			return name
		case <-time.After(10 * time.Second):
			t.Fatal("no ArcGISToken released")
			return ""
		}
	}
	if got := next(); got != "a" {
		t.Fatalf("released %q, want a", got)
	}
	// The recoveries during the first release run it once more, and no more.
	if got := next(); got != "a" {
		t.Fatalf("released %q, want a", got)
	}
	time.Sleep(200 * time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls != 2 || len(released) != 0 {
		t.Errorf("%d lists and %d more releases after %d recoveries during a release, want 2 lists and none", c.calls, len(released), recoveries)
	}
}
