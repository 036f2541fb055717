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
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/accountguard"
	"github.com/tokenoperator/arcgis-token-operator/internal/apikeys"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
	"github.com/tokenoperator/arcgis-token-operator/internal/policies"
	"github.com/tokenoperator/arcgis-token-operator/internal/tokenspec"
)

// The APIKey path keeps a key of an API key credentials item in the Secret
// and rotates it between the item's two slots: date the free slot,
// regenerate it, store its key (the old one beside it as previousToken),
// restart the targets, and after retireAfter invalidate the old slot and
// check that its key fails. internal/apikeys decides each step from the
// facts; this file gathers them and carries the steps out.
//
// Each step that calls the service is recorded in status.apiKey.step before
// the call (a status patch), so that after a restart the operator knows a
// call may have been made: setting a date again is harmless, a regenerate is
// first recovered by asking for the slot's key as it is, invalidating again
// is harmless, and a restart of the targets carries the stored key's issue
// time, so repeating it changes nothing.

// maxAPIKeySteps bounds the steps one reconcile takes; a rotation needs five.
const maxAPIKeySteps = 8

// keyStillValidRetry is how long the operator waits before invalidating a
// slot again when its old key still worked after the first invalidation.
const keyStillValidRetry = 5 * time.Minute

// apiKeyRun is one reconcile of an APIKey ArcGISToken.
type apiKeyRun struct {
	r    *ArcGISTokenReconciler
	tok  *arcgisv1alpha1.ArcGISToken
	orig **arcgisv1alpha1.ArcGISToken
	in   *inputs
	keys arcgis.APIKeyManager
	now  time.Time

	lifetime    time.Duration
	clamped     bool
	retireAfter time.Duration
	held        apikeys.Held
	revoked     bool
	app         *arcgis.APIKeyApp
	item        *arcgis.APIKeyItem
	ownerToken  string

	// Outcome, for status and the next reconcile.
	trigger, triggerMessage string
	failed                  bool
	failReason, failMessage string
	waited                  bool
	retryAt                 time.Time
	until                   time.Time
	stored                  bool
}

// reconcileAPIKey is Reconcile for type APIKey.
func (r *ArcGISTokenReconciler) reconcileAPIKey(ctx context.Context, orig **arcgisv1alpha1.ArcGISToken, tok *arcgisv1alpha1.ArcGISToken) (ctrl.Result, error) {
	in, err := r.gather(ctx, tok)
	if err != nil {
		return ctrl.Result{}, err
	}
	k := &apiKeyRun{r: r, tok: tok, orig: orig, in: in, now: r.Clock.Now()}
	err = k.run(ctx)
	k.setStatus()
	return ctrl.Result{RequeueAfter: k.requeue()}, err
}

func (k *apiKeyRun) run(ctx context.Context) error {
	tok, in := k.tok, k.in
	spec := tok.Spec.APIKey
	switch {
	case tok.Spec.Suspend:
		return nil
	case spec == nil:
		k.fail(arcgisv1alpha1.ReasonInvalidSpec, "spec.apiKey is required when type is APIKey", false)
		return nil
	case in.conflict:
		k.fail(arcgisv1alpha1.ReasonSecretConflict, conflictMessage(tok), true)
		return nil
	case in.inputErr != nil:
		var ie *tokenspec.InputError
		if errors.As(in.inputErr, &ie) {
			k.fail(ie.Reason, ie.Message, false)
		} else {
			k.fail(arcgisv1alpha1.ReasonInvalidSpec, in.inputErr.Error(), false)
		}
		return nil
	}
	keys, ok := k.r.Issuer.(arcgis.APIKeyManager)
	if !ok {
		k.fail(arcgisv1alpha1.ReasonInvalidSpec, "The operator's ArcGIS client cannot manage API keys", false)
		return nil
	}
	k.keys = keys
	st := tok.Status.APIKey
	if st == nil || st.ItemID != spec.ItemID {
		// A new item: what was known of the old one's slots says nothing.
		tok.Status.APIKey = &arcgisv1alpha1.APIKeyStatus{ItemID: spec.ItemID, Step: arcgisv1alpha1.APIKeyStepIdle}
	}
	k.lifetime, k.clamped = apikeys.Lifetime(durationOf(spec.Lifetime))
	k.retireAfter = apikeys.DefaultRetireAfter
	if spec.RetireAfter != nil {
		k.retireAfter = max(spec.RetireAfter.Duration, 0)
	}
	k.held = heldKey(in, spec.ItemID)
	if k.held.Slot != 0 && k.r.probeDue(tok, in, k.now) {
		var probed report
		k.r.probe(ctx, tok, in, &probed)
		k.revoked = probed.revoked
		if probed.revoked {
			k.r.event(tok, corev1.EventTypeWarning, arcgisv1alpha1.ReasonRevoked, "Validate",
				"The service rejected the stored key (498 Invalid token): it was invalidated; rotating to the other slot")
		}
		k.r.emit(tok, validatedCondition(tok, in, &probed, k.now))
	}

	for range maxAPIKeySteps {
		plan := apikeys.Decide(k.facts())
		logf.FromContext(ctx).V(1).Info("API key step", "action", plan.Action, "slot", plan.Slot, "step", k.status().Step)
		if plan.Reason != "" && plan.Action != apikeys.Report && k.trigger == "" {
			k.trigger, k.triggerMessage = plan.Reason, plan.Message
		}
		var done bool
		var err error
		switch plan.Action {
		case apikeys.Wait:
			k.until, done = plan.Until, true
		case apikeys.Report:
			k.fail(plan.Reason, plan.Message, true)
			done = true
		case apikeys.ReadApp:
			done, err = k.readApp(ctx)
		case apikeys.SetExpiration:
			done, err = k.setExpiration(ctx, plan)
		case apikeys.Regenerate:
			done, err = k.regenerate(ctx, plan)
		case apikeys.RestartTargets:
			done, err = k.restartTargets(ctx, plan)
		case apikeys.Invalidate:
			done, err = k.invalidate(ctx, plan)
		case apikeys.KeepPrevious:
			err = k.keepPrevious(ctx, plan.Message)
		}
		if err != nil || done {
			return err
		}
	}
	// More steps than a rotation has: come back soon rather than loop.
	k.until = k.now.Add(minRequeue)
	return nil
}

// status returns status.apiKey (set by run before any step).
func (k *apiKeyRun) status() *arcgisv1alpha1.APIKeyStatus { return k.tok.Status.APIKey }

func (k *apiKeyRun) facts() apikeys.Facts {
	f := apikeys.Facts{
		Now: k.now, Lifetime: k.lifetime, RetireAfter: k.retireAfter,
		Status: *k.status(), Held: k.held, HeldRevoked: k.revoked,
	}
	if s := k.tok.Spec.APIKey.TakeOverSlot; s != nil {
		f.TakeOverSlot = int(*s)
	}
	if k.held.Slot != 0 {
		f.RotationTime = policies.RenewalTime(k.tok, k.held.IssuedAt, k.held.Expires)
	}
	if k.app != nil && k.item != nil {
		f.App = &apikeys.App{AppType: k.app.AppType, Active: k.app.Active, Expiration: k.item.Expiration}
	}
	return f
}

// heldKey reads which key of the item the Secret holds.
func heldKey(in *inputs, itemID string) apikeys.Held {
	s := in.secret
	if s == nil || !in.stored.HasToken || string(s.Data[arcgisv1alpha1.SecretKeyItemID]) != itemID {
		return apikeys.Held{}
	}
	slot, err := strconv.Atoi(string(s.Data[arcgisv1alpha1.SecretKeySlot]))
	if err != nil || (slot != 1 && slot != 2) {
		return apikeys.Held{}
	}
	return apikeys.Held{Slot: slot, IssuedAt: in.stored.IssuedAt, Expires: in.stored.Expires}
}

// checkpoint records a step in status before the call it makes.
func (k *apiKeyRun) checkpoint(ctx context.Context, step arcgisv1alpha1.APIKeyStep, mutate func(*arcgisv1alpha1.APIKeyStatus)) error {
	st := k.status()
	if st.Step != step {
		st.Step, st.StepStartedAt = step, timeOf(k.now)
	}
	if mutate != nil {
		mutate(st)
	}
	k.tok.Status.ObservedGeneration = k.tok.Generation
	if err := k.r.Status().Patch(ctx, k.tok, client.MergeFrom(*k.orig)); err != nil {
		return fmt.Errorf("recording API key step %s: %w", step, err)
	}
	k.r.memory.setStatus(k.tok.UID, &k.tok.Status, k.now)
	*k.orig = k.tok.DeepCopy()
	return nil
}

// readApp logs in as the item's owner and reads the app and the item.
func (k *apiKeyRun) readApp(ctx context.Context) (bool, error) {
	if k.app != nil {
		return true, nil
	}
	if at, ok := k.r.retryAt(k.tok, k.in.failedFor()); ok && k.now.Before(at) {
		k.failed, k.waited, k.retryAt = true, true, at
		k.failReason, k.failMessage = k.tok.Status.LastFailureReason, fmt.Sprintf("Retrying at %s after %d failed attempts", formatTime(at), k.tok.Status.FailedAttempts)
		if c := meta.FindStatusCondition(k.tok.Status.Conditions, arcgisv1alpha1.ConditionIssuing); c != nil && c.Reason == k.failReason {
			k.failMessage = c.Message
		}
		return true, nil
	}
	// No call to a service that is failing, but its one trial call.
	if why := k.r.serviceHeld(k.tok); why != "" {
		k.fail(arcgisv1alpha1.ReasonServiceUnavailable, "No call made: "+why, true)
		return true, nil
	}
	if k.ownerToken == "" {
		ok, err := k.login(ctx)
		if !ok || err != nil {
			return true, err
		}
	}
	req := k.itemRequest()
	app, err := k.keys.RegisteredApp(ctx, req)
	if err != nil {
		return true, k.serviceFailure(ctx, err, "read the item's app")
	}
	item, err := k.keys.GetAPIKeyItem(ctx, req)
	if err != nil {
		return true, k.serviceFailure(ctx, err, "read the item")
	}
	k.app, k.item = app, item
	k.r.serviceAnswered(k.tok)
	apikeys.Observe(k.status(), apikeys.App{AppType: app.AppType, Active: app.Active, Expiration: item.Expiration})
	return false, nil
}

// login gets the owner's token, spaced by the account guard like every
// login with these credentials.
func (k *apiKeyRun) login(ctx context.Context) (bool, error) {
	tok, in := k.tok, k.in
	// No login without knowing which account it counts against.
	account, err := k.r.Issuer.Account(ctx, in.request)
	if err != nil {
		return false, k.serviceFailure(ctx, err, "tell which account the owner's login is for")
	}
	in.accountKey = account
	k.r.seedGuard(tok, in)
	permit, err := k.r.Accounts.Acquire(ctx, in.accountKey, in.credentialsFP, string(tok.UID))
	if err != nil {
		var denied *accountguard.Denied
		if errors.As(err, &denied) {
			k.failed, k.waited, k.retryAt = true, true, denied.Until
			k.failReason, k.failMessage = denied.Reason, denied.Message
			return false, nil
		}
		return false, err
	}
	owner, err := k.r.Issuer.IssueToken(ctx, in.request)
	if err != nil {
		aerr, _ := arcgis.AsError(err)
		failedAt := permit.Release(accountguard.OutcomeOf(aerr != nil && aerr.Login, conditionReason(arcgis.ReasonOf(err))), retryAfter(aerr))
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		k.now = failedAt
		return false, k.serviceFailure(ctx, err, "log in as the item's owner")
	}
	permit.Release(accountguard.Success, 0)
	k.ownerToken = owner.Token
	return true, nil
}

func (k *apiKeyRun) itemRequest() arcgis.APIKeyItemRequest {
	return arcgis.APIKeyItemRequest{
		URL: k.in.request.URL, Owner: k.in.request.Credentials.Username, ItemID: k.tok.Spec.APIKey.ItemID,
		OwnerToken: k.ownerToken, Binding: k.in.request.Binding, CABundle: k.in.caBundle,
	}
}

func (k *apiKeyRun) slotRequest(slot int, regenerate bool) arcgis.APIKeySlotRequest {
	return arcgis.APIKeySlotRequest{URL: k.in.request.URL, Client: k.app.Client, Slot: slot, Regenerate: regenerate, CABundle: k.in.caBundle}
}

// serviceFailure records a failed call to ArcGIS in status, with backoff.
func (k *apiKeyRun) serviceFailure(ctx context.Context, err error, what string) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	reason := conditionReason(arcgis.ReasonOf(err))
	if e, ok := arcgis.AsError(err); ok {
		switch {
		case (e.Endpoint == arcgis.EndpointRegisteredAppInfo || e.Endpoint == arcgis.EndpointItem) && e.Reason == arcgis.ReasonBadRequest:
			reason = arcgisv1alpha1.ReasonItemNotFound
		case e.Reason == arcgis.ReasonInvalidCredentials && e.Endpoint != arcgis.EndpointGenerateToken:
			// The app's client secret, read from the portal a moment ago, was
			// refused: not the credentials Secret's fault.
			reason = arcgisv1alpha1.ReasonBadRequest
		}
		if d := retryAfter(e); d > 0 {
			k.r.memory.setHold(k.tok.UID, hold{until: k.now.Add(d), reason: reason,
				cause: fmt.Sprintf("The service asked to wait until %s", formatTime(k.now.Add(d)))})
		}
	}
	k.r.serviceFailed(k.tok, reason)
	k.r.recordFailure(k.tok, reason, k.in.failedFor(), k.now)
	at, _ := k.r.retryAt(k.tok, k.in.failedFor())
	msg := fmt.Sprintf("Failed to %s: %s; next attempt at %s", what, strings.TrimSuffix(err.Error(), "."), formatTime(at))
	if reason == arcgisv1alpha1.ReasonItemNotFound {
		msg = fmt.Sprintf("The portal does not know item %s, or it is not %s's: %s; next attempt at %s",
			k.tok.Spec.APIKey.ItemID, k.in.request.Credentials.Username, strings.TrimSuffix(err.Error(), "."), formatTime(at))
	}
	k.failed, k.failReason, k.failMessage, k.retryAt = true, reason, msg, at
	return nil
}

// fail records a failure that is not a call to ArcGIS. backoff counts it in
// status (for reasons retried on a schedule rather than on a change).
func (k *apiKeyRun) fail(reason, message string, backoff bool) {
	k.failed, k.failReason, k.failMessage = true, reason, message
	if !backoff {
		return
	}
	if at, ok := k.r.retryAt(k.tok, k.in.failedFor()); ok && k.now.Before(at) && k.tok.Status.LastFailureReason == reason {
		k.waited, k.retryAt = true, at
		return
	}
	k.r.recordFailure(k.tok, reason, k.in.failedFor(), k.now)
	k.retryAt, _ = k.r.retryAt(k.tok, k.in.failedFor())
	if st := k.status(); reason == arcgisv1alpha1.ReasonSlotsInUse &&
		(st.Step == arcgisv1alpha1.APIKeyStepSetExpiration || st.Step == arcgisv1alpha1.APIKeyStepRegenerate) {
		// The slot being issued was taken meanwhile: start over.
		st.Step, st.NextSlot, st.NextExpiresAt, st.StepStartedAt = arcgisv1alpha1.APIKeyStepIdle, 0, nil, timeOf(k.now)
	}
}

func (k *apiKeyRun) setExpiration(ctx context.Context, p apikeys.Plan) (bool, error) {
	err := k.checkpoint(ctx, arcgisv1alpha1.APIKeyStepSetExpiration, func(st *arcgisv1alpha1.APIKeyStatus) {
		st.NextSlot, st.NextExpiresAt = arcgisv1alpha1.APIKeySlot(p.Slot), timeOf(p.Expiration)
		s := apikeys.SlotStatus(st, p.Slot)
		// Taken: the slot is the operator's from now on.
		s.Managed, s.ExpiresAt = true, timeOf(p.Expiration)
	})
	if err != nil {
		return true, err
	}
	if err := k.keys.SetAPIKeyExpiration(ctx, k.itemRequest(), p.Slot, p.Expiration); err != nil {
		return true, k.serviceFailure(ctx, err, fmt.Sprintf("set the expiration date of slot %d", p.Slot))
	}
	if k.clamped {
		k.r.event(k.tok, corev1.EventTypeWarning, arcgisv1alpha1.EventLifetimeClamped, "Issue",
			"spec.apiKey.lifetime %s is over the year ArcGIS allows; the key of slot %d expires after 365 days",
			k.tok.Spec.APIKey.Lifetime.Duration, p.Slot)
	}
	k.item.Expiration[p.Slot-1] = p.Expiration
	return false, nil
}

func (k *apiKeyRun) regenerate(ctx context.Context, p apikeys.Plan) (bool, error) {
	err := k.checkpoint(ctx, arcgisv1alpha1.APIKeyStepRegenerate, func(st *arcgisv1alpha1.APIKeyStatus) {
		if p.Recover {
			return // recorded when the step began
		}
		// The slot being replaced is recorded before the key is stored: a
		// restart after the Secret write must still retire it.
		st.PreviousSlot, st.RetireTime, st.PreviousInvalidatedAt, st.PreviousNotInvalidatedReason = 0, nil, nil, ""
		if k.held.Slot != 0 && k.held.Slot != p.Slot && !k.revoked {
			st.PreviousSlot = arcgisv1alpha1.APIKeySlot(k.held.Slot)
		}
	})
	if err != nil {
		return true, err
	}
	log := logf.FromContext(ctx)
	var key *arcgis.Token
	if p.Recover {
		// The last attempt may have regenerated the slot and lost the answer:
		// a key of this slot with the date set for it is that key.
		got, err := k.keys.RegenerateAPIKey(ctx, k.slotRequest(p.Slot, false))
		if err == nil && apikeys.SameDate(got.Expires, p.Expiration) {
			log.Info("Recovered the key of a slot regenerated before a restart", "slot", p.Slot)
			key = got
		}
	}
	if key == nil {
		got, err := k.keys.RegenerateAPIKey(ctx, k.slotRequest(p.Slot, true))
		if err != nil {
			return true, k.serviceFailure(ctx, err, fmt.Sprintf("regenerate the key of slot %d", p.Slot))
		}
		key = got
	}
	if !key.Expires.After(k.now) {
		k.r.recordFailure(k.tok, arcgisv1alpha1.ReasonInvalidResponse, k.in.failedFor(), k.now)
		k.fail(arcgisv1alpha1.ReasonInvalidResponse, fmt.Sprintf("The key of slot %d expires in the past (%s)", p.Slot, formatTime(key.Expires)), false)
		return true, nil
	}
	return false, k.store(ctx, p.Slot, key)
}

// store writes the new key into the Secret, the old one (if it still works)
// beside it, and records the rotation in status.
func (k *apiKeyRun) store(ctx context.Context, slot int, key *arcgis.Token) error {
	tok, in := k.tok, k.in
	previous := ""
	if k.held.Slot != 0 && k.held.Slot != slot && !k.revoked && in.secret != nil {
		previous = string(in.secret.Data[arcgisv1alpha1.SecretKeyToken])
	}
	t := storedToken{token: key, issuedAt: k.now, issuedFor: in.issuedFor(), renewRequest: tok.Annotations[arcgisv1alpha1.RenewAtAnnotation]}
	s, err := k.r.writeSecret(ctx, tok, in.secret, func(s *corev1.Secret) {
		setToken(tok, s, t)
		s.Data[arcgisv1alpha1.SecretKeySlot] = []byte(strconv.Itoa(slot))
		s.Data[arcgisv1alpha1.SecretKeyItemID] = []byte(tok.Spec.APIKey.ItemID)
		if previous != "" {
			s.Data[arcgisv1alpha1.SecretKeyPreviousToken] = []byte(previous)
		}
	})
	if errors.Is(err, errSecretConflict) {
		in.conflict = true
		k.fail(arcgisv1alpha1.ReasonSecretConflict, conflictMessage(tok), true)
		return nil
	}
	if err != nil {
		// The key lives in this reconcile only; the retry recovers it from
		// the slot (status says Regenerate) without regenerating it again.
		return fmt.Errorf("writing Secret %s: %w", klog.KRef(tok.Namespace, tokenspec.SecretName(tok)), err)
	}
	k.r.memory.setWritten(tok.UID, s, k.now)
	in.secret, in.stored = s, parseStored(s)
	first := tok.Status.IssuedAt == nil && k.held.Slot == 0
	k.held = apikeys.Held{Slot: slot, IssuedAt: in.stored.IssuedAt, Expires: in.stored.Expires}
	k.revoked, k.stored = false, true

	st := k.status()
	st.Slot = arcgisv1alpha1.APIKeySlot(slot)
	sl := apikeys.SlotStatus(st, slot)
	sl.Active, sl.Managed = true, true
	if k.app != nil {
		k.app.Active[slot-1] = true
	}
	tok.Status.FailedAttempts, tok.Status.LastFailureTime, tok.Status.LastFailureReason, tok.Status.LastFailureFingerprint = 0, nil, "", ""
	tok.Status.RevokedAt = nil
	tok.Status.Identity = in.request.Credentials.Username
	k.r.memory.clearHold(tok.UID)

	expires := formatTime(key.Expires)
	if first {
		k.r.event(tok, corev1.EventTypeNormal, arcgisv1alpha1.EventIssued, "Issue", "Issued the key of slot %d, valid until %s, into Secret %s", slot, expires, s.Name)
	} else {
		k.r.event(tok, corev1.EventTypeNormal, arcgisv1alpha1.EventRenewed, "Issue", "Rotated to the key of slot %d, valid until %s, in Secret %s", slot, expires, s.Name)
	}
	logf.FromContext(ctx).Info("Stored a new API key", "secret", klog.KObj(s), "slot", slot, "expires", expires)
	return nil
}

// restartTargets restarts spec.rolloutRestartTargets for the stored key.
// The restart annotation carries the key's issue time, so a repeat after a
// restart of the operator writes the same value and rolls nothing.
func (k *apiKeyRun) restartTargets(ctx context.Context, p apikeys.Plan) (bool, error) {
	if err := k.checkpoint(ctx, arcgisv1alpha1.APIKeyStepRestartTargets, nil); err != nil {
		return true, err
	}
	value := formatTime(k.held.IssuedAt)
	for _, t := range k.tok.Spec.RolloutRestartTargets {
		if err := k.restart(ctx, t, value); err != nil {
			k.r.event(k.tok, corev1.EventTypeWarning, arcgisv1alpha1.EventRolloutRestartFailed, "Restart",
				"Could not restart %s %s after the key rotated: %s", t.Kind, t.Name, restartFailure(err))
			continue
		}
		k.r.event(k.tok, corev1.EventTypeNormal, "RolloutRestarted", "Restart", "Restarted %s %s after the key rotated to slot %d", t.Kind, t.Name, p.Slot)
	}
	st := k.status()
	st.Step, st.StepStartedAt = arcgisv1alpha1.APIKeyStepRetire, timeOf(k.now)
	st.NextSlot, st.NextExpiresAt = 0, nil
	st.RetireTime = timeOf(k.now.Add(k.retireAfter))
	return false, nil
}

func (k *apiKeyRun) restart(ctx context.Context, t arcgisv1alpha1.RolloutRestartTarget, value string) error {
	var obj client.Object
	switch t.Kind {
	case arcgisv1alpha1.WorkloadKindDeployment:
		obj = &appsv1.Deployment{}
	case arcgisv1alpha1.WorkloadKindStatefulSet:
		obj = &appsv1.StatefulSet{}
	case arcgisv1alpha1.WorkloadKindDaemonSet:
		obj = &appsv1.DaemonSet{}
	default:
		return fmt.Errorf("cannot restart a %s", t.Kind)
	}
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, arcgisv1alpha1.RestartedAtAnnotation, value)
	obj.SetNamespace(k.tok.Namespace)
	obj.SetName(t.Name)
	return k.r.Patch(ctx, obj, client.RawPatch("application/merge-patch+json", []byte(patch)))
}

// invalidate invalidates the previous slot and checks that its key fails.
func (k *apiKeyRun) invalidate(ctx context.Context, p apikeys.Plan) (bool, error) {
	if err := k.checkpoint(ctx, arcgisv1alpha1.APIKeyStepInvalidate, nil); err != nil {
		return true, err
	}
	if err := k.keys.InvalidateAPIKey(ctx, k.slotRequest(p.Slot, true)); err != nil {
		return true, k.serviceFailure(ctx, err, fmt.Sprintf("invalidate slot %d", p.Slot))
	}
	gone, err := k.previousFails(ctx, p.Slot)
	if err != nil {
		return true, k.serviceFailure(ctx, err, fmt.Sprintf("check the old key of slot %d", p.Slot))
	}
	st := k.status()
	if !gone {
		msg := fmt.Sprintf("The old key of slot %d still worked after its slot was invalidated; trying again at %s",
			p.Slot, formatTime(k.now.Add(keyStillValidRetry)))
		if st.PreviousNotInvalidatedReason != msg {
			k.r.event(k.tok, corev1.EventTypeWarning, arcgisv1alpha1.ReasonKeyStillValid, "Retire", "%s", msg)
		}
		st.PreviousNotInvalidatedReason = msg
		st.Step, st.StepStartedAt, st.RetireTime = arcgisv1alpha1.APIKeyStepRetire, timeOf(k.now), timeOf(k.now.Add(keyStillValidRetry))
		return false, nil
	}
	k.app.Active[p.Slot-1] = false
	apikeys.SlotStatus(st, p.Slot).Active = false
	st.PreviousInvalidatedAt, st.PreviousNotInvalidatedReason = timeOf(k.now), ""
	k.r.event(k.tok, corev1.EventTypeNormal, arcgisv1alpha1.EventKeyInvalidated, "Retire",
		"Invalidated slot %d; its old key is refused (498)", p.Slot)
	return false, k.finishRotation(ctx)
}

// previousFails probes the previous key (498 = gone). Without it (lost
// from the Secret) the item's app says whether the slot still holds a key.
func (k *apiKeyRun) previousFails(ctx context.Context, slot int) (bool, error) {
	prev := ""
	if k.in.secret != nil {
		prev = string(k.in.secret.Data[arcgisv1alpha1.SecretKeyPreviousToken])
	}
	if prev == "" {
		app, err := k.keys.RegisteredApp(ctx, k.itemRequest())
		if err != nil {
			return false, err
		}
		return !app.SlotActive(slot), nil
	}
	_, err := k.r.Issuer.ValidateToken(ctx, tokenspec.ValidateRequest(&k.tok.Spec, prev, k.in.caBundle))
	switch {
	case err == nil:
		return false, nil
	case arcgis.ReasonOf(err) == arcgis.ReasonInvalidToken:
		return true, nil
	}
	return false, err
}

// keepPrevious ends a rotation without invalidating the previous slot.
func (k *apiKeyRun) keepPrevious(ctx context.Context, why string) error {
	st := k.status()
	if st.PreviousSlot != 0 && st.PreviousInvalidatedAt == nil {
		st.PreviousNotInvalidatedReason = why
	}
	return k.finishRotation(ctx)
}

// finishRotation goes back to Idle and drops the previous key from the
// Secret: it is either dead or, by choice, no longer the operator's concern.
func (k *apiKeyRun) finishRotation(ctx context.Context) error {
	st := k.status()
	st.Step, st.StepStartedAt, st.NextSlot, st.NextExpiresAt, st.RetireTime = arcgisv1alpha1.APIKeyStepIdle, timeOf(k.now), 0, nil, nil
	s := k.in.secret
	if s == nil || len(s.Data[arcgisv1alpha1.SecretKeyPreviousToken]) == 0 {
		return nil
	}
	written, err := k.r.writeSecret(ctx, k.tok, s, func(s *corev1.Secret) { delete(s.Data, arcgisv1alpha1.SecretKeyPreviousToken) })
	if err != nil {
		return fmt.Errorf("dropping the previous key from Secret %s: %w", klog.KObj(s), err)
	}
	k.r.memory.setWritten(k.tok.UID, written, k.now)
	k.in.secret, k.in.stored = written, parseStored(written)
	return nil
}

// setStatus derives the conditions from the held key and this reconcile.
func (k *apiKeyRun) setStatus() {
	tok, in, now := k.tok, k.in, k.r.Clock.Now()
	st := &tok.Status
	st.ObservedGeneration = tok.Generation
	if in != nil && in.secret != nil {
		st.SecretName = in.secret.Name
	}
	usable := k.held.Slot != 0 && now.Before(k.held.Expires) && !k.revoked
	if k.held.Slot != 0 {
		st.IssuedAt, st.ExpiresAt = timeOf(k.held.IssuedAt), timeOf(k.held.Expires)
		st.RenewalTime = timeOf(policies.RenewalTime(tok, k.held.IssuedAt, k.held.Expires))
		st.GrantedMinutes = grantedMinutes(in.stored)
		if a := st.APIKey; a != nil {
			a.Slot = arcgisv1alpha1.APIKeySlot(k.held.Slot)
		}
	} else {
		st.IssuedAt, st.ExpiresAt, st.RenewalTime, st.GrantedMinutes = nil, nil, nil, 0
	}

	var previous *metav1.Condition
	if c := meta.FindStatusCondition(st.Conditions, arcgisv1alpha1.ConditionIssuing); c != nil {
		previous = c.DeepCopy()
	}
	issuing := metav1.Condition{Type: arcgisv1alpha1.ConditionIssuing}
	inProgress := st.APIKey != nil && (st.APIKey.Step == arcgisv1alpha1.APIKeyStepSetExpiration || st.APIKey.Step == arcgisv1alpha1.APIKeyStepRegenerate)
	switch {
	case tok.Spec.Suspend:
		issuing.Status, issuing.Reason, issuing.Message = metav1.ConditionFalse, arcgisv1alpha1.ReasonSuspended, "Suspended: the key is neither issued nor rotated"
	case k.failed:
		issuing.Status, issuing.Reason, issuing.Message = metav1.ConditionTrue, k.failReason, k.failMessage
	case k.trigger != "" && (!k.stored || inProgress):
		issuing.Status, issuing.Reason, issuing.Message = metav1.ConditionTrue, k.trigger, k.triggerMessage
	default:
		issuing.Status, issuing.Reason, issuing.Message = metav1.ConditionFalse, arcgisv1alpha1.ReasonUpToDate, "No new key is due"
		if st.RenewalTime != nil {
			issuing.Message = "The next rotation is at " + formatTime(st.RenewalTime.Time)
		}
	}
	setCondition(tok, issuing, k.now)

	ready := metav1.Condition{Type: arcgisv1alpha1.ConditionReady}
	switch {
	case usable:
		ready.Status, ready.Reason = metav1.ConditionTrue, arcgisv1alpha1.ReasonTokenIssued
		ready.Message = fmt.Sprintf("Secret %s holds the key of slot %d, valid until %s", tokenspec.SecretName(tok), k.held.Slot, formatTime(k.held.Expires))
	case k.failed:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, k.failReason, k.failMessage
	case k.held.Slot != 0 && !k.revoked:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, arcgisv1alpha1.ReasonExpired, "The stored key expired"
	default:
		ready.Status, ready.Reason = metav1.ConditionFalse, cmpOr(k.trigger, arcgisv1alpha1.ReasonIssuing)
		ready.Message = cmpOr(k.triggerMessage, "No key is stored yet")
	}
	setCondition(tok, ready, k.now)
	setKstatusConditions(tok, usable || tok.Spec.Suspend, k.now)

	if k.failed && !k.waited && (previous == nil || previous.Reason != k.failReason || previous.Status != metav1.ConditionTrue) {
		k.r.event(tok, corev1.EventTypeWarning, k.failReason, "Issue", "%s", k.failMessage)
	}
}

// requeue is how long until something is due: the decision's wait, a retry,
// a probe of the key, or its expiry.
func (k *apiKeyRun) requeue() time.Duration {
	now := k.r.Clock.Now()
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	consider(k.until)
	consider(k.retryAt)
	if k.held.Slot != 0 && now.Before(k.held.Expires) {
		consider(k.held.Expires)
		if k.in != nil && k.in.inputErr == nil {
			if at, ok := k.r.nextProbe(k.tok, k.in); ok {
				consider(at)
			}
		}
	}
	if k.failed && !k.waited && k.retryAt.IsZero() && k.in != nil {
		if at, ok := k.r.retryAt(k.tok, k.in.failedFor()); ok {
			consider(at)
		}
	}
	if next.IsZero() {
		return 0
	}
	return max(next.Sub(now), minRequeue)
}

func durationOf(d *metav1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
