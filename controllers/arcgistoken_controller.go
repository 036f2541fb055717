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

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

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
	watches  *referenceWatches
	seedOnce sync.Once
	// releases holds the hosts whose service recovered, and recoveries the
	// ArcGISTokens their releases queue (releaseRecovered).
	releases   workqueue.TypedInterface[string]
	recoveries chan event.GenericEvent
}

// +kubebuilder:rbac:groups=arcgis.tokenoperator.dev,resources=arcgistokens,verbs=get;list;watch
// +kubebuilder:rbac:groups=arcgis.tokenoperator.dev,resources=arcgistokens/status,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get

// Reconcile brings one ArcGISToken's Secret and status up to date. It reads
// like the table of contents of the package: load the object, gather the
// facts, let policies.Plan decide, act, derive the status from what was done,
// and write it once.
func (r *ArcGISTokenReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	tok, err := r.load(ctx, req.NamespacedName)
	if tok == nil || err != nil {
		return ctrl.Result{}, err
	}
	orig := tok.DeepCopy()
	if tok.Spec.Type == arcgisv1alpha1.ServiceTypeAPIKey {
		// The API key lifecycle checkpoints status as it goes, and moves orig
		// along so that the final write is relative to the last checkpoint.
		res, err := r.reconcileAPIKey(ctx, &orig, tok)
		if err = errors.Join(err, r.writeStatus(ctx, orig, tok)); err != nil {
			return ctrl.Result{}, err
		}
		return res, nil
	}
	in, err := r.gather(ctx, tok)
	if err != nil {
		return ctrl.Result{}, err
	}
	var done report
	d := policies.Plan(r.facts(tok, in))
	for range maxSteps {
		again, err := r.act(ctx, tok, in, d, &done)
		if err != nil {
			done.err = err
			break
		}
		if !again {
			break
		}
		d = policies.Plan(r.facts(tok, in))
	}
	events := setStatus(tok, in, d, &done, r.Clock.Now())
	err = errors.Join(done.err, r.writeStatus(ctx, orig, tok))
	r.emit(tok, events)
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: r.requeueAfter(d.Next)}, nil
}

// maxSteps bounds the plan-act rounds of one reconcile: a probe that finds
// the token revoked, then the issue, then the final plan.
const maxSteps = 4

// load reads the ArcGISToken, with the status the reconciler last wrote when
// the cache has not caught up with it. It returns nil when there is nothing
// to do: the object is gone (its memory is dropped) or being deleted (the
// garbage collector deletes the Secret with its owner).
func (r *ArcGISTokenReconciler) load(ctx context.Context, key types.NamespacedName) (*arcgisv1alpha1.ArcGISToken, error) {
	tok := &arcgisv1alpha1.ArcGISToken{}
	if err := r.Get(ctx, key, tok); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(ctx, key)
			return nil, nil
		}
		return nil, err
	}
	if !tok.DeletionTimestamp.IsZero() {
		r.forget(ctx, key)
		return nil, nil
	}
	r.memory.track(key, tok.UID)
	if st, ok := r.memory.lastStatus(tok.UID, r.Clock.Now()); ok {
		tok.Status = *st // the cache may not have caught up with our last write
	}
	r.seedOnce.Do(func() { r.seedGuardFromAll(ctx) })
	return tok, nil
}

// facts is what Plan decides from: the gathered inputs and what the
// reconciler remembers.
func (r *ArcGISTokenReconciler) facts(tok *arcgisv1alpha1.ArcGISToken, in *inputs) policies.Facts {
	now := r.Clock.Now()
	f := policies.Facts{
		Now:               now,
		Token:             tok,
		Stored:            in.stored,
		SpecFingerprint:   in.specFP,
		InputsFingerprint: in.inputsFP,
		Terminating:       in.terminating,
		Conflict:          in.conflict,
		MetadataStale:     metadataStale(tok, in.secret),
	}
	if in.inputErr != nil {
		f.InputError = inputCause(in.inputErr)
		return f
	}
	_, f.Pending = r.memory.getPending(tok.UID, in.issuedFor(), tok.Annotations[arcgisv1alpha1.RenewAtAnnotation], now)
	if h, ok := r.memory.hold(tok.UID); ok {
		f.NotBefore, f.Hold = h.until, policies.Cause{Reason: h.reason, Message: h.cause}
	}
	f.LastProbe, f.ProbeFailures = r.lastProbe(tok)
	f.ServiceUp = r.serviceUp(tok)
	return f
}

// lastProbe is when the stored token was last checked and how many checks
// failed since: from memory, or after a restart from the Validated
// condition, whose transition time is the latest time the token is known to
// have been good (so the first check after a restart may be early, never
// late).
func (r *ArcGISTokenReconciler) lastProbe(tok *arcgisv1alpha1.ArcGISToken) (time.Time, int32) {
	if p, ok := r.memory.probe(tok.UID); ok {
		return p.at, p.failures
	}
	c := meta.FindStatusCondition(tok.Status.Conditions, arcgisv1alpha1.ConditionValidated)
	switch {
	case c == nil:
		return time.Time{}, 0
	case c.Status == metav1.ConditionFalse:
		return c.LastTransitionTime.Time, 1
	}
	return c.LastTransitionTime.Time, 0
}

// nextProbe is when the stored token is next checked against the service.
func (r *ArcGISTokenReconciler) nextProbe(tok *arcgisv1alpha1.ArcGISToken, in *inputs) (time.Time, bool) {
	last, failures := r.lastProbe(tok)
	return policies.NextProbe(tok, in.stored, last, failures)
}

// probeDue says whether a usable stored token is due a check.
func (r *ArcGISTokenReconciler) probeDue(tok *arcgisv1alpha1.ArcGISToken, in *inputs, now time.Time) bool {
	at, ok := r.nextProbe(tok, in)
	return ok && in.stored.Usable(now) && !now.Before(at)
}

// act carries out one decision. again asks for another plan: the facts
// changed (a probe, an issue, a recorded failure).
func (r *ArcGISTokenReconciler) act(ctx context.Context, tok *arcgisv1alpha1.ArcGISToken, in *inputs, d policies.Decision, done *report) (again bool, err error) {
	switch d.Action {
	case policies.Probe:
		r.probe(ctx, tok, in, done)
		return true, nil
	case policies.SyncMetadata:
		r.syncSecretMetadata(ctx, tok, in, done)
		return false, ctx.Err()
	case policies.Conflict:
		r.recordFailure(tok, arcgisv1alpha1.ReasonSecretConflict, in.failedFor(), r.Clock.Now())
		done.fail(arcgisv1alpha1.ReasonSecretConflict, conflictMessage(tok))
		return true, nil
	case policies.Issue:
		if d.Due.Reason == arcgisv1alpha1.ReasonSecretMissing && r.namespaceTerminating(ctx, tok) {
			// The namespace is being deleted and took the Secret first: a
			// new token would cost a login and be deleted at once.
			in.terminating = true
			return true, nil
		}
		return true, r.issue(ctx, tok, in, d, done)
	}
	return false, nil
}

// requeueAfter is how long until the next reconcile is due; zero means when
// a watched object changes.
func (r *ArcGISTokenReconciler) requeueAfter(next time.Time) time.Duration {
	if next.IsZero() {
		return 0
	}
	return max(next.Sub(r.Clock.Now()), minRequeue)
}

// minRequeue keeps a reconcile that is due now from running in a hot loop.
const minRequeue = time.Second

// writeStatus patches the status once, when it changed. A failure is
// reported with an event, since the status cannot say it.
func (r *ArcGISTokenReconciler) writeStatus(ctx context.Context, orig, tok *arcgisv1alpha1.ArcGISToken) error {
	if equality.Semantic.DeepEqual(orig.Status, tok.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, tok, client.MergeFrom(orig)); err != nil {
		if apierrors.IsNotFound(err) || ctx.Err() != nil {
			return nil
		}
		r.event(tok, corev1.EventTypeWarning, arcgisv1alpha1.EventStatusWriteFailed, "UpdateStatus",
			"Writing the status failed: %s", apiMessage(err, nil))
		return err
	}
	r.memory.setStatus(tok.UID, &tok.Status, r.Clock.Now())
	return nil
}

// WatchedNamespaces lists the namespaces whose referenced Secrets and
// ConfigMaps the reconciler watches: those that hold ArcGISTokens.
func (r *ArcGISTokenReconciler) WatchedNamespaces() []string { return r.watches.Namespaces() }

// forget drops what the reconciler remembers about a deleted ArcGISToken,
// and the namespace's reference informers when no ArcGISToken is left there.
func (r *ArcGISTokenReconciler) forget(ctx context.Context, key types.NamespacedName) {
	r.memory.forget(key)
	// Read-only: no copy of every ArcGISToken of the namespace per deletion.
	list := &arcgisv1alpha1.ArcGISTokenList{}
	if err := r.List(ctx, list, client.InNamespace(key.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	for i := range list.Items {
		if list.Items[i].Name != key.Name && list.Items[i].DeletionTimestamp.IsZero() {
			return
		}
	}
	r.watches.drop(key.Namespace)
}
