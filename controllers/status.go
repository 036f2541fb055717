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
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/policies"
	"github.com/tokenoperator/arcgis-token-operator/internal/tokenspec"
)

// stalledReasons need a change by a person: kstatus reports them as Failed.
var stalledReasons = map[string]bool{
	arcgisv1alpha1.ReasonInvalidCredentials:  true,
	arcgisv1alpha1.ReasonAccountLocked:       true,
	arcgisv1alpha1.ReasonPermissionDenied:    true,
	arcgisv1alpha1.ReasonInvalidSpec:         true,
	arcgisv1alpha1.ReasonCredentialsNotFound: true,
	arcgisv1alpha1.ReasonSecretConflict:      true,
	arcgisv1alpha1.ReasonBadRequest:          true,
	arcgisv1alpha1.ReasonInvalidToken:        true,
}

// setStatus derives the status from the stored token and what this reconcile
// did, and emits an event when a failure starts or changes.
func (r *ArcGISTokenReconciler) setStatus(tok *arcgisv1alpha1.ArcGISToken, in *inputs, out outcome) {
	now := r.Clock.Now()
	st := &tok.Status
	st.ObservedGeneration = tok.Generation
	if in.stored.Exists {
		st.SecretName = in.secret.Name
	}
	if in.stored.Exists && in.stored.HasToken && !in.stored.Expires.IsZero() {
		st.IssuedAt = timeOf(in.stored.IssuedAt)
		st.ExpiresAt = timeOf(in.stored.Expires)
		st.RenewalTime = timeOf(policies.RenewalTime(tok, in.stored.IssuedAt, in.stored.Expires))
		st.GrantedMinutes = grantedMinutes(in.stored)
	} else {
		st.IssuedAt, st.ExpiresAt, st.RenewalTime, st.GrantedMinutes = nil, nil, nil, 0
	}

	usable := in.stored.Usable(now) && !policies.IsRevoked(tok, in.stored)
	failure := failureOf(in, out)

	// A copy: setCondition updates the slice in place.
	var previous *metav1.Condition
	if c := meta.FindStatusCondition(st.Conditions, arcgisv1alpha1.ConditionIssuing); c != nil {
		previous = c.DeepCopy()
	}
	issuing := r.issuingCondition(tok, in, out, failure)
	r.setCondition(tok, issuing)
	r.setCondition(tok, r.readyCondition(tok, in, out, usable, failure))
	r.setKstatusConditions(tok, usable || out.suspended)

	if failure != nil && !out.attempt.waited &&
		(previous == nil || previous.Reason != failure.reason || previous.Status != metav1.ConditionTrue) {
		r.event(tok, corev1.EventTypeWarning, failure.reason, "Issue", "%s", failure.message)
	}
}

type failureInfo struct{ reason, message string }

// failureOf is what keeps a due token from being stored, if anything.
func failureOf(in *inputs, out outcome) *failureInfo {
	switch {
	case out.suspended:
		return nil
	case out.attempt.failed:
		return &failureInfo{out.attempt.reason, out.attempt.message}
	case out.trigger != "" && in.inputErr != nil:
		var ie *tokenspec.InputError
		if errors.As(in.inputErr, &ie) {
			return &failureInfo{ie.Reason, ie.Message}
		}
		return &failureInfo{arcgisv1alpha1.ReasonInvalidSpec, in.inputErr.Error()}
	}
	return nil
}

func (r *ArcGISTokenReconciler) issuingCondition(tok *arcgisv1alpha1.ArcGISToken, in *inputs, out outcome, failure *failureInfo) metav1.Condition {
	c := metav1.Condition{Type: arcgisv1alpha1.ConditionIssuing}
	switch {
	case out.suspended:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, arcgisv1alpha1.ReasonSuspended, "Suspended: the token is neither issued nor renewed"
	case failure != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, failure.reason, failure.message
	case out.trigger != "" && !out.attempt.stored:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, out.trigger, out.triggerMessage
	default:
		c.Status, c.Reason = metav1.ConditionFalse, arcgisv1alpha1.ReasonUpToDate
		c.Message = "No new token is due"
		if tok.Status.RenewalTime != nil {
			c.Message = "The next renewal is at " + formatTime(tok.Status.RenewalTime.Time)
		}
	}
	return c
}

func (r *ArcGISTokenReconciler) readyCondition(tok *arcgisv1alpha1.ArcGISToken, in *inputs, out outcome, usable bool, failure *failureInfo) metav1.Condition {
	c := metav1.Condition{Type: arcgisv1alpha1.ConditionReady, Status: metav1.ConditionFalse}
	switch {
	case usable:
		c.Status, c.Reason = metav1.ConditionTrue, arcgisv1alpha1.ReasonTokenIssued
		c.Message = fmt.Sprintf("Secret %q holds a token valid until %s", in.secret.Name, formatTime(in.stored.Expires))
	case failure != nil:
		c.Reason, c.Message = failure.reason, failure.message
	case in.stored.Exists && policies.IsRevoked(tok, in.stored):
		c.Reason, c.Message = arcgisv1alpha1.ReasonInvalidToken, "The stored token was revoked (498 Invalid token) and no new one is stored yet"
	case in.stored.Exists && in.stored.HasToken:
		c.Reason, c.Message = arcgisv1alpha1.ReasonExpired, "The stored token expired at "+formatTime(in.stored.Expires)
	case out.suspended:
		c.Reason, c.Message = arcgisv1alpha1.ReasonSuspended, "Suspended before a token was stored"
	default:
		c.Reason, c.Message = arcgisv1alpha1.ReasonIssuing, "Issuing a token"
	}
	return c
}

// setKstatusConditions sets the abnormal-true conditions kstatus (Flux, kpt,
// cli-utils) reads: Stalled while no usable token is left and a person must
// act, Reconciling while no usable token is left and the operator is working
// on it. Both are removed otherwise (settled: a usable token, or suspended),
// as kstatus expects.
func (r *ArcGISTokenReconciler) setKstatusConditions(tok *arcgisv1alpha1.ArcGISToken, settled bool) {
	ready := meta.FindStatusCondition(tok.Status.Conditions, arcgisv1alpha1.ConditionReady)
	switch {
	case settled || ready == nil:
		meta.RemoveStatusCondition(&tok.Status.Conditions, arcgisv1alpha1.ConditionStalled)
		meta.RemoveStatusCondition(&tok.Status.Conditions, arcgisv1alpha1.ConditionReconciling)
	case stalledReasons[ready.Reason]:
		meta.RemoveStatusCondition(&tok.Status.Conditions, arcgisv1alpha1.ConditionReconciling)
		r.setCondition(tok, metav1.Condition{Type: arcgisv1alpha1.ConditionStalled, Status: metav1.ConditionTrue,
			Reason: ready.Reason, Message: ready.Message})
	default:
		meta.RemoveStatusCondition(&tok.Status.Conditions, arcgisv1alpha1.ConditionStalled)
		r.setCondition(tok, metav1.Condition{Type: arcgisv1alpha1.ConditionReconciling, Status: metav1.ConditionTrue,
			Reason: ready.Reason, Message: ready.Message})
	}
}

// setCondition sets a condition with the object's generation and, when its
// status changes, a transition time from the reconciler's clock.
func (r *ArcGISTokenReconciler) setCondition(tok *arcgisv1alpha1.ArcGISToken, c metav1.Condition) {
	c.ObservedGeneration = tok.Generation
	c.LastTransitionTime = *timeOf(r.Clock.Now())
	meta.SetStatusCondition(&tok.Status.Conditions, c)
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
