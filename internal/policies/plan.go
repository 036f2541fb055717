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

package policies

import (
	"fmt"
	"time"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
)

// Facts is everything the reconciler gathered about one ArcGISToken before
// deciding: the object, its Secret, its inputs, and what the reconciler
// remembers in memory. Plan reads nothing else.
type Facts struct {
	Now   time.Time
	Token *arcgisv1alpha1.ArcGISToken
	// Stored is what the output Secret says about its token.
	Stored Stored
	// SpecFingerprint and InputsFingerprint describe what a token issued now
	// would be issued for.
	SpecFingerprint, InputsFingerprint string
	// Terminating is set when the ArcGISToken or its namespace is being
	// deleted: nothing is issued or written any more.
	Terminating bool
	// Conflict is set when a Secret of that name belongs to someone else.
	Conflict bool
	// InputError says why no request can be built (a bad spec, a missing
	// credentials Secret); nil when the inputs are usable.
	InputError *Cause
	// Pending is set when a token issued for the current inputs waits to be
	// stored (its Secret write failed): storing it costs no login.
	Pending bool
	// MetadataStale is set when the Secret's labels or annotations differ
	// from the spec's template.
	MetadataStale bool
	// NotBefore is the wait a service or the account guard asked for
	// (Retry-After, a lock-out, failed logins of the account), and Hold why.
	NotBefore time.Time
	Hold      Cause
	// LastProbe is when the stored token was last checked against the
	// service (or, after a restart, the latest time it is known to have
	// been good); ProbeFailures counts the checks that failed since, for
	// reasons other than a revoked token.
	LastProbe     time.Time
	ProbeFailures int32
	// ServiceUp is when the service first came back after the object's last
	// failure (zero when it has not, or unknown); see RetryAt.
	ServiceUp time.Time
}

// Action is what the reconciler does next.
type Action string

const (
	// Nothing is due until Decision.Next.
	Nothing Action = "Nothing"
	// SyncMetadata brings the Secret's labels and annotations in line with
	// the spec's template, without touching the token.
	SyncMetadata Action = "SyncMetadata"
	// Probe checks the stored token against the service.
	Probe Action = "Probe"
	// Issue gets a new token (or stores the pending one) into the Secret.
	Issue Action = "Issue"
	// Wait: a new token is due, but not now (Decision.Block says why).
	Wait Action = "Wait"
	// Conflict reports, and counts as a failed attempt, that someone else's
	// Secret has the name.
	Conflict Action = "Conflict"
	// Suspended: spec.suspend is set; nothing is issued or renewed.
	Suspended Action = "Suspended"
)

// Cause is a condition reason and its message.
type Cause struct{ Reason, Message string }

// Decision is the one thing to do now.
type Decision struct {
	Action Action
	// Due says why a new token is due (Issue, Wait, Conflict), empty when
	// none is.
	Due Cause
	// Block says why a due token is not issued now (Wait): a failure's
	// reason, or a wait of the operator's own (the floor between two
	// issues); Block.Message is empty when the last failure's own message
	// still tells it.
	Block Cause
	// UsePending: Issue stores the pending token instead of logging in.
	UsePending bool
	// Next is when to look again, zero for "when something changes".
	Next time.Time
}

// Plan decides what one reconcile does, from the facts alone. It is the
// operator's whole decision: act carries it out and Status reports it.
func Plan(f Facts) Decision {
	t := f.Token
	switch {
	case f.Terminating:
		return Decision{Action: Nothing}
	case t.Spec.Suspend:
		d := Decision{Action: Suspended}
		if f.Stored.Usable(f.Now) {
			d.Next = f.Stored.Expires // Ready turns False at the expiry
		}
		return d
	}

	// The retry time of the failures recorded in status, or of the wait
	// the service asked for, whichever is later.
	retryAt, failing := RetryAt(t, FailedFor(f.SpecFingerprint, f.InputsFingerprint, t.Generation), f.ServiceUp)
	block := Cause{t.Status.LastFailureReason, ""}
	if f.NotBefore.After(retryAt) {
		retryAt, failing, block = f.NotBefore, true, f.Hold
	}
	waiting := failing && f.Now.Before(retryAt)

	if f.Conflict {
		d := Decision{Action: Conflict, Due: Cause{arcgisv1alpha1.ReasonSecretConflict, ""}}
		if waiting {
			d.Action, d.Block, d.Next = Wait, block, retryAt
		}
		return d
	}

	in := Input{Now: f.Now, Token: t, Stored: f.Stored, SpecFingerprint: f.SpecFingerprint, InputsFingerprint: f.InputsFingerprint}
	reason, message, due := Evaluate(in, DefaultChain)
	if !due {
		d := f.upToDate()
		if d.Action == SyncMetadata && waiting {
			// The last metadata write was refused: not again before its
			// backoff.
			d = Decision{Action: Wait, Block: block, Next: retryAt}
		}
		return d
	}
	d := Decision{Due: Cause{reason, message}}
	switch {
	case f.InputError != nil:
		// Nothing can be issued until a person fixes the inputs; the
		// watched objects bring the fix, and a slow retry covers what is not
		// watched (RBAC, a Secret created in another namespace's view).
		d.Action, d.Block = Wait, *f.InputError
		if waiting {
			d.Next = retryAt
		} else {
			d.Next = f.Now.Add(Backoff(1, f.InputError.Reason, string(t.UID)))
		}
	case waiting:
		d.Action, d.Block, d.Next = Wait, block, retryAt
	case f.Pending:
		d.Action, d.UsePending = Issue, true
	case !askedFor(reason) && f.issueFloor().After(f.Now):
		at := f.issueFloor()
		d.Action, d.Next = Wait, at
		d.Block = Cause{reason, fmt.Sprintf("%s; the next token is issued at %s (at most one new token a minute)",
			message, at.UTC().Format(time.RFC3339))}
	default:
		d.Action = Issue
	}
	return d
}

// upToDate is the decision when no new token is due: check the token when a
// check is due, else sync the Secret's metadata, else nothing until the next
// renewal, check or expiry.
func (f Facts) upToDate() Decision {
	probeAt, probing := NextProbe(f.Token, f.Stored, f.LastProbe, f.ProbeFailures)
	switch {
	case probing && !f.Now.Before(probeAt):
		return Decision{Action: Probe}
	case f.MetadataStale:
		return Decision{Action: SyncMetadata}
	}
	next := RenewalTime(f.Token, f.Stored.IssuedAt, f.Stored.Expires)
	if probing && probeAt.Before(next) {
		next = probeAt
	}
	return Decision{Action: Nothing, Next: next}
}

// askedFor says a new token is due because a person asked for it: the spec
// or the credentials changed, or the renew annotation was set. Those are
// issued at once; every other reason (a schedule, a missing Secret, a
// revoked token) waits for the floor between two issues, so that no
// schedule, no tool fighting over the Secret and no service revoking every
// token it issues can make the operator log in more than once a minute.
func askedFor(reason string) bool {
	switch reason {
	case arcgisv1alpha1.ReasonSpecChanged, arcgisv1alpha1.ReasonCredentialsChanged, arcgisv1alpha1.ReasonManualRenew:
		return true
	}
	return false
}

// issueFloor is the earliest time a new token may be issued: a minute after
// the last one, or half the last token's lifetime when that is shorter (a
// one-minute token is renewed before it expires).
func (f Facts) issueFloor() time.Time {
	last := f.Stored.IssuedAt
	if !f.Stored.Exists || !f.Stored.HasToken {
		last = time.Time{}
	}
	if s := f.Token.Status.IssuedAt; s != nil && s.After(last) {
		last = s.Time
	}
	if last.IsZero() {
		return time.Time{}
	}
	floor := MinIssueInterval
	l := f.Stored.Lifetime
	if l <= 0 {
		l = f.Stored.Expires.Sub(f.Stored.IssuedAt)
	}
	if l > 0 && l/2 < floor {
		floor = l / 2
	}
	return last.Add(floor)
}

// FailedFor is the key failures are recorded under (status
// lastFailureFingerprint): the fingerprints of the spec and inputs a token
// would be issued for, and the spec's generation. A failure recorded under
// another key (a person changed the spec, the credentials or the CA bundle)
// holds nothing back.
func FailedFor(specFP, inputsFP string, generation int64) string {
	return fmt.Sprintf("%s/%s/%d", specFP, inputsFP, generation)
}

// ProbeRetryBase is the wait after the first failed check of a stored token;
// it doubles with each failure, up to the validation interval.
const ProbeRetryBase = time.Minute

// NextProbe is when the stored token is next checked against the service;
// ok is false when checks are off or there is no usable token to check.
//
// lastProbe is when it was last checked (in memory), or after a restart the
// latest time it is known to have been good: a restart may check early once,
// never late. failures counts the checks since that failed for reasons other
// than a revoked token: they back off from ProbeRetryBase up to the interval,
// so that a web tier answering 401 is not asked every minute.
func NextProbe(t *arcgisv1alpha1.ArcGISToken, s Stored, lastProbe time.Time, failures int32) (at time.Time, ok bool) {
	interval, on := ProbeInterval(t)
	if !on || !s.Exists || !s.HasToken {
		return time.Time{}, false
	}
	last := s.IssuedAt
	if lastProbe.After(last) {
		last = lastProbe
	}
	wait := interval
	if failures > 0 {
		wait = ProbeRetryBase
		for n := int32(1); n < failures && wait < interval; n++ {
			wait *= 2
		}
		wait = min(wait, interval)
	}
	return last.Add(wait), true
}

// ProbeInterval is spec.validationInterval (default 10 minutes); ok is false
// when checks are off.
//
// Tokens bound to an IP address (client IP) are never checked: the check
// comes from the operator's own address, which the service would refuse with
// a 498 that says nothing about the token.
func ProbeInterval(t *arcgisv1alpha1.ArcGISToken) (time.Duration, bool) {
	if t.Spec.Client == arcgisv1alpha1.ClientBindingIP && t.Spec.Type != arcgisv1alpha1.ServiceTypeOAuth {
		return 0, false
	}
	interval := DefaultValidationInterval
	if t.Spec.ValidationInterval != nil {
		interval = t.Spec.ValidationInterval.Duration
	}
	return interval, interval > 0
}
