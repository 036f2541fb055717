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
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
)

// tokenState is what the benchmark saw of one ArcGISToken.
type tokenState struct {
	sent          time.Time // the benchmark's create request started
	readySeen     time.Time // first time Ready=True was seen
	issuedAt      time.Time // status.issuedAt (seconds), latest
	issuedSeen    []time.Time
	lastValidated time.Time // the Validated condition's transition time (seconds), latest
	reason        string    // Ready's reason, latest
}

// tracker watches ArcGISTokens and records, with sub-second times on the
// benchmark's clock, when each became Ready and when each new token was
// issued.
type tracker struct {
	mu     sync.Mutex
	tokens map[string]*tokenState
	ready  int
}

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
	if c := meta.FindStatusCondition(tok.Status.Conditions, arcgisv1alpha1.ConditionReady); c != nil {
		s.reason = c.Reason
		if c.Status == metav1.ConditionTrue && s.readySeen.IsZero() {
			s.readySeen = now
			t.ready++
		}
	}
	if at := tok.Status.IssuedAt; at != nil && !at.Time.Equal(s.issuedAt) {
		s.issuedAt = at.Time
		s.issuedSeen = append(s.issuedSeen, now)
	}
	// The Validated condition moves when a check changes what it says;
	// checks that change nothing live in the manager's memory only.
	if c := meta.FindStatusCondition(tok.Status.Conditions, arcgisv1alpha1.ConditionValidated); c != nil {
		s.lastValidated = c.LastTransitionTime.Time
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
		c.issuedSeen = append([]time.Time(nil), v.issuedSeen...)
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
		out[k] = len(v.issuedSeen)
	}
	return out
}

// renewedSince counts the ArcGISTokens seen with more tokens than in base.
func (t *tracker) renewedSince(base map[string]int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k, b := range base {
		if s := t.tokens[k]; s != nil && len(s.issuedSeen) > b {
			n++
		}
	}
	return n
}

// notReady counts the Ready reasons of the ArcGISTokens that are not Ready,
// for error messages.
func (t *tracker) notReady() map[string]int {
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

// secretVersion is one content of an operator-written Secret: from seen on,
// it held a token that expires at expires.
type secretVersion struct {
	seen, expires time.Time
}

// secretTracker records every token each operator-written Secret held, and
// when the benchmark saw it.
type secretTracker struct {
	mu       sync.Mutex
	versions map[string][]secretVersion
	bad      int // Secrets whose expiry could not be read
}

func (t *secretTracker) observe(obj any) {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return
	}
	now := time.Now()
	exp, err := time.Parse(time.RFC3339, string(s.Data[arcgisv1alpha1.SecretKeyExpires]))
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.bad++
		return
	}
	vs := t.versions[s.Name]
	if n := len(vs); n > 0 && vs[n-1].expires.Equal(exp) {
		return
	}
	t.versions[s.Name] = append(vs, secretVersion{seen: now, expires: exp})
}

func (t *secretTracker) snapshot() map[string][]secretVersion {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string][]secretVersion, len(t.versions))
	for k, v := range t.versions {
		out[k] = append([]secretVersion(nil), v...)
	}
	return out
}

// watch starts an informer on obj's kind in ns (Secrets: only the
// operator's) that calls observe on every add and update.
func watch(ctx context.Context, cfg *rest.Config, ns string, obj client.Object, observe func(any)) error {
	opts := cache.Options{Scheme: scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}}
	if _, ok := obj.(*corev1.Secret); ok {
		opts.ByObject = map[client.Object]cache.ByObject{obj: {
			Label: labels.SelectorFromSet(labels.Set{arcgisv1alpha1.ManagedByLabel: arcgisv1alpha1.ManagedByValue}),
		}}
	}
	c, err := cache.New(cfg, opts)
	if err != nil {
		return err
	}
	inf, err := c.GetInformer(ctx, obj)
	if err != nil {
		return err
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    observe,
		UpdateFunc: func(_, o any) { observe(o) },
	}); err != nil {
		return err
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return fmt.Errorf("the benchmark's informer did not sync")
	}
	return nil
}

func startTracker(ctx context.Context, cfg *rest.Config, ns string) (*tracker, error) {
	t := &tracker{tokens: map[string]*tokenState{}}
	return t, watch(ctx, cfg, ns, &arcgisv1alpha1.ArcGISToken{}, t.observe)
}

func startSecretTracker(ctx context.Context, cfg *rest.Config, ns string) (*secretTracker, error) {
	t := &secretTracker{versions: map[string][]secretVersion{}}
	return t, watch(ctx, cfg, ns, &corev1.Secret{}, t.observe)
}
