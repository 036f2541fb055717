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
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
)

// writtenSecretTTL bounds how long a Secret or a status the reconciler wrote
// is preferred over an informer cache that has not caught up with the write.
const writtenSecretTTL = 30 * time.Second

// memory is the reconciler's in-process state per ArcGISToken. None of it is
// needed for correctness after a restart; it saves calls to ArcGIS:
//
//   - pending holds a token that was issued but not yet stored (the Secret
//     write failed), so that the retry writes it instead of asking ArcGIS for
//     another one. Only a crash between the call and the write costs a call.
//   - written holds the Secret as last written, because the informer cache may
//     still serve the previous version; reading that one would make a fresh
//     token look due and cost a second call.
//   - probes holds when the stored token was last checked and how many
//     checks failed since (for reasons other than a revoked token): a check
//     that changes nothing costs no status write. After a restart it is
//     derived from the status (see lastProbe), so a check may come early
//     once, never late.
//   - holds holds the wait a service or the account guard asked for
//     (Retry-After, a lock-out), with its cause, on top of the backoff
//     recorded in status.
//   - services holds, per ArcGIS host, when the service came back after
//     failing: the objects an outage held back retry within seconds of its
//     recovery instead of waiting out backoffs that grew during it.
//   - status holds the status as last written: the reconciler is its only
//     writer, and a reconcile that starts before the informer cache caught up
//     with that write (another event for the same object) must not act on the
//     older status, where a failure just recorded is missing and a retry
//     would look due at once.
type memory struct {
	mu      sync.Mutex
	pending map[types.UID]pendingToken
	written map[types.UID]writtenSecret
	status  map[types.UID]writtenStatus
	uids    map[types.NamespacedName]types.UID
	writes  int // since the start, for sweepLocked

	probes map[types.UID]probeState
	holds  map[types.UID]hold

	// services is per host, not per object: whether the service answers
	// (see serviceHealth).
	services *serviceHealth
}

// probeState is when the stored token was last checked, and how many checks
// failed since.
type probeState struct {
	at       time.Time
	failures int32
}

// hold is a wait a service or the account guard asked for, and why.
type hold struct {
	until         time.Time
	reason, cause string
}

type pendingToken struct {
	token        *arcgis.Token
	issuedAt     time.Time
	issuedFor    string
	renewRequest string
}

type writtenStatus struct {
	status *arcgisv1alpha1.ArcGISTokenStatus
	at     time.Time
}

type writtenSecret struct {
	name, resourceVersion string
	// secret is the Secret as written, dropped once the cache has caught up.
	secret *corev1.Secret
	at     time.Time
}

func newMemory() *memory {
	return &memory{
		pending: map[types.UID]pendingToken{},
		written: map[types.UID]writtenSecret{},
		uids:    map[types.NamespacedName]types.UID{},
		status:  map[types.UID]writtenStatus{},
		probes:  map[types.UID]probeState{},
		holds:   map[types.UID]hold{},

		services: newServiceHealth(),
	}
}

func (m *memory) probe(uid types.UID) (probeState, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.probes[uid]
	return p, ok
}

func (m *memory) setProbe(uid types.UID, p probeState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.probes[uid] = p
}

func (m *memory) hold(uid types.UID) (hold, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.holds[uid]
	return h, ok
}

func (m *memory) setHold(uid types.UID, h hold) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.holds[uid] = h
}

func (m *memory) clearHold(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.holds, uid)
}

// track remembers which object a name stands for, so that forget can find its
// entries once it is gone. An object re-created under the same name gets a new
// UID, and the old one's entries are dropped.
func (m *memory) track(key types.NamespacedName, uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.uids[key]; ok && old != uid {
		m.forgetLocked(old)
	}
	m.uids[key] = uid
}

func (m *memory) setPending(uid types.UID, p pendingToken) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending[uid] = p
}

// getPending returns the pending token if it was issued for the same inputs
// and is still usable at now.
func (m *memory) getPending(uid types.UID, issuedFor, renewRequest string, now time.Time) (pendingToken, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pending[uid]
	if !ok {
		return pendingToken{}, false
	}
	if p.issuedFor != issuedFor || p.renewRequest != renewRequest || !now.Before(p.token.Expires) {
		delete(m.pending, uid)
		return pendingToken{}, false
	}
	return p, true
}

func (m *memory) clearPending(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pending, uid)
}

func (m *memory) setWritten(uid types.UID, s *corev1.Secret, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := s.DeepCopy()
	c.ManagedFields = nil
	m.written[uid] = writtenSecret{name: s.Name, resourceVersion: s.ResourceVersion, secret: c, at: now}
	m.sweepLocked(now)
}

// isOwnWrite says whether a Secret event is the echo of the reconciler's own
// write of that Secret: the version it last wrote, or the token it is
// writing (the watch event can arrive before the write call returns).
func (m *memory) isOwnWrite(owner types.UID, s *corev1.Secret) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w, ok := m.written[owner]; ok && w.name == s.Name && w.resourceVersion == s.ResourceVersion {
		// The informer delivers the event after storing the object: the
		// cache holds what was written, the copy is no longer needed.
		w.secret = nil
		m.written[owner] = w
		return true
	}
	p, ok := m.pending[owner]
	return ok && s.Annotations[arcgisv1alpha1.IssuedForAnnotation] == p.issuedFor &&
		s.Annotations[arcgisv1alpha1.IssuedAtAnnotation] == p.issuedAt.UTC().Format(time.RFC3339)
}

// freshest returns the Secret to trust: the cached one once the cache holds
// the version last written (or something else changed it since), the written
// one while the cache lags behind a recent write.
func (m *memory) freshest(uid types.UID, name string, cached *corev1.Secret, now time.Time) *corev1.Secret {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.written[uid]
	if !ok {
		return cached
	}
	if w.name != name || now.Sub(w.at) > writtenSecretTTL {
		delete(m.written, uid)
		return cached
	}
	if w.secret == nil || (cached != nil && cached.ResourceVersion == w.resourceVersion) {
		// Caught up. Keep the version for isOwnWrite, not the copy.
		w.secret = nil
		m.written[uid] = w
		return cached
	}
	return w.secret.DeepCopy()
}

func (m *memory) setStatus(uid types.UID, st *arcgisv1alpha1.ArcGISTokenStatus, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.status[uid] = writtenStatus{status: st.DeepCopy(), at: now}
	m.sweepLocked(now)
}

// sweepEvery is how many writes pass between two sweeps of expired entries.
const sweepEvery = 256

// sweepLocked drops, every sweepEvery writes, the written Secrets and
// statuses older than writtenSecretTTL: the cache has caught up with them, and
// most objects are not reconciled again before their next renewal, so they
// would otherwise stay in memory until then.
func (m *memory) sweepLocked(now time.Time) {
	m.writes++
	if m.writes%sweepEvery != 0 {
		return
	}
	for uid, w := range m.written {
		if now.Sub(w.at) > writtenSecretTTL {
			delete(m.written, uid)
		}
	}
	for uid, w := range m.status {
		if now.Sub(w.at) > writtenSecretTTL {
			delete(m.status, uid)
		}
	}
}

// lastStatus returns the status last written, while the informer cache may
// still lag behind it.
func (m *memory) lastStatus(uid types.UID, now time.Time) (*arcgisv1alpha1.ArcGISTokenStatus, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.status[uid]
	if !ok {
		return nil, false
	}
	if now.Sub(w.at) > writtenSecretTTL {
		delete(m.status, uid)
		return nil, false
	}
	return w.status.DeepCopy(), true
}

// forget drops everything about an ArcGISToken that was deleted.
func (m *memory) forget(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if uid, ok := m.uids[key]; ok {
		m.forgetLocked(uid)
		delete(m.uids, key)
	}
}

func (m *memory) forgetLocked(uid types.UID) {
	delete(m.pending, uid)
	delete(m.written, uid)
	delete(m.status, uid)
	delete(m.probes, uid)
	delete(m.holds, uid)
}
