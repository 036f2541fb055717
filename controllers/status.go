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
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/policies"
	"github.com/tokenoperator/arcgis-token-operator/internal/reasons"
	"github.com/tokenoperator/arcgis-token-operator/internal/tokenspec"
)

// note is an event to emit about the ArcGISToken.
type note struct {
	eventType, reason, action, message string
}

// setStatus derives the status from the facts gathered, the final decision
// and what this reconcile did, and returns the events to emit. It is pure:
// the same inputs give the same status, with now as the only clock.
func setStatus(tok *arcgisv1alpha1.ArcGISToken, in *inputs, d policies.Decision, done *report, now time.Time) []note {
	var notes []note
	st := &tok.Status
	st.ObservedGeneration = tok.Generation
	stored := in.stored
	if stored.Exists {
		st.SecretName = in.secret.Name
	}
	if stored.Exists && stored.HasToken && !stored.Expires.IsZero() {
		st.IssuedAt = timeOf(stored.IssuedAt)
		st.ExpiresAt = timeOf(stored.Expires)
		st.RenewalTime = timeOf(policies.RenewalTime(tok, stored.IssuedAt, stored.Expires))
		st.GrantedMinutes = grantedMinutes(stored)
	} else {
		st.IssuedAt, st.ExpiresAt, st.RenewalTime, st.GrantedMinutes = nil, nil, nil, 0
	}
	if in.terminating {
		return nil
	}
	notes = append(notes, issueNotes(tok, done)...)

	suspended := d.Action == policies.Suspended
	usable := stored.Usable(now) && !policies.IsRevoked(tok, stored)
	failure := failureOf(tok, d, done)

	var previous *metav1.Condition
	if c := meta.FindStatusCondition(st.Conditions, arcgisv1alpha1.ConditionIssuing); c != nil {
		previous = c.DeepCopy()
	}
	setCondition(tok, issuingCondition(tok, d, failure, previous), now)
	setCondition(tok, readyCondition(tok, in, usable, suspended, failure), now)
	notes = append(notes, validatedCondition(tok, in, done, now)...)
	setKstatusConditions(tok, usable || suspended, now)

	if done.failure != nil {
		// Every failed attempt is an event; the events API folds repeats
		// into a series.
		notes = append(notes, note{corev1.EventTypeWarning, done.failure.Reason, "Issue", done.failure.Message})
	} else if failure != nil && d.Action == policies.Wait && reasons.Lookup(failure.Reason).Class == reasons.BadInput &&
		(previous == nil || previous.Reason != failure.Reason || previous.Status != metav1.ConditionTrue) {
		notes = append(notes, note{corev1.EventTypeWarning, failure.Reason, "Issue", failure.Message})
	}
	return notes
}

// issueNotes are the events about a token stored by this reconcile.
func issueNotes(tok *arcgisv1alpha1.ArcGISToken, done *report) []note {
	var notes []note
	if done.revoked {
		notes = append(notes, note{corev1.EventTypeWarning, arcgisv1alpha1.ReasonRevoked, "Validate",
			"The service rejected the stored token (498 Invalid token): it was revoked; issuing a new one"})
	}
	t := done.stored
	if t == nil {
		return notes
	}
	name := tokenspec.SecretName(tok)
	expires := formatTime(t.token.Expires)
	if done.first {
		notes = append(notes, note{corev1.EventTypeNormal, arcgisv1alpha1.EventIssued, "Issue",
			fmt.Sprintf("Issued a token valid until %s into Secret %s", expires, name)})
	} else {
		notes = append(notes, note{corev1.EventTypeNormal, arcgisv1alpha1.EventRenewed, "Issue",
			fmt.Sprintf("Renewed the token in Secret %s; valid until %s", name, expires)})
	}
	granted := int32(t.token.Lifetime.Round(time.Minute) / time.Minute)
	prevGranted := grantedMinutes(done.previous)
	if asked := tok.Spec.ExpirationMinutes; asked > 0 && granted < asked && (granted != prevGranted || done.first) {
		notes = append(notes, note{corev1.EventTypeWarning, arcgisv1alpha1.EventExpirationClamped, "Issue",
			fmt.Sprintf("The service granted %d minutes instead of the %d asked for; renewals follow what it granted", granted, asked)})
	}
	_, tooLong := policies.Renewal(tok, t.issuedAt, t.token.Expires)
	prevTooLong := false
	if p := done.previous; p.Exists && p.HasToken && p.SpecFingerprint == t.specFingerprint() {
		_, prevTooLong = policies.Renewal(tok, p.IssuedAt, p.Expires)
	}
	if tooLong && (!prevTooLong || granted != prevGranted) {
		notes = append(notes, note{corev1.EventTypeWarning, arcgisv1alpha1.EventRenewBeforeTooLong, "Issue",
			fmt.Sprintf("spec.renewBefore or renewBeforePercentage would renew less than half of the granted %s after issue; "+
				"a third of the lifetime is used instead", t.token.Lifetime.Round(time.Second))})
	}
	if skew := t.token.ClockSkew.Round(time.Second); abs(skew) > maxClockSkew && abs(skew-done.previous.ClockSkew) > maxClockSkew/2 {
		notes = append(notes, note{corev1.EventTypeWarning, arcgisv1alpha1.EventClockSkew, "Issue",
			fmt.Sprintf("The service's clock is %s the operator's; lifetimes are measured on the service's clock and the earlier expiry is used", skewWords(skew))})
	}
	return notes
}

// maxClockSkew is the clock difference with a service beyond which the
// operator reports it.
const maxClockSkew = 30 * time.Second

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func skewWords(skew time.Duration) string {
	if skew < 0 {
		return (-skew).String() + " behind"
	}
	return skew.String() + " ahead of"
}

// failureOf is what keeps a due token from being stored, if anything: this
// reconcile's failure, or the one it waits on.
func failureOf(tok *arcgisv1alpha1.ArcGISToken, d policies.Decision, done *report) *policies.Cause {
	switch {
	case d.Action == policies.Suspended:
		return nil
	case done.failure != nil:
		return done.failure
	case d.Action == policies.Wait && reasons.Lookup(d.Block.Reason).Failure():
		c := d.Block
		if c.Message == "" {
			c.Message = waitMessage(tok, d)
		}
		return &c
	}
	return nil
}

// waitMessage is the message of a wait on an earlier failure: the failure's
// own message while the condition still holds it, else when the next attempt
// is.
func waitMessage(tok *arcgisv1alpha1.ArcGISToken, d policies.Decision) string {
	if c := meta.FindStatusCondition(tok.Status.Conditions, arcgisv1alpha1.ConditionIssuing); c != nil &&
		c.Status == metav1.ConditionTrue && c.Reason == d.Block.Reason {
		return c.Message
	}
	return fmt.Sprintf("Retrying at %s after %d failed attempts", formatTime(d.Next), tok.Status.FailedAttempts)
}

func issuingCondition(tok *arcgisv1alpha1.ArcGISToken, d policies.Decision, failure *policies.Cause, previous *metav1.Condition) metav1.Condition {
	c := metav1.Condition{Type: arcgisv1alpha1.ConditionIssuing}
	switch {
	case d.Action == policies.Suspended:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, arcgisv1alpha1.ReasonSuspended, "Suspended: the token is neither issued nor renewed"
	case failure != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, failure.Reason, failure.Message
	case d.Action == policies.Wait && d.Block.Message != "":
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, d.Block.Reason, d.Block.Message
	case d.Due.Reason != "":
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, d.Due.Reason, d.Due.Message
	default:
		c.Status, c.Reason = metav1.ConditionFalse, arcgisv1alpha1.ReasonUpToDate
		c.Message = "No new token is due"
		if tok.Status.RenewalTime != nil {
			c.Message = "The next renewal is at " + formatTime(tok.Status.RenewalTime.Time)
		}
	}
	return c
}

func readyCondition(tok *arcgisv1alpha1.ArcGISToken, in *inputs, usable, suspended bool, failure *policies.Cause) metav1.Condition {
	c := metav1.Condition{Type: arcgisv1alpha1.ConditionReady, Status: metav1.ConditionFalse}
	stored := in.stored
	switch {
	case usable:
		c.Status, c.Reason = metav1.ConditionTrue, arcgisv1alpha1.ReasonTokenIssued
		c.Message = fmt.Sprintf("Secret %q holds a token valid until %s", in.secret.Name, formatTime(stored.Expires))
		if skew := stored.ClockSkew; abs(skew) > maxClockSkew {
			c.Message += fmt.Sprintf("; the service's clock is %s the operator's", skewWords(skew))
		}
	case failure != nil:
		c.Reason, c.Message = failure.Reason, failure.Message
	case stored.Exists && policies.IsRevoked(tok, stored):
		c.Reason, c.Message = arcgisv1alpha1.ReasonInvalidToken, "The stored token was revoked (498 Invalid token) and no new one is stored yet"
	case stored.Exists && stored.HasToken:
		c.Reason, c.Message = arcgisv1alpha1.ReasonExpired, "The stored token expired at "+formatTime(stored.Expires)
	case suspended:
		c.Reason, c.Message = arcgisv1alpha1.ReasonSuspended, "Suspended before a token was stored"
	default:
		c.Reason, c.Message = arcgisv1alpha1.ReasonIssuing, "Issuing a token"
	}
	return c
}

// validatedCondition says whether the stored token passed its last check. A
// new token counts as checked (the service just issued it), so a check that
// succeeds changes nothing and costs no write; a failed check turns it False
// with its reason, and an event.
func validatedCondition(tok *arcgisv1alpha1.ArcGISToken, in *inputs, done *report, now time.Time) []note {
	if _, on := policies.ProbeInterval(tok); !on || !in.stored.Exists || !in.stored.HasToken {
		meta.RemoveStatusCondition(&tok.Status.Conditions, arcgisv1alpha1.ConditionValidated)
		return nil
	}
	// A copy: setCondition changes the condition in place.
	var prev *metav1.Condition
	if p := meta.FindStatusCondition(tok.Status.Conditions, arcgisv1alpha1.ConditionValidated); p != nil {
		prev = p.DeepCopy()
	}
	c := metav1.Condition{Type: arcgisv1alpha1.ConditionValidated, Status: metav1.ConditionTrue, Reason: arcgisv1alpha1.ReasonValidated,
		Message: "The service accepted the stored token when it was issued or last checked"}
	switch {
	case done.stored != nil, done.probed && done.probeFailure == nil && !done.revoked:
	case done.revoked:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, arcgisv1alpha1.ReasonRevoked, "The service answered 498 Invalid token for the stored token"
	case done.probeFailure != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, done.probeFailure.Reason, done.probeFailure.Message
	case prev != nil:
		return nil // nothing new: keep what it says
	}
	setCondition(tok, c, now)
	switch {
	case done.probeFailure == nil:
	case done.stored != nil:
		// The check failed, then a new token was stored: the condition is
		// about the new one, the event tells of the check.
		return []note{{corev1.EventTypeWarning, done.probeFailure.Reason, "Validate", done.probeFailure.Message}}
	case prev == nil || prev.Status != metav1.ConditionFalse || prev.Reason != c.Reason:
		return []note{{corev1.EventTypeWarning, c.Reason, "Validate", c.Message}}
	}
	return nil
}

// setKstatusConditions sets the abnormal-true conditions kstatus (Flux, kpt,
// cli-utils) reads: Stalled while no usable token is left and a person must
// act, Reconciling while no usable token is left and the operator is working
// on it. Both are removed otherwise (settled: a usable token, or suspended),
// as kstatus expects.
func setKstatusConditions(tok *arcgisv1alpha1.ArcGISToken, settled bool, now time.Time) {
	ready := meta.FindStatusCondition(tok.Status.Conditions, arcgisv1alpha1.ConditionReady)
	switch {
	case settled || ready == nil:
		meta.RemoveStatusCondition(&tok.Status.Conditions, arcgisv1alpha1.ConditionStalled)
		meta.RemoveStatusCondition(&tok.Status.Conditions, arcgisv1alpha1.ConditionReconciling)
	case reasons.Lookup(ready.Reason).Stalled():
		meta.RemoveStatusCondition(&tok.Status.Conditions, arcgisv1alpha1.ConditionReconciling)
		setCondition(tok, metav1.Condition{Type: arcgisv1alpha1.ConditionStalled, Status: metav1.ConditionTrue,
			Reason: ready.Reason, Message: ready.Message}, now)
	default:
		meta.RemoveStatusCondition(&tok.Status.Conditions, arcgisv1alpha1.ConditionStalled)
		setCondition(tok, metav1.Condition{Type: arcgisv1alpha1.ConditionReconciling, Status: metav1.ConditionTrue,
			Reason: ready.Reason, Message: ready.Message}, now)
	}
}

// setCondition sets a condition with the object's generation and, when its
// status changes, a transition time from now.
func setCondition(tok *arcgisv1alpha1.ArcGISToken, c metav1.Condition, now time.Time) {
	c.ObservedGeneration = tok.Generation
	c.LastTransitionTime = *timeOf(now)
	meta.SetStatusCondition(&tok.Status.Conditions, c)
}

// emit emits the events of one reconcile.
func (r *ArcGISTokenReconciler) emit(tok *arcgisv1alpha1.ArcGISToken, notes []note) {
	for _, n := range notes {
		r.event(tok, n.eventType, n.reason, n.action, "%s", n.message)
	}
}

// event emits an event about the ArcGISToken. note must never hold a secret:
// callers pass fixed text and the client's sanitised errors.
func (r *ArcGISTokenReconciler) event(tok *arcgisv1alpha1.ArcGISToken, eventType, reason, action, note string, args ...any) {
	if r.Recorder == nil {
		return
	}
	r.Recorder.Eventf(tok, nil, eventType, reason, action, note, args...)
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// timeOf returns t as a status time. Status times are serialised to the
// second; truncating here keeps an unchanged status equal to what the API
// server returned, so that it is not written again.
func timeOf(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t.Truncate(time.Second))
	return &mt
}
