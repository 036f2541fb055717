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
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
)

func TestMemoryFreshest(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	secret := func(rv string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", ResourceVersion: rv}}
	}
	tests := map[string]struct {
		cached  *corev1.Secret
		name    string
		at      time.Time
		wantRV  string // "" for nil
		ownEcho bool   // isOwnWrite afterwards for rv "2"
	}{
		"cache behind the write":   {cached: secret("1"), name: "s", at: now, wantRV: "2", ownEcho: true},
		"cache missing the write":  {cached: nil, name: "s", at: now, wantRV: "2", ownEcho: true},
		"cache caught up":          {cached: secret("2"), name: "s", at: now, wantRV: "2", ownEcho: true},
		"changed by someone since": {cached: secret("3"), name: "s", at: now.Add(writtenSecretTTL + time.Second), wantRV: "3"},
		"another Secret name":      {cached: secret("1"), name: "other", at: now, wantRV: "1"},
		"write too old to trust":   {cached: secret("1"), name: "s", at: now.Add(writtenSecretTTL + time.Second), wantRV: "1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := newMemory()
			uid := types.UID("u")
			m.setWritten(uid, secret("2"), now)
			got := m.freshest(uid, tc.name, tc.cached, tc.at)
			gotRV := ""
			if got != nil {
				gotRV = got.ResourceVersion
			}
			if gotRV != tc.wantRV {
				t.Errorf("freshest = %q, want %q", gotRV, tc.wantRV)
			}
			if echo := m.isOwnWrite(uid, secret("2")); echo != tc.ownEcho {
				t.Errorf("isOwnWrite = %v, want %v", echo, tc.ownEcho)
			}
		})
	}
}

func TestMemoryPendingAndForget(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	m := newMemory()
	key := types.NamespacedName{Namespace: "ns", Name: "tok"}
	uid := types.UID("u1")
	m.track(key, uid)
	p := pendingToken{token: &arcgis.Token{Token: "t", Expires: now.Add(time.Hour)}, issuedFor: "a/b", renewRequest: "r"}
	m.setPending(uid, p)
	if _, ok := m.getPending(uid, "a/c", "r", now); ok {
		t.Errorf("a pending token was offered for other inputs")
	}
	m.setPending(uid, p)
	if _, ok := m.getPending(uid, "a/b", "r", now.Add(time.Hour)); ok {
		t.Errorf("an expired pending token was offered")
	}
	m.setPending(uid, p)
	if _, ok := m.getPending(uid, "a/b", "r", now); !ok {
		t.Errorf("the pending token was not offered for the same inputs")
	}
	// The echo of the write of the pending token, before the write returned.
	echo := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tok", ResourceVersion: "9", Annotations: map[string]string{
		arcgisv1alpha1.IssuedForAnnotation: "a/b", arcgisv1alpha1.IssuedAtAnnotation: p.issuedAt.UTC().Format(time.RFC3339)}}}
	if !m.isOwnWrite(uid, echo) {
		t.Errorf("the echo of the pending token's write was not recognised")
	}
	echo.Annotations[arcgisv1alpha1.IssuedForAnnotation] = "x/y"
	if m.isOwnWrite(uid, echo) {
		t.Errorf("a Secret written by someone else was taken for an echo")
	}
	m.setProbe(uid, probeState{at: now})
	m.setHold(uid, hold{until: now})
	m.setWritten(uid, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tok", ResourceVersion: "1"}}, now)

	// Re-created under the same name: the old object's entries go.
	m.track(key, "u2")
	if _, ok := m.getPending(uid, "a/b", "r", now); ok {
		t.Errorf("pending token kept for a replaced object")
	}
	if _, ok := m.probe(uid); ok {
		t.Errorf("probe state kept for a replaced object")
	}
	if _, ok := m.hold(uid); ok {
		t.Errorf("hold kept for a replaced object")
	}
	m.setPending("u2", p)
	m.setHold("u2", hold{until: now})
	m.forget(key)
	if _, ok := m.getPending("u2", "a/b", "r", now); ok {
		t.Errorf("pending token kept after forget")
	}
	if _, ok := m.hold("u2"); ok {
		t.Errorf("hold kept after forget")
	}
}

func TestMemorySweepsExpiredWrites(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	m := newMemory()
	for i := 0; i < sweepEvery; i++ {
		uid := types.UID(fmt.Sprint("old-", i))
		m.setWritten(uid, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", ResourceVersion: "1"}}, now)
		m.setStatus(uid, &arcgisv1alpha1.ArcGISTokenStatus{}, now)
	}
	later := now.Add(writtenSecretTTL + time.Second)
	for i := 0; i < sweepEvery; i++ {
		m.setStatus(types.UID(fmt.Sprint("new-", i)), &arcgisv1alpha1.ArcGISTokenStatus{}, later)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.written) != 0 {
		t.Errorf("%d expired written Secrets kept, want 0", len(m.written))
	}
	if len(m.status) != sweepEvery {
		t.Errorf("%d statuses kept, want the %d recent ones", len(m.status), sweepEvery)
	}
}
