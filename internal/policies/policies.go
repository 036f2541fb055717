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
	"github.com/tokenoperator/arcgis-token-operator/internal/reasons"
)

// Stored is what the output Secret says about the token it holds.
type Stored struct {
	// Exists is true when the Secret exists and belongs to this ArcGISToken.
	Exists bool
	// HasToken is true when the Secret holds a non-empty token.
	HasToken bool
	// IssuedAt and Expires bound the stored token's lifetime on the
	// operator's clock (Expires is already the earlier of the two clocks'
	// expiries).
	IssuedAt, Expires time.Time
	// Lifetime is what the service granted, on its own clock; ClockSkew is
	// the service's clock minus ours at issue (zero when unknown).
	Lifetime, ClockSkew time.Duration
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
// renewed; see Renewal.
func RenewalTime(t *arcgisv1alpha1.ArcGISToken, issuedAt, expires time.Time) time.Time {
	at, _ := Renewal(t, issuedAt, expires)
	return at
}

// Renewal is when a token issued at issuedAt and expiring at expires is
// renewed: expires − renewBefore − jitter. renewBefore comes from the spec
// (renewBefore, else renewBeforePercentage) and defaults to a third of the
// lifetime the service granted. The jitter is deterministic per object, up to
// 5% of the lifetime (at most MaxJitter), so that thousands of tokens issued
// together do not all renew in the same second, and a restart does not move
// anyone's renewal.
//
// A renewal is never earlier than half the lifetime after issue: a
// renewBefore (or percentage) that does not leave that, typically one equal
// to a service's cap on lifetimes, would otherwise re-issue the token moments
// after issuing it, for ever. Such a value is set aside for the default, and
// tooLong says so (the reconciler reports it with a RenewBeforeTooLong event).
func Renewal(t *arcgisv1alpha1.ArcGISToken, issuedAt, expires time.Time) (at time.Time, tooLong bool) {
	lifetime := expires.Sub(issuedAt)
	if lifetime <= 0 {
		return expires, false
	}
	half := lifetime / 2
	before := lifetime / 3
	rb, pct := t.Spec.RenewBefore, t.Spec.RenewBeforePercentage
	specified := false
	switch {
	case rb != nil && rb.Duration > 0 && rb.Duration <= half:
		before = rb.Duration
	case pct != nil && *pct > 0 && *pct <= 50:
		// In floating point: lifetime × percentage overflows int64 for
		// lifetimes of a few years.
		before = time.Duration(float64(lifetime) * float64(*pct) / 100)
	default:
		specified = (rb != nil && rb.Duration > 0) || (pct != nil && *pct > 0)
	}
	window := JitterWindow(lifetime)
	// Keep at least half of the time before renewal: jitter must never make a
	// fresh token due at once.
	if h := (lifetime - before) / 2; window > h {
		window = h
	}
	jitter := time.Duration(fraction(string(t.UID), "renew") * float64(window))
	at = expires.Add(-before - jitter)
	if floor := issuedAt.Add(half); at.Before(floor) {
		at = floor
	}
	return at, specified
}

// MinIssueInterval is the shortest time between two tokens issued for one
// ArcGISToken, whatever asks for them (edits, renew requests, revocations):
// no input can make the operator log in more often than this.
const MinIssueInterval = time.Minute

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

// Backoff is how long to wait after the attempts-th consecutive failure with
// the given condition reason: the reason's base × 2^(attempts−1), at most its
// cap, as internal/reasons tables them, plus up to 20% of deterministic
// jitter per object. A reason without a backoff of its own (not a failure,
// or unknown) backs off like an unknown failure.
func Backoff(attempts int32, reason string, uid string) time.Duration {
	if attempts < 1 {
		return 0
	}
	info := reasons.Lookup(reason)
	if info.BackoffBase <= 0 {
		info = reasons.Lookup("")
	}
	d := info.Backoff(attempts)
	jitter := time.Duration(fraction(uid, fmt.Sprint("backoff", attempts)) * 0.2 * float64(d))
	return d + jitter
}

// RetryAt is when the next attempt may be made after the failures recorded in
// status. ok is false when nothing holds it back: no failure, or the spec,
// credentials or CA bundle changed since the failures (a person fixed
// something, so try at once).
//
// serviceUp is when the service first came back after the object's last
// failure (zero when it has not, or unknown). A backoff about the service, not the
// object (reasons' EndsWithRecovery: ServiceUnavailable), ends once the
// service is up again after the failure: the retry comes within
// RecoverySpread of the recovery, and never sooner than the first backoff
// step after the object's own failure. Without this, an outage that grew
// every object's backoff to its cap would keep tokens expired for minutes
// after the service came back.
func RetryAt(t *arcgisv1alpha1.ArcGISToken, inputs string, serviceUp time.Time) (at time.Time, ok bool) {
	st := t.Status
	if st.FailedAttempts < 1 || st.LastFailureTime == nil || st.LastFailureFingerprint != inputs {
		return time.Time{}, false
	}
	failed, uid := st.LastFailureTime.Time, string(t.UID)
	at = failed.Add(Backoff(st.FailedAttempts, st.LastFailureReason, uid))
	if reasons.Lookup(st.LastFailureReason).EndsWithRecovery && !serviceUp.IsZero() && !serviceUp.Before(failed) {
		spread := time.Duration(fraction(uid, "recovery") * float64(RecoverySpread))
		early := failed.Add(Backoff(1, st.LastFailureReason, uid))
		if r := serviceUp.Add(spread); r.After(early) {
			early = r
		}
		if early.Before(at) {
			at = early
		}
	}
	return at, true
}

// RecoverySpread is the window over which the retries a service's recovery
// releases are spread (per object, deterministically), so that the objects
// an outage held back do not all log in at the same instant.
const RecoverySpread = 10 * time.Second

// fraction maps (key, salt) to a deterministic number in [0, 1).
func fraction(key, salt string) float64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(salt))
	return float64(h.Sum64()>>11) / float64(1<<53)
}
