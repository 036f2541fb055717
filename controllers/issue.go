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
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/accountguard"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
	"github.com/tokenoperator/arcgis-token-operator/internal/policies"
	"github.com/tokenoperator/arcgis-token-operator/internal/reasons"
	"github.com/tokenoperator/arcgis-token-operator/internal/tokenspec"
)

// report is what one reconcile did, for the status and the events.
type report struct {
	// failure is the failure of this reconcile's attempt, if any: a call to
	// ArcGIS, a refused Secret write, a conflict, the account guard.
	failure *policies.Cause
	// stored is the token stored by this reconcile, if any; first says it is
	// the object's first.
	stored *storedToken
	first  bool
	// previous is what the Secret held before the new token was stored.
	previous policies.Stored
	// probed is set when the stored token was checked: probeFailure says
	// why the check failed, revoked that the service answered 498.
	probed       bool
	probeFailure *policies.Cause
	revoked      bool
	// err is an API failure for the workqueue to retry.
	err error
}

func (d *report) fail(reason, message string) {
	d.failure = &policies.Cause{Reason: reason, Message: message}
}

// issue gets a new token and stores it: the pending one whose write failed
// before, or one from ArcGIS, through the account guard.
func (r *ArcGISTokenReconciler) issue(ctx context.Context, tok *arcgisv1alpha1.ArcGISToken, in *inputs, d policies.Decision, done *report) error {
	renewRequest := tok.Annotations[arcgisv1alpha1.RenewAtAnnotation]
	if d.UsePending {
		if p, ok := r.memory.getPending(tok.UID, in.issuedFor(), renewRequest, r.Clock.Now()); ok {
			return r.store(ctx, tok, in, storedToken(p), done)
		}
	}

	// No call to a service that is failing, but its one trial call.
	if why := r.serviceHeld(tok); why != "" {
		r.recordFailure(tok, arcgisv1alpha1.ReasonServiceUnavailable, in.failedFor(), r.Clock.Now())
		at, _ := r.retryAt(tok, in.failedFor())
		done.fail(arcgisv1alpha1.ReasonServiceUnavailable, fmt.Sprintf("No token requested: %s; next attempt at %s", why, formatTime(at)))
		return nil
	}

	// No login without knowing which account it counts against.
	var err error
	if in.accountKey, err = r.Issuer.Account(ctx, in.request); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		reason := conditionReason(arcgis.ReasonOf(err))
		r.serviceFailed(tok, reason)
		r.recordFailure(tok, reason, in.failedFor(), r.Clock.Now())
		at, _ := r.retryAt(tok, in.failedFor())
		done.fail(reason, fmt.Sprintf("Failed to issue a token: %s; next attempt at %s", strings.TrimSuffix(err.Error(), "."), formatTime(at)))
		return nil
	}
	r.seedGuard(tok, in)
	permit, err := r.Accounts.Acquire(ctx, in.accountKey, in.credentialsFP, string(tok.UID))
	if err != nil {
		var denied *accountguard.Denied
		if errors.As(err, &denied) {
			// Not an attempt: the account's budget of failed logins, or a
			// lock-out, holds every object that uses it.
			r.memory.setHold(tok.UID, hold{until: denied.Until, reason: denied.Reason, cause: denied.Message})
			done.fail(denied.Reason, denied.Message)
			return nil
		}
		return err
	}

	logf.FromContext(ctx).V(1).Info("Requesting a token", "type", tok.Spec.Type, "url", in.request.URL)
	token, err := r.Issuer.IssueToken(ctx, in.request)
	if err != nil {
		aerr, _ := arcgis.AsError(err)
		// The guard and status record the failure at the same time, so that
		// the guard recognises it when status tells it again.
		failedAt := permit.Release(accountguard.OutcomeOf(aerr != nil && aerr.Login, conditionReason(arcgis.ReasonOf(err))), retryAfter(aerr))
		if ctx.Err() != nil {
			return ctx.Err() // shutting down: not a failure of the service
		}
		reason := conditionReason(arcgis.ReasonOf(err))
		r.serviceFailed(tok, reason)
		r.recordFailure(tok, reason, in.failedFor(), failedAt)
		if wait := retryAfter(aerr); wait > 0 {
			// The service said how long to wait (Retry-After, a lock-out).
			r.memory.setHold(tok.UID, hold{until: failedAt.Add(wait), reason: reason,
				cause: fmt.Sprintf("The service asked to wait until %s", formatTime(failedAt.Add(wait)))})
		}
		at, _ := r.retryAt(tok, in.failedFor())
		done.fail(reason, fmt.Sprintf("Failed to issue a token: %s; next attempt at %s", strings.TrimSuffix(err.Error(), "."), formatTime(at)))
		return nil
	}
	now := permit.Release(accountguard.Success, 0)
	r.serviceAnswered(tok)
	if err := checkGranted(token, now); err != nil {
		r.recordFailure(tok, arcgisv1alpha1.ReasonInvalidResponse, in.failedFor(), now)
		done.fail(arcgisv1alpha1.ReasonInvalidResponse, err.Error())
		return nil
	}
	p := pendingToken{token: token, issuedAt: now, issuedFor: in.issuedFor(), renewRequest: renewRequest}
	r.memory.setPending(tok.UID, p)
	return r.store(ctx, tok, in, storedToken(p), done)
}

// store writes the token into the Secret and records it in status. A write
// the API server refuses is a failure like any other (a condition, an event,
// a backoff), and the token stays pending: it is stored later without a new
// login.
func (r *ArcGISTokenReconciler) store(ctx context.Context, tok *arcgisv1alpha1.ArcGISToken, in *inputs, t storedToken, done *report) error {
	s, err := r.writeToken(ctx, tok, in.secret, t)
	switch {
	case errors.Is(err, errSecretConflict):
		// The operator does not watch Secrets it does not own: the conflict
		// is looked at again after a backoff.
		in.conflict = true
		r.recordFailure(tok, arcgisv1alpha1.ReasonSecretConflict, in.failedFor(), r.Clock.Now())
		done.fail(arcgisv1alpha1.ReasonSecretConflict, conflictMessage(tok))
		return nil
	case err != nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		in.terminating = true
		return nil
	case err != nil:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.secretWriteFailed(tok, in, err, [][]byte{[]byte(t.token.Token)}, done)
		return nil
	}
	now := r.Clock.Now()
	// Written first, then no longer pending: at any moment one of them
	// recognises the echo of this write.
	r.memory.setWritten(tok.UID, s, now)
	r.memory.clearPending(tok.UID)
	r.memory.clearHold(tok.UID)
	r.memory.setProbe(tok.UID, probeState{at: t.issuedAt})
	done.previous, done.stored, done.first = in.stored, &t, tok.Status.IssuedAt == nil
	in.secret, in.conflict, in.stored = s, false, parseStored(s)

	st := &tok.Status
	st.FailedAttempts, st.LastFailureTime, st.LastFailureReason, st.LastFailureFingerprint = 0, nil, "", ""
	st.RevokedAt = nil
	// The token belongs to the account it was issued for; validation later
	// confirms it from the service's own self call where there is one.
	st.Identity = firstNonEmpty(in.request.Credentials.Username, in.request.Credentials.ClientID)
	st.IssuedAt = timeOf(t.issuedAt)
	if !done.first {
		r.Restarter.Schedule(tok)
	}
	logf.FromContext(ctx).Info("Stored a new token", "secret", klog.KObj(s), "expires", formatTime(t.token.Expires))
	return r.deleteOldSecret(ctx, tok, tok.Status.SecretName)
}

// syncSecretMetadata brings the Secret's labels and annotations in line with
// the spec's template; a refused write is a failure like a refused token
// write.
func (r *ArcGISTokenReconciler) syncSecretMetadata(ctx context.Context, tok *arcgisv1alpha1.ArcGISToken, in *inputs, done *report) {
	s, err := r.syncMetadata(ctx, tok, in.secret)
	switch {
	case err != nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		in.terminating = true
	case err != nil:
		if ctx.Err() == nil {
			r.secretWriteFailed(tok, in, err, [][]byte{in.secret.Data[arcgisv1alpha1.SecretKeyToken]}, done)
		}
	case s != in.secret:
		r.memory.setWritten(tok.UID, s, r.Clock.Now())
		in.secret = s
	}
}

// secretWriteFailed records a Secret write the API server refused (invalid
// metadata, a quota, RBAC, an admission webhook or policy: SecretRejected) or
// that failed on the way (a conflict, a timeout, 5xx, 429: SecretWriteFailed),
// with the API server's message. secrets are scrubbed from that message: an
// admission webhook may quote the object it refused.
func (r *ArcGISTokenReconciler) secretWriteFailed(tok *arcgisv1alpha1.ArcGISToken, in *inputs, err error, secrets [][]byte, done *report) {
	reason := arcgisv1alpha1.ReasonSecretWriteFailed
	switch {
	case apierrors.IsInvalid(err), apierrors.IsForbidden(err), apierrors.IsBadRequest(err),
		apierrors.IsRequestEntityTooLargeError(err), apierrors.IsUnauthorized(err), apierrors.IsNotFound(err):
		reason = arcgisv1alpha1.ReasonSecretRejected
	}
	now := r.Clock.Now()
	r.recordFailure(tok, reason, in.failedFor(), now)
	at, _ := r.retryAt(tok, in.failedFor())
	done.fail(reason, fmt.Sprintf("Writing Secret %q failed: %s; the token is kept, and the write is tried again at %s",
		tokenspec.SecretName(tok), apiMessage(err, secrets), formatTime(at)))
}

// apiMessage is an API error's message, fit for a condition: scrubbed of
// secrets (as given and base64-encoded) and bounded.
func apiMessage(err error, secrets [][]byte) string {
	msg := err.Error()
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message != "" {
		msg = status.Status().Message
	}
	for _, s := range secrets {
		if len(s) == 0 {
			continue
		}
		msg = strings.ReplaceAll(msg, string(s), "[REDACTED]")
		msg = strings.ReplaceAll(msg, base64.StdEncoding.EncodeToString(s), "[REDACTED]")
	}
	const maxLen = 1024
	if len(msg) > maxLen {
		msg = msg[:maxLen] + "…"
	}
	return strings.TrimSuffix(msg, ".")
}

// namespaceTerminating says whether the ArcGISToken's namespace is being
// deleted. Asked only before re-issuing a token whose Secret vanished.
func (r *ArcGISTokenReconciler) namespaceTerminating(ctx context.Context, tok *arcgisv1alpha1.ArcGISToken) bool {
	ns := &corev1.Namespace{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Name: tok.Namespace}, ns); err != nil {
		return apierrors.IsNotFound(err)
	}
	return !ns.DeletionTimestamp.IsZero() || ns.Status.Phase == corev1.NamespaceTerminating
}

// probe checks the stored token against the service. A check that changes
// nothing changes only memory: it costs no status write.
func (r *ArcGISTokenReconciler) probe(ctx context.Context, tok *arcgisv1alpha1.ArcGISToken, in *inputs, done *report) {
	if why := r.serviceHeld(tok); why != "" {
		// Not checked: the check is due again after the checks' own
		// backoff, as if it had failed, without the call.
		_, failures := r.lastProbe(tok)
		r.memory.setProbe(tok.UID, probeState{at: r.Clock.Now(), failures: failures + 1})
		done.probed = true
		done.probeFailure = &policies.Cause{Reason: arcgisv1alpha1.ReasonValidationFailed,
			Message: fmt.Sprintf("The stored token was not checked: %s; the token is kept", why)}
		return
	}
	token := string(in.secret.Data[arcgisv1alpha1.SecretKeyToken])
	v, err := r.Issuer.ValidateToken(ctx, tokenspec.ValidateRequest(&tok.Spec, token, in.caBundle))
	now := r.Clock.Now()
	done.probed = true
	switch {
	case err == nil:
		r.serviceAnswered(tok)
		r.memory.setProbe(tok.UID, probeState{at: now})
		if v != nil && v.Identity != "" {
			tok.Status.Identity = v.Identity
		}
	case arcgis.ReasonOf(err) == arcgis.ReasonInvalidToken:
		r.serviceAnswered(tok)
		r.memory.setProbe(tok.UID, probeState{at: now})
		tok.Status.RevokedAt = timeOf(now)
		done.revoked = true
	default:
		// The check itself failed; the token may well be fine. Checks back
		// off from a minute up to the validation interval.
		r.serviceFailed(tok, conditionReason(arcgis.ReasonOf(err)))
		_, failures := r.lastProbe(tok)
		r.memory.setProbe(tok.UID, probeState{at: now, failures: failures + 1})
		done.probeFailure = &policies.Cause{Reason: arcgisv1alpha1.ReasonValidationFailed,
			Message: fmt.Sprintf("Checking the stored token failed: %s; the token is kept", strings.TrimSuffix(err.Error(), "."))}
		logf.FromContext(ctx).Info("Could not validate the stored token", "reason", arcgis.ReasonOf(err), "error", err.Error())
	}
}

// retryAt is when the next attempt may be made after the failures recorded in
// status: their backoff, or the wait the service asked for, whichever is later.
func (r *ArcGISTokenReconciler) retryAt(tok *arcgisv1alpha1.ArcGISToken, failedFor string) (time.Time, bool) {
	at, ok := policies.RetryAt(tok, failedFor, r.serviceUp(tok))
	if h, held := r.memory.hold(tok.UID); held && h.until.After(at) {
		at, ok = h.until, true
	}
	return at, ok
}

// recordFailure counts a failed attempt in status. The count restarts when
// the inputs changed since the last failure.
func (r *ArcGISTokenReconciler) recordFailure(tok *arcgisv1alpha1.ArcGISToken, reason, failedFor string, now time.Time) {
	st := &tok.Status
	if st.LastFailureFingerprint != failedFor {
		st.FailedAttempts = 0
	}
	if st.FailedAttempts < math.MaxInt32 {
		st.FailedAttempts++
	}
	st.LastFailureTime = timeOf(now)
	st.LastFailureReason = reason
	st.LastFailureFingerprint = failedFor
}

// seedGuard tells the account guard about a credential failure recorded in
// status, so that a restarted operator keeps spacing logins.
func (r *ArcGISTokenReconciler) seedGuard(tok *arcgisv1alpha1.ArcGISToken, in *inputs) {
	st := tok.Status
	if st.LastFailureTime == nil {
		return
	}
	// Every failed login counts against the account's window; only one with
	// the current credentials Secret version makes them look failed: after a
	// change, the new credentials are tried at once.
	credentials := in.credentialsFP
	if st.LastFailureFingerprint != in.failedFor() {
		credentials = supersededCredentials
	}
	r.Accounts.Seed(in.accountKey, credentials, string(tok.UID), st.LastFailureTime.Time, st.LastFailureReason, st.FailedAttempts)
}

// supersededCredentials stands for credentials that failed and were replaced
// since: no current credentials' fingerprint equals it.
const supersededCredentials = "superseded"

// seedGuardFromAll tells the account guard, once after a start, about the
// credential failures recorded in every ArcGISToken's status, before any
// login is made: otherwise an object without a failure of its own could log in
// with an account others know to be failing, before they are reconciled.
func (r *ArcGISTokenReconciler) seedGuardFromAll(ctx context.Context) {
	list := &arcgisv1alpha1.ArcGISTokenList{}
	if err := r.List(ctx, list); err != nil {
		logf.FromContext(ctx).Error(err, "Could not list ArcGISTokens to recall recent login failures")
		return
	}
	for i := range list.Items {
		tok := &list.Items[i]
		if reason := tok.Status.LastFailureReason; reason == "" || !reasons.Lookup(reason).FailedLogin {
			continue
		}
		in, err := r.gather(ctx, tok)
		if err != nil || in.inputErr != nil {
			continue
		}
		if in.accountKey, err = r.Issuer.Account(ctx, in.request); err == nil {
			r.seedGuard(tok, in)
		}
	}
}

func retryAfter(e *arcgis.Error) time.Duration {
	if e == nil {
		return 0
	}
	return e.RetryAfter
}

// checkGranted refuses an expiry that cannot be right, whatever the client
// accepted: one in the past, or further away than any ArcGIS service grants.
func checkGranted(t *arcgis.Token, now time.Time) error {
	const maxLifetime = 20160*time.Minute + time.Hour // portal maximum, plus clock skew
	switch {
	case t.Token == "":
		return errors.New("the service answered without a token")
	case !t.Expires.After(now):
		return fmt.Errorf("the service answered with a token that expires in the past (%s)", t.Expires.UTC().Format(time.RFC3339))
	case t.Expires.Sub(now) > maxLifetime:
		return fmt.Errorf("the service answered with an expiry too far ahead (%s)", t.Expires.UTC().Format(time.RFC3339))
	}
	return nil
}

// grantedMinutes is the lifetime the stored token got, rounded to the minute.
func grantedMinutes(s policies.Stored) int32 {
	if !s.Exists || s.Expires.IsZero() || s.IssuedAt.IsZero() {
		return 0
	}
	return int32(s.Lifetime.Round(time.Minute) / time.Minute)
}

// conditionReason maps a client failure to a condition reason.
func conditionReason(r arcgis.Reason) string {
	switch r {
	case arcgis.ReasonInvalidCredentials:
		return arcgisv1alpha1.ReasonInvalidCredentials
	case arcgis.ReasonInvalidToken:
		return arcgisv1alpha1.ReasonInvalidToken
	case arcgis.ReasonAccountLocked:
		return arcgisv1alpha1.ReasonAccountLocked
	case arcgis.ReasonPermissionDenied, arcgis.ReasonTokenRequired:
		return arcgisv1alpha1.ReasonPermissionDenied
	case arcgis.ReasonSSLRequired, arcgis.ReasonInvalidRequest:
		return arcgisv1alpha1.ReasonInvalidSpec
	case arcgis.ReasonBadRequest, arcgis.ReasonMethodNotSupported:
		return arcgisv1alpha1.ReasonBadRequest
	case arcgis.ReasonInvalidResponse:
		return arcgisv1alpha1.ReasonInvalidResponse
	}
	return arcgisv1alpha1.ReasonServiceUnavailable
}

func conflictMessage(tok *arcgisv1alpha1.ArcGISToken) string {
	return fmt.Sprintf("Secret %q exists and is not owned by this ArcGISToken; it is never overwritten. Delete it or set spec.secretName",
		tokenspec.SecretName(tok))
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
