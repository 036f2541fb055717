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
	"net/url"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/metrics"
	"github.com/tokenoperator/arcgis-token-operator/internal/reasons"
)

// healthyAfter is how many calls in a row must succeed before a service that
// failed counts as up again. One success in a mostly failing service must
// not release every object it held back.
const healthyAfter = 3

// openAfter is how many calls in a row must find a service unavailable
// before its calls are held back: a service that fails one call in ten fails
// five in a row about once in 100,000 calls, an outage at once.
const openAfter = 5

// trialEvery is how often a held-back service is called, by the first object
// due after it: one call per host every trialEvery while it fails, where
// every object would otherwise make its own calls at its own backoff.
const trialEvery = 5 * time.Second

// maxRecoveries bounds the recoveries remembered per host: a flaky service
// recovers after every failure, and an object needs only the first recovery
// after its own failure, within seconds of it.
const maxRecoveries = 64

// serviceHealth remembers, per ArcGIS service, whether it answers.
//
//   - While it fails (openAfter calls in a row found it unavailable), the
//     objects that use it do not call it: one call every trialEvery, made by
//     the first object due, tells when it is back (a circuit breaker, open
//     and half-open in its usual words). An outage would otherwise cost
//     every object its own calls, 40 a second for 1,000 objects.
//   - When it came back after failing: an outage grows every object's
//     backoff to its cap (5 minutes), and the objects must not wait that out
//     once the service is back (policies.RetryAt).
//
// It learns from the calls the reconciler makes anyway (generateToken and
// the checks of stored tokens); it makes none of its own.
type serviceHealth struct {
	mu    sync.Mutex
	hosts map[string]*hostHealth
	// openAfter is the constant openAfter, but where a test plants a
	// breaker that never holds.
	openAfter int
}

type hostHealth struct {
	streak int  // calls in a row that succeeded
	failed bool // a call failed since the host last recovered
	fails  int  // calls in a row that found the service unavailable
	// held says the service's calls are held back (fails reached
	// openAfter); trialAt is when the next object may call it.
	held    bool
	trialAt time.Time
	// recoveries are the times the host came back (healthyAfter calls in a
	// row after a failure), oldest first. A later failure does not undo
	// them: an object that failed before a recovery may retry even if the
	// service has failed a call since, as a flaky one does all the time.
	recoveries []time.Time
}

func newServiceHealth() *serviceHealth {
	return &serviceHealth{hosts: map[string]*hostHealth{}, openAfter: openAfter}
}

// failed records a call that found the service unavailable at now.
func (s *serviceHealth) failed(host string, now time.Time) {
	if host == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.get(host)
	h.streak, h.failed = 0, true
	h.fails++
	if h.fails >= s.openAfter && !h.held {
		h.held, h.trialAt = true, now.Add(trialEvery)
	}
}

// admit says whether an object may call the service at now. While the
// service's calls are held back, the first object at or after the trial time
// may, and the next trial is trialEvery later; the others are told when it is
// and how many calls in a row failed.
func (s *serviceHealth) admit(host string, now time.Time) (ok bool, trialAt time.Time, fails int) {
	if host == "" {
		return true, time.Time{}, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h, found := s.hosts[host]
	if !found || !h.held {
		return true, time.Time{}, 0
	}
	if !now.Before(h.trialAt) {
		h.trialAt = now.Add(trialEvery)
		return true, h.trialAt, h.fails
	}
	return false, h.trialAt, h.fails
}

// succeeded records a call the service answered. It returns true when the
// service is up again after failing: the objects it held back can retry. A
// service whose calls were held back is up at its first answer: its calls are
// no longer held, and a relapse holds them again after openAfter calls.
func (s *serviceHealth) succeeded(host string, now time.Time) (recovered bool) {
	if host == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.get(host)
	h.streak++
	h.fails = 0
	if h.failed && (h.streak >= healthyAfter || h.held) {
		h.failed, h.held = false, false
		if len(h.recoveries) == maxRecoveries {
			h.recoveries = append(h.recoveries[:0], h.recoveries[1:]...)
		}
		h.recoveries = append(h.recoveries, now)
		return true
	}
	return false
}

// upAfter is when the service first came back at or after t (an object's
// last failure); zero when it has not since.
func (s *serviceHealth) upAfter(host string, t time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.hosts[host]
	if !ok || t.IsZero() {
		return time.Time{}
	}
	for _, r := range h.recoveries {
		if !r.Before(t) {
			return r
		}
	}
	return time.Time{}
}

func (s *serviceHealth) get(host string) *hostHealth {
	h, ok := s.hosts[host]
	if !ok {
		h = &hostHealth{}
		s.hosts[host] = h
	}
	return h
}

// serviceHost is the host an ArcGISToken's calls go to, as serviceHealth
// keys it.
func serviceHost(tok *arcgisv1alpha1.ArcGISToken) string {
	u, err := url.Parse(tok.Spec.URL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}

// serviceAnswered and serviceFailed record the outcome of a call to the
// ArcGISToken's service; a recovery releases, through the controller's
// recovery source, the objects that wait on the service's failure.
func (r *ArcGISTokenReconciler) serviceAnswered(tok *arcgisv1alpha1.ArcGISToken) {
	host := serviceHost(tok)
	if r.memory.services.succeeded(host, r.Clock.Now()) && r.releases != nil {
		r.releases.Add(host)
	}
}

func (r *ArcGISTokenReconciler) serviceFailed(tok *arcgisv1alpha1.ArcGISToken, reason string) {
	if reasons.Lookup(reason).EndsWithRecovery {
		r.memory.services.failed(serviceHost(tok), r.Clock.Now())
	}
}

// serviceHeld says why the ArcGISToken must not call its service now, or
// returns "" when it may: the service's calls are held back after failing,
// and this object is not the one to try it.
func (r *ArcGISTokenReconciler) serviceHeld(tok *arcgisv1alpha1.ArcGISToken) string {
	host := serviceHost(tok)
	ok, trialAt, fails := r.memory.services.admit(host, r.Clock.Now())
	if ok {
		return ""
	}
	metrics.CallHeld(host)
	return fmt.Sprintf("the service at %s failed its last %d calls; it is called once every %s until it answers, next at %s",
		host, fails, trialEvery, formatTime(trialAt))
}

// releaseRecovered releases the ArcGISTokens waiting on each host that
// recovered, one host at a time, until ctx ends. A flaky service recovers
// every few seconds, and each release reads every ArcGISToken, so the queue
// holds a host once however often it recovers before its release starts,
// and a host that recovers while its release runs is released once more
// after it (the workqueue's dirty set), for the objects that failed after
// the read.
func (r *ArcGISTokenReconciler) releaseRecovered(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		r.releases.ShutDown()
	}()
	for {
		host, shutdown := r.releases.Get()
		if shutdown {
			return nil
		}
		r.releaseWaiting(ctx, host)
		r.releases.Done(host)
	}
}

// releaseWaiting queues the ArcGISTokens of a host whose last failure was
// the service's: their next reconcile plans the retry within
// policies.RecoverySpread.
func (r *ArcGISTokenReconciler) releaseWaiting(ctx context.Context, host string) {
	list := &arcgisv1alpha1.ArcGISTokenList{}
	if err := r.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		logf.FromContext(ctx).Error(err, "Could not list ArcGISTokens to release those waiting on a recovered service", "host", host)
		return
	}
	for i := range list.Items {
		tok := &list.Items[i]
		if !reasons.Lookup(tok.Status.LastFailureReason).EndsWithRecovery || serviceHost(tok) != host {
			continue
		}
		select {
		case r.recoveries <- event.GenericEvent{Object: tok}:
		case <-ctx.Done():
			return
		}
	}
}

// serviceUp is when the ArcGISToken's service first came back after the
// object's last failure (zero when it has not, or nothing failed).
func (r *ArcGISTokenReconciler) serviceUp(tok *arcgisv1alpha1.ArcGISToken) time.Time {
	if tok.Status.LastFailureTime == nil {
		return time.Time{}
	}
	return r.memory.services.upAfter(serviceHost(tok), tok.Status.LastFailureTime.Time)
}
