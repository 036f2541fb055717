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

// Package policies decides, without I/O, whether an ArcGISToken needs a new
// token, when it is to be renewed and checked, and how long a failure backs
// off. The reconciler gathers an Input, asks these functions, and acts.
//
// As in cert-manager's certificate policies, the decision is a chain of small
// checks, each func(Input) (reason, message string, issue bool); the first that
// wants a new token wins.
package policies

import (
	"fmt"
	"hash/fnv"
	"time"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
)

// Stored is what the output Secret says about the token it holds.
type Stored struct {
	// Exists is true when the Secret exists and belongs to this ArcGISToken.
	Exists bool
	// HasToken is true when the Secret holds a non-empty token.
	HasToken bool
	// IssuedAt and Expires bound the stored token's lifetime.
	IssuedAt, Expires time.Time
	// SpecFingerprint and InputsFingerprint are what it was issued for.
	SpecFingerprint, InputsFingerprint string
	// RenewRequest is the renew-at annotation value it was issued for.
	RenewRequest string
}

// Usable says whether Stored holds a token that has not expired at now.
func (s Stored) Usable(now time.Time) bool {
	return s.Exists && s.HasToken && now.Before(s.Expires)
}

// Input is everything a decision needs.
type Input struct {
	Now    time.Time
	Token  *arcgisv1alpha1.ArcGISToken
	Stored Stored
	// SpecFingerprint and InputsFingerprint describe the current spec and
	// the current versions of the credentials and CA bundle.
	SpecFingerprint, InputsFingerprint string
}

// Check is one step of the decision.
type Check func(Input) (reason, message string, issue bool)

// DefaultChain is the order in which the reasons for a new token are checked.
var DefaultChain = []Check{
	SecretMissing,
	SpecChanged,
	CredentialsChanged,
	ManualRenew,
	Revoked,
	NearingExpiry,
}

// Evaluate runs chain and returns the first reason to issue a new token, or
// issue=false when the stored token is fine.
func Evaluate(in Input, chain []Check) (reason, message string, issue bool) {
	for _, check := range chain {
		if reason, message, issue := check(in); issue {
			return reason, message, true
		}
	}
	return "", "", false
}

// SecretMissing wants a token when the Secret, or its token, is missing.
func SecretMissing(in Input) (string, string, bool) {
	switch {
	case !in.Stored.Exists:
		if in.Token.Status.IssuedAt == nil {
			return arcgisv1alpha1.ReasonIssuing, "Issuing the first token", true
		}
		return arcgisv1alpha1.ReasonSecretMissing, "The Secret is missing", true
	case !in.Stored.HasToken || in.Stored.Expires.IsZero():
		return arcgisv1alpha1.ReasonSecretMissing, "The Secret holds no token or no expiry", true
	}
	return "", "", false
}

// SpecChanged wants a token when a spec field the token depends on changed.
func SpecChanged(in Input) (string, string, bool) {
	if in.Stored.SpecFingerprint != in.SpecFingerprint {
		return arcgisv1alpha1.ReasonSpecChanged, "The spec changed since the token was issued", true
	}
	return "", "", false
}

// CredentialsChanged wants a token when the credentials Secret or the CA
// bundle changed since the token was issued.
func CredentialsChanged(in Input) (string, string, bool) {
	if in.Stored.InputsFingerprint != in.InputsFingerprint {
		return arcgisv1alpha1.ReasonCredentialsChanged,
			"The credentials Secret or the CA bundle changed since the token was issued", true
	}
	return "", "", false
}

// ManualRenew wants a token when the renew-at annotation has a value the
// stored token was not issued for.
func ManualRenew(in Input) (string, string, bool) {
	want := in.Token.Annotations[arcgisv1alpha1.RenewAtAnnotation]
	if want != "" && want != in.Stored.RenewRequest {
		return arcgisv1alpha1.ReasonManualRenew, fmt.Sprintf("Renewal requested by annotation %s", arcgisv1alpha1.RenewAtAnnotation), true
	}
	return "", "", false
}

// Revoked wants a token when the stored one was found revoked.
func Revoked(in Input) (string, string, bool) {
	if IsRevoked(in.Token, in.Stored) {
		return arcgisv1alpha1.ReasonRevoked, "The service answered 498 Invalid token for the stored token", true
	}
	return "", "", false
}

// IsRevoked says whether the stored token was found revoked.
func IsRevoked(t *arcgisv1alpha1.ArcGISToken, s Stored) bool {
	r := t.Status.RevokedAt
	return r != nil && !r.Time.Before(s.IssuedAt)
}

// NearingExpiry wants a token from the renewal time on.
func NearingExpiry(in Input) (string, string, bool) {
	renewAt := RenewalTime(in.Token, in.Stored.IssuedAt, in.Stored.Expires)
	if !in.Now.Before(renewAt) {
		if !in.Now.Before(in.Stored.Expires) {
			return arcgisv1alpha1.ReasonRenewing, "The token expired at " + in.Stored.Expires.UTC().Format(time.RFC3339), true
		}
		return arcgisv1alpha1.ReasonRenewing, "The token expires at " + in.Stored.Expires.UTC().Format(time.RFC3339), true
	}
	return "", "", false
}

// MaxJitter bounds the jitter subtracted from the renewal time.
const MaxJitter = 10 * time.Minute

// RenewalTime is when a token issued at issuedAt and expiring at expires is
// renewed: expires − renewBefore − jitter. renewBefore comes from the spec
// (renewBefore or renewBeforePercentage) and defaults to a third of the
// lifetime the service granted. The jitter is deterministic per object, up to
// 5% of the lifetime (at most MaxJitter), so that thousands of tokens issued
// together do not all renew in the same second, and a restart does not move
// anyone's renewal.
func RenewalTime(t *arcgisv1alpha1.ArcGISToken, issuedAt, expires time.Time) time.Time {
	lifetime := expires.Sub(issuedAt)
	if lifetime <= 0 {
		return expires
	}
	before := lifetime / 3
	switch {
	case t.Spec.RenewBefore != nil && t.Spec.RenewBefore.Duration > 0 && t.Spec.RenewBefore.Duration < lifetime:
		before = t.Spec.RenewBefore.Duration
	case t.Spec.RenewBeforePercentage != nil && *t.Spec.RenewBeforePercentage > 0 && *t.Spec.RenewBeforePercentage < 100:
		// In floating point: lifetime × percentage overflows int64 for
		// lifetimes of a few years.
		before = time.Duration(float64(lifetime) * float64(*t.Spec.RenewBeforePercentage) / 100)
	}
	window := JitterWindow(lifetime)
	// Keep at least half of the time before renewal: jitter must never make a
	// fresh token due at once.
	if half := (lifetime - before) / 2; window > half {
		window = half
	}
	jitter := time.Duration(fraction(string(t.UID), "renew") * float64(window))
	return expires.Add(-before - jitter)
}

// JitterWindow is the width of the window renewals are spread over for a
// token of the given lifetime.
func JitterWindow(lifetime time.Duration) time.Duration {
	w := lifetime / 20
	if w > MaxJitter {
		w = MaxJitter
	}
	return w
}

// DefaultValidationInterval is how often a stored token is checked when
// spec.validationInterval is not set.
const DefaultValidationInterval = 10 * time.Minute

// NextValidation is when the stored token is next checked against the
// service; ok is false when checks are off.
//
// Tokens bound to an IP address (client IP) are never checked: the check comes
// from the operator's own address, which the service would refuse with a 498
// that says nothing about the token.
func NextValidation(t *arcgisv1alpha1.ArcGISToken, s Stored) (at time.Time, ok bool) {
	if t.Spec.Client == arcgisv1alpha1.ClientBindingIP && t.Spec.Type != arcgisv1alpha1.ServiceTypeOAuth {
		return time.Time{}, false
	}
	interval := DefaultValidationInterval
	if t.Spec.ValidationInterval != nil {
		interval = t.Spec.ValidationInterval.Duration
	}
	if interval <= 0 {
		return time.Time{}, false
	}
	last := s.IssuedAt
	if v := t.Status.LastValidatedAt; v != nil && v.Time.After(last) {
		last = v.Time
	}
	return last.Add(interval), true
}

// Failure classes, each with its own backoff.
const (
	// transientBase..transientCap: network errors, timeouts, 5xx, HTML, and
	// answers without a token. They go away by themselves.
	transientBase = 5 * time.Second
	transientCap  = 5 * time.Minute
	// credentialBase..credentialCap: invalid credentials and lock-outs. The
	// account guard spaces logins across every object sharing the account; this
	// keeps one object from retrying early after a restart.
	credentialBase = 5 * time.Minute
	credentialCap  = time.Hour
	// lockoutBase: ArcGIS locks accounts for 15 minutes.
	lockoutBase = 15 * time.Minute
	// permanentBase..permanentCap: failures that need a change by a person
	// (permissions, a refused request, a 498 on a federated exchange).
	permanentBase = time.Minute
	permanentCap  = 30 * time.Minute
)

// Backoff is how long to wait after the attempts-th consecutive failure with
// the given condition reason. Transient failures back off exponentially from
// 5 s to 5 min with up to 20% deterministic jitter (so does a Secret
// conflict); credential failures from
// 5 min to 1 h (15 min for a lock-out); others from 1 min to 30 min.
func Backoff(attempts int32, reason string, uid string) time.Duration {
	if attempts < 1 {
		return 0
	}
	var base, limit time.Duration
	switch reason {
	case arcgisv1alpha1.ReasonServiceUnavailable, arcgisv1alpha1.ReasonInvalidResponse,
		// A conflicting Secret is not watched (the operator caches only its
		// own), so its removal is noticed by retrying; a retry costs one read.
		arcgisv1alpha1.ReasonSecretConflict:
		base, limit = transientBase, transientCap
	case arcgisv1alpha1.ReasonAccountLocked:
		base, limit = lockoutBase, credentialCap
	case arcgisv1alpha1.ReasonInvalidCredentials:
		base, limit = credentialBase, credentialCap
	default:
		base, limit = permanentBase, permanentCap
	}
	d := base
	for i := int32(1); i < attempts && d < limit; i++ {
		d *= 2
	}
	if d > limit {
		d = limit
	}
	jitter := time.Duration(fraction(uid, fmt.Sprint("backoff", attempts)) * 0.2 * float64(d))
	return d + jitter
}

// RetryAt is when the next attempt may be made after the failures recorded in
// status. ok is false when nothing holds it back: no failure, or the spec,
// credentials or CA bundle changed since the failures (a person fixed
// something, so try at once).
func RetryAt(t *arcgisv1alpha1.ArcGISToken, inputs string) (at time.Time, ok bool) {
	st := t.Status
	if st.FailedAttempts < 1 || st.LastFailureTime == nil || st.LastFailureFingerprint != inputs {
		return time.Time{}, false
	}
	return st.LastFailureTime.Add(Backoff(st.FailedAttempts, st.LastFailureReason, string(t.UID))), true
}

// Transient says whether a failure reason is expected to go away by itself.
func Transient(reason string) bool {
	return reason == arcgisv1alpha1.ReasonServiceUnavailable || reason == arcgisv1alpha1.ReasonInvalidResponse
}

// fraction maps (key, salt) to a deterministic number in [0, 1).
func fraction(key, salt string) float64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(salt))
	return float64(h.Sum64()>>11) / float64(1<<53)
}
