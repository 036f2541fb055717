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

// Package controllers holds the ArcGISToken reconciler.
package controllers

import (
	"context"
	"errors"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/accountguard"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
	"github.com/tokenoperator/arcgis-token-operator/internal/policies"
)

// ArcGISTokenReconciler keeps the token of each ArcGISToken in its Secret:
// it issues it, renews it before it expires, re-issues it when it is revoked,
// and reports failures in status, events and metrics.
type ArcGISTokenReconciler struct {
	// Client reads ArcGISTokens and the operator's own Secrets from the cache
	// and writes through the API server.
	client.Client
	// APIReader reads referenced credentials and CA bundles, which are not
	// cached, and Secrets the cache does not hold.
	APIReader client.Reader
	// Issuer talks to ArcGIS.
	Issuer arcgis.TokenIssuer
	// Accounts spaces logins per ArcGIS account across all ArcGISTokens.
	Accounts *accountguard.Guard
	// Recorder emits Kubernetes events.
	Recorder events.EventRecorder
	// Clock tells the time.
	Clock clock.PassiveClock
	// MaxConcurrentReconciles bounds the reconciles running at once.
	MaxConcurrentReconciles int
	// Restarter restarts spec.rolloutRestartTargets after a rotation.
	// Optional: without it, targets are not restarted.
	Restarter *Restarter

	memory   *memory
	refs     *refReader
	seedOnce sync.Once
}

// +kubebuilder:rbac:groups=arcgis.tokenoperator.dev,resources=arcgistokens,verbs=get;list;watch
// +kubebuilder:rbac:groups=arcgis.tokenoperator.dev,resources=arcgistokens/status,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one ArcGISToken's Secret and status up to date: gather the
// inputs, decide whether a new token is due, act, and write the status once.
func (r *ArcGISTokenReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	tok := &arcgisv1alpha1.ArcGISToken{}
	if err := r.Get(ctx, req.NamespacedName, tok); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if !tok.DeletionTimestamp.IsZero() {
		// The garbage collector deletes the Secret with its owner.
		return ctrl.Result{}, nil
	}
	r.memory.track(req.NamespacedName, tok.UID)
	if st, ok := r.memory.lastStatus(tok.UID, r.Clock.Now()); ok {
		tok.Status = *st // the cache may not have caught up with our last write
	}
	r.seedOnce.Do(func() { r.seedGuardFromAll(ctx) })
	orig := tok.DeepCopy()
	defer func() {
		if err := r.writeStatus(ctx, orig, tok); err != nil {
			retErr = errors.Join(retErr, err)
		}
	}()
	if tok.Spec.Type == arcgisv1alpha1.ServiceTypeAPIKey {
		// The API key lifecycle checkpoints status as it goes, and moves orig
		// along so that the final write is relative to the last checkpoint.
		return r.reconcileAPIKey(ctx, &orig, tok)
	}

	in, err := r.gather(ctx, tok)
	if err != nil {
		return ctrl.Result{}, err
	}
	out, err := r.act(ctx, tok, in)
	r.setStatus(tok, in, out)
	return ctrl.Result{RequeueAfter: r.nextReconcile(tok, in, out)}, err
}

// outcome is what act did, for the status and the next reconcile.
type outcome struct {
	suspended bool
	// trigger and triggerMessage say why a new token was due ("" when not).
	trigger, triggerMessage string
	attempt                 attempt
}

// act decides and does what is due: nothing, a validation, a new token, or a
// metadata update of the Secret.
func (r *ArcGISTokenReconciler) act(ctx context.Context, tok *arcgisv1alpha1.ArcGISToken, in *inputs) (outcome, error) {
	var out outcome
	now := r.Clock.Now()
	switch {
	case tok.Spec.Suspend:
		out.suspended = true
		return out, nil
	case in.conflict:
		// Someone else's Secret has the name: report, and look again later
		// (with backoff: other reconciles in between count nothing).
		out.trigger = arcgisv1alpha1.ReasonSecretConflict
		out.attempt = attempt{failed: true, reason: arcgisv1alpha1.ReasonSecretConflict, message: conflictMessage(tok)}
		if at, ok := r.retryAt(tok, in.issuedFor()); ok && now.Before(at) {
			out.attempt.waited, out.attempt.retryAt = true, at
			return out, nil
		}
		r.recordFailure(tok, arcgisv1alpha1.ReasonSecretConflict, in.issuedFor(), now)
		return out, nil
	}

	var due bool
	out.trigger, out.triggerMessage, due = policies.Evaluate(policies.Input{
		Now: now, Token: tok, Stored: in.stored, SpecFingerprint: in.specFP, InputsFingerprint: in.inputsFP,
	}, policies.DefaultChain)
	if !due && in.inputErr == nil && r.validationDue(tok, in, now) && r.validate(ctx, tok, in) {
		out.trigger, out.triggerMessage, due = policies.Revoked(policies.Input{Token: tok, Stored: in.stored})
	}
	if !due {
		if in.secret != nil {
			s, err := r.syncMetadata(ctx, tok, in.secret)
			if err != nil {
				return out, err
			}
			if s != in.secret {
				r.memory.setWritten(tok.UID, s, now)
			}
			in.secret = s
		}
		return out, nil
	}
	if in.inputErr != nil {
		return out, nil
	}
	var err error
	if out.attempt, err = r.issue(ctx, tok, in); err != nil {
		return out, err
	}
	if out.attempt.stored {
		if err := r.deleteOldSecret(ctx, tok, tok.Status.SecretName); err != nil {
			return out, err
		}
	}
	return out, nil
}

// validationDue says whether the stored token is due for a check.
func (r *ArcGISTokenReconciler) validationDue(tok *arcgisv1alpha1.ArcGISToken, in *inputs, now time.Time) bool {
	at, ok := r.nextValidation(tok, in)
	return ok && in.stored.Usable(now) && !now.Before(at)
}

// nextValidation is when the stored token is next checked, including the
// spacing of checks that could not be made.
func (r *ArcGISTokenReconciler) nextValidation(tok *arcgisv1alpha1.ArcGISToken, in *inputs) (time.Time, bool) {
	at, ok := policies.NextValidation(tok, in.stored)
	if !ok {
		return at, false
	}
	if retry, ok := r.memory.probeRetry.get(tok.UID); ok && retry.After(at) {
		at = retry
	}
	return at, true
}

// minRequeue keeps a reconcile that is due now from running in a hot loop.
const minRequeue = time.Second

// nextReconcile is how long until something is due: a renewal, a validation,
// a retry, or the expiry (when Ready turns False). Zero means nothing is due
// until a watched object changes.
func (r *ArcGISTokenReconciler) nextReconcile(tok *arcgisv1alpha1.ArcGISToken, in *inputs, out outcome) time.Duration {
	if in == nil {
		return 0
	}
	now := r.Clock.Now()
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	usable := in.stored.Usable(now)
	if usable {
		consider(in.stored.Expires)
	}
	switch {
	case out.suspended:
	case out.trigger != "" && !out.attempt.stored:
		// Due but not done: wait for the backoff, the account guard, or (for
		// bad inputs) a change of the watched objects.
		if !out.attempt.retryAt.IsZero() {
			consider(out.attempt.retryAt)
		} else if at, ok := r.retryAt(tok, in.issuedFor()); ok && out.attempt.failed {
			consider(at)
		}
	case usable:
		consider(policies.RenewalTime(tok, in.stored.IssuedAt, in.stored.Expires))
		if at, ok := r.nextValidation(tok, in); ok {
			consider(at)
		}
	}
	if next.IsZero() {
		return 0
	}
	return max(next.Sub(now), minRequeue)
}

// writeStatus patches the status once, when it changed.
func (r *ArcGISTokenReconciler) writeStatus(ctx context.Context, orig, tok *arcgisv1alpha1.ArcGISToken) error {
	if equality.Semantic.DeepEqual(orig.Status, tok.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, tok, client.MergeFrom(orig)); err != nil {
		return client.IgnoreNotFound(err)
	}
	r.memory.setStatus(tok.UID, &tok.Status, r.Clock.Now())
	return nil
}

// forget drops what the reconciler remembers about a deleted ArcGISToken.
func (r *ArcGISTokenReconciler) forget(key types.NamespacedName) {
	r.memory.forget(key)
}
