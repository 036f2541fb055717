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
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/accountguard"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
	"github.com/tokenoperator/arcgis-token-operator/internal/policies"
	"github.com/tokenoperator/arcgis-token-operator/internal/reasons"
	"github.com/tokenoperator/arcgis-token-operator/internal/tokenspec"
)

// attempt is the outcome of trying to get and store a new token.
type attempt struct {
	// stored is set when a new token was stored.
	stored bool
	// failed is set when the attempt failed: reason is a condition reason and
	// message says why, without any secret.
	failed          bool
	reason, message string
	// waited is set when no attempt was made because of a backoff, a
	// Retry-After, or the account guard.
	waited bool
	// retryAt, when set, is the earliest time of the next attempt.
	retryAt time.Time
}

// issue gets a new token and stores it: from a pending token whose write
// failed before, or from ArcGIS, subject to the object's backoff and to the
// account guard. It updates the status fields that record failures.
func (r *ArcGISTokenReconciler) issue(ctx context.Context, tok *arcgisv1alpha1.ArcGISToken, in *inputs) (attempt, error) {
	now := r.Clock.Now()
	renewRequest := tok.Annotations[arcgisv1alpha1.RenewAtAnnotation]

	if p, ok := r.memory.getPending(tok.UID, in.issuedFor(), renewRequest, now); ok {
		return r.store(ctx, tok, in, storedToken(p))
	}

	failedFor := in.issuedFor()
	if at, ok := r.retryAt(tok, failedFor); ok && now.Before(at) {
		// Keep saying why the last attempt failed, not only when the next is.
		message := fmt.Sprintf("Retrying at %s after %d failed attempts", formatTime(at), tok.Status.FailedAttempts)
		if c := meta.FindStatusCondition(tok.Status.Conditions, arcgisv1alpha1.ConditionIssuing); c != nil &&
			c.Status == metav1.ConditionTrue && c.Reason == tok.Status.LastFailureReason {
			message = c.Message
		}
		return attempt{failed: true, reason: tok.Status.LastFailureReason, message: message, waited: true, retryAt: at}, nil
	}

	// No login without knowing which account it counts against.
	var err error
	if in.accountKey, err = r.Issuer.Account(ctx, in.request); err != nil {
		if ctx.Err() != nil {
			return attempt{}, ctx.Err()
		}
		reason := conditionReason(arcgis.ReasonOf(err))
		r.recordFailure(tok, reason, failedFor, now)
		at, _ := r.retryAt(tok, failedFor)
		return attempt{failed: true, reason: reason, retryAt: at,
			message: fmt.Sprintf("Failed to issue a token: %s; next attempt at %s", strings.TrimSuffix(err.Error(), "."), formatTime(at))}, nil
	}
	r.seedGuard(tok, in)
	permit, err := r.Accounts.Acquire(ctx, in.accountKey, in.credentialsFP, string(tok.UID))
	if err != nil {
		var denied *accountguard.Denied
		if errors.As(err, &denied) {
			return attempt{failed: true, reason: denied.Reason, message: denied.Message, waited: true, retryAt: denied.Until}, nil
		}
		return attempt{}, err
	}

	logf.FromContext(ctx).V(1).Info("Requesting a token", "type", tok.Spec.Type, "url", in.request.URL)
	token, err := r.Issuer.IssueToken(ctx, in.request)
	if err != nil {
		aerr, _ := arcgis.AsError(err)
		// The guard and status record the failure at the same time, so that
		// the guard recognises it when status tells it again.
		failedAt := permit.Release(accountguard.OutcomeOf(aerr != nil && aerr.Login, conditionReason(arcgis.ReasonOf(err))), retryAfter(aerr))
		if ctx.Err() != nil {
			// Shutting down: not a failure of the service.
			return attempt{}, ctx.Err()
		}
		reason := conditionReason(arcgis.ReasonOf(err))
		r.recordFailure(tok, reason, failedFor, failedAt)
		if d := retryAfter(aerr); d > 0 {
			// The service said how long to wait (Retry-After, a lock-out).
			r.memory.notBefore.set(tok.UID, failedAt.Add(d))
		}
		at, _ := r.retryAt(tok, failedFor)
		return attempt{failed: true, reason: reason, retryAt: at,
			message: fmt.Sprintf("Failed to issue a token: %s; next attempt at %s", strings.TrimSuffix(err.Error(), "."), formatTime(at))}, nil
	}
	now = permit.Release(accountguard.Success, 0)
	if err := checkGranted(token, now); err != nil {
		r.recordFailure(tok, arcgisv1alpha1.ReasonInvalidResponse, failedFor, now)
		return attempt{failed: true, reason: arcgisv1alpha1.ReasonInvalidResponse, message: err.Error()}, nil
	}
	p := pendingToken{token: token, issuedAt: now, issuedFor: in.issuedFor(), renewRequest: renewRequest}
	r.memory.setPending(tok.UID, p)
	return r.store(ctx, tok, in, storedToken(p))
}

// store writes the token into the Secret, and on success records it in status.
func (r *ArcGISTokenReconciler) store(ctx context.Context, tok *arcgisv1alpha1.ArcGISToken, in *inputs, t storedToken) (attempt, error) {
	s, err := r.writeToken(ctx, tok, in.secret, t)
	if errors.Is(err, errSecretConflict) {
		// The token stays pending, and the conflict is retried with backoff:
		// the operator does not watch Secrets it does not own.
		in.conflict = true
		r.recordFailure(tok, arcgisv1alpha1.ReasonSecretConflict, in.issuedFor(), r.Clock.Now())
		return attempt{failed: true, reason: arcgisv1alpha1.ReasonSecretConflict, message: conflictMessage(tok)}, nil
	}
	if err != nil {
		// The token stays pending: the retry writes it without a new call.
		return attempt{}, fmt.Errorf("writing Secret %s: %w", klog.KRef(tok.Namespace, tokenspec.SecretName(tok)), err)
	}
	now := r.Clock.Now()
	// Written first, then no longer pending: at any moment one of them
	// recognises the echo of this write.
	r.memory.setWritten(tok.UID, s, now)
	r.memory.clearPending(tok.UID)
	r.memory.notBefore.clear(tok.UID)
	in.secret, in.conflict, in.stored = s, false, parseStored(s)

	first := tok.Status.IssuedAt == nil
	st := &tok.Status
	st.FailedAttempts, st.LastFailureTime, st.LastFailureReason, st.LastFailureFingerprint = 0, nil, "", ""
	st.RevokedAt = nil
	// The token belongs to the account it was issued for; validation later
	// confirms it from the service's own self call where there is one.
	st.Identity = firstNonEmpty(in.request.Credentials.Username, in.request.Credentials.ClientID)
	r.memory.probeRetry.clear(tok.UID)

	granted := grantedMinutes(in.stored)
	if asked := tok.Spec.ExpirationMinutes; asked > 0 && granted < asked && granted != st.GrantedMinutes {
		r.event(tok, corev1.EventTypeWarning, "ExpirationClamped", "Issue",
			"The service granted %d minutes instead of the %d asked for; renewals follow what it granted", granted, asked)
	}
	expires := t.token.Expires.UTC().Format(time.RFC3339)
	if first {
		r.event(tok, corev1.EventTypeNormal, "Issued", "Issue", "Issued a token valid until %s into Secret %s", expires, s.Name)
	} else {
		r.event(tok, corev1.EventTypeNormal, "Renewed", "Issue", "Renewed the token in Secret %s; valid until %s", s.Name, expires)
		r.Restarter.Schedule(tok)
	}
	logf.FromContext(ctx).Info("Stored a new token", "secret", klog.KObj(s), "expires", expires)
	return attempt{stored: true}, nil
}

// validate checks the stored token against the service. It returns true when
// the token was found revoked.
func (r *ArcGISTokenReconciler) validate(ctx context.Context, tok *arcgisv1alpha1.ArcGISToken, in *inputs) bool {
	now := r.Clock.Now()
	token := string(in.secret.Data[arcgisv1alpha1.SecretKeyToken])
	v, err := r.Issuer.ValidateToken(ctx, tokenspec.ValidateRequest(&tok.Spec, token, in.caBundle))
	switch {
	case err == nil:
		tok.Status.LastValidatedAt = timeOf(now)
		if v != nil && v.Identity != "" {
			tok.Status.Identity = v.Identity
		}
		r.memory.probeRetry.clear(tok.UID)
		return false
	case arcgis.ReasonOf(err) == arcgis.ReasonInvalidToken:
		tok.Status.RevokedAt = timeOf(now)
		r.event(tok, corev1.EventTypeWarning, arcgisv1alpha1.ReasonRevoked, "Validate",
			"The service rejected the stored token (498 Invalid token): it was revoked; issuing a new one")
		return true
	default:
		// The check itself failed; the token may well be fine. Try again a
		// little later rather than on every reconcile.
		logf.FromContext(ctx).Info("Could not validate the stored token", "reason", arcgis.ReasonOf(err), "error", err.Error())
		r.memory.probeRetry.set(tok.UID, now.Add(probeRetryDelay))
		return false
	}
}

// probeRetryDelay spaces validation attempts that failed for a reason other
// than a revoked token.
const probeRetryDelay = time.Minute

// retryAt is when the next attempt may be made after the failures recorded in
// status: their backoff, or the wait the service asked for, whichever is later.
func (r *ArcGISTokenReconciler) retryAt(tok *arcgisv1alpha1.ArcGISToken, failedFor string) (time.Time, bool) {
	at, ok := policies.RetryAt(tok, failedFor)
	if !ok {
		return at, false
	}
	if nb, set := r.memory.notBefore.get(tok.UID); set && nb.After(at) {
		at = nb
	}
	return at, true
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
	if st.LastFailureFingerprint != in.issuedFor() {
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
	return int32(s.Expires.Sub(s.IssuedAt).Round(time.Minute) / time.Minute)
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
