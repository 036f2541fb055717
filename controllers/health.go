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
	"net/url"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/reasons"
)

// healthyAfter is how many calls in a row must succeed before a service that
// failed counts as up again. One success in a mostly failing service must
// not release every object it held back.
const healthyAfter = 3

// serviceHealth remembers, per ArcGIS host, whether the service answers: an
// outage grows every object's backoff to its cap (5 minutes), and the objects
// must not wait that out once the service is back (policies.RetryAt). It
// learns from the calls the reconciler makes anyway (generateToken and the
// checks of stored tokens); it makes none of its own.
type serviceHealth struct {
	mu    sync.Mutex
	hosts map[string]*hostHealth
}

type hostHealth struct {
	streak  int       // calls in a row that succeeded
	failed  bool      // a call failed since the host was last up
	upSince time.Time // when the streak reached healthyAfter after a failure
}

func newServiceHealth() *serviceHealth {
	return &serviceHealth{hosts: map[string]*hostHealth{}}
}

// failed records a call that found the service unavailable.
func (s *serviceHealth) failed(host string) {
	if host == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.get(host)
	h.streak, h.failed, h.upSince = 0, true, time.Time{}
}

// succeeded records a call the service answered. It returns true when the
// service is up again after failing: the objects it held back can retry.
func (s *serviceHealth) succeeded(host string, now time.Time) (recovered bool) {
	if host == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.get(host)
	h.streak++
	if h.failed && h.streak >= healthyAfter {
		h.failed, h.upSince = false, now
		return true
	}
	return false
}

// upSince is when the service came back after its last failure; zero when
// it has not failed since the start, or is failing now.
func (s *serviceHealth) upSince(host string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, ok := s.hosts[host]; ok {
		return h.upSince
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
	if r.memory.services.succeeded(host, r.Clock.Now()) && r.recoveries != nil {
		go r.releaseWaiting(host)
	}
}

func (r *ArcGISTokenReconciler) serviceFailed(tok *arcgisv1alpha1.ArcGISToken, reason string) {
	if reasons.Lookup(reason).EndsWithRecovery {
		r.memory.services.failed(serviceHost(tok))
	}
}

// releaseWaiting queues the ArcGISTokens of a host whose last failure was
// the service's: their next reconcile plans the retry within
// policies.RecoverySpread.
func (r *ArcGISTokenReconciler) releaseWaiting(host string) {
	list := &arcgisv1alpha1.ArcGISTokenList{}
	if err := r.List(context.Background(), list, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	for i := range list.Items {
		tok := &list.Items[i]
		if !reasons.Lookup(tok.Status.LastFailureReason).EndsWithRecovery || serviceHost(tok) != host {
			continue
		}
		select {
		case r.recoveries <- event.GenericEvent{Object: tok}:
		case <-r.stopping:
			return
		}
	}
}
