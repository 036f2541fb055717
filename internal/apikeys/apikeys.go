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

// Package apikeys decides, without I/O, the next step of an API key
// credentials item's lifecycle: which slot gets the next key, when, and when
// the previous slot is invalidated. The reconciler gathers Facts, asks Decide
// for a Plan, records the plan's step in status before it calls the service,
// carries the plan out, updates the facts, and asks again.
//
// Two promises hold for every plan, whatever the facts (FuzzDecide checks
// them): the slot whose key the Secret holds is never regenerated, dated or
// invalidated; and a slot that holds a live key the operator did not issue is
// never touched unless spec.apiKey.takeOverSlot names it.
package apikeys

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
)

const (
	// DefaultLifetime is a new key's lifetime when spec.apiKey.lifetime is
	// not set.
	DefaultLifetime = 90 * 24 * time.Hour
	// MaxLifetime is the longest lifetime asked for: ArcGIS refuses dates
	// more than one (calendar) year ahead, and 365 days never are.
	MaxLifetime = 365 * 24 * time.Hour
	// DefaultRetireAfter is how long the previous key keeps working when
	// spec.apiKey.retireAfter is not set.
	DefaultRetireAfter = 24 * time.Hour
	// sameDateTolerance absorbs the rounding between a date the operator
	// set (whole seconds in status) and the expiry the service reports
	// (relative seconds, read on the operator's clock).
	sameDateTolerance = 2 * time.Minute
)

// Lifetime returns the lifetime a new key gets for the spec's value (zero
// when unset), and whether it was clamped to MaxLifetime.
func Lifetime(spec time.Duration) (time.Duration, bool) {
	switch {
	case spec <= 0:
		return DefaultLifetime, false
	case spec > MaxLifetime:
		return MaxLifetime, true
	}
	return spec, false
}

// App is what the portal said of the item in this reconcile.
type App struct {
	// AppType is the registered app's type, "apikey" for API key credentials.
	AppType string
	// Active says, per slot (index 0 for slot 1), whether it holds a live key.
	Active [2]bool
	// Expiration is each slot's expiration date on the item, zero for none.
	Expiration [2]time.Time
}

// Held is what the Secret holds.
type Held struct {
	// Slot is the stored key's slot, 0 when no key of this item is stored.
	Slot int
	// IssuedAt and Expires bound the stored key's life.
	IssuedAt, Expires time.Time
}

// Facts are everything a decision needs.
type Facts struct {
	Now time.Time
	// Lifetime is a new key's lifetime, already defaulted and clamped.
	Lifetime time.Duration
	// RetireAfter is how long the previous key keeps working; 0 = forever.
	RetireAfter time.Duration
	// TakeOverSlot is spec.apiKey.takeOverSlot, 0 when unset.
	TakeOverSlot int
	// Status is status.apiKey, with Observe applied when App is set.
	Status v1.APIKeyStatus
	Held   Held
	// RotationTime is when the held key is due for rotation.
	RotationTime time.Time
	// HeldRevoked says that a probe of the held key got 498 in this
	// reconcile: it was invalidated outside the operator.
	HeldRevoked bool
	// App is nil until the item was read in this reconcile.
	App *App
}

// Action is what a plan does.
type Action string

const (
	// Wait: nothing to do until Plan.Until (zero: until something changes).
	Wait Action = "Wait"
	// ReadApp: read the item's registered app and dates, then decide again.
	ReadApp Action = "ReadApp"
	// SetExpiration: set Plan.Slot's expiration date to Plan.Expiration.
	SetExpiration Action = "SetExpiration"
	// Regenerate: mint Plan.Slot's key and store it in the Secret. With
	// Recover, the step was begun before and its answer may have been lost:
	// ask first for the slot's key as it is, and use it if it expires at
	// Plan.Expiration.
	Regenerate Action = "Regenerate"
	// RestartTargets: restart spec.rolloutRestartTargets for the stored key,
	// then wait for the retire time.
	RestartTargets Action = "RestartTargets"
	// Invalidate: invalidate Plan.Slot (the previous one) and check that the
	// previous key fails.
	Invalidate Action = "Invalidate"
	// KeepPrevious: end the rotation without invalidating the previous slot,
	// for the reason in Plan.Message.
	KeepPrevious Action = "KeepPrevious"
	// Report: touch nothing; Plan.Reason and Message say why.
	Report Action = "Report"
)

// Plan is the next step.
type Plan struct {
	Action Action
	// Step is the checkpoint to record in status before acting.
	Step v1.APIKeyStep
	// Slot is the slot acted on.
	Slot int
	// Expiration is the date to set (SetExpiration) or the one the new key
	// must have (Regenerate).
	Expiration time.Time
	// Recover: see Regenerate.
	Recover bool
	// Until: see Wait.
	Until time.Time
	// Reason is a condition reason saying why (Issuing, Renewing, Revoked,
	// SlotsInUse, NotAPIKeyCredentials, …); empty when nothing is due.
	Reason  string
	Message string
}

// Decide returns the next step. It is pure: the same facts give the same plan.
func Decide(f Facts) Plan {
	st := f.Status
	if f.App != nil && !strings.EqualFold(f.App.AppType, "apikey") {
		return Plan{Action: Report, Reason: v1.ReasonNotAPIKeyCredentials,
			Message: fmt.Sprintf("The item's registered app is of type %q, not API key credentials (apikey)", f.App.AppType)}
	}
	switch st.Step {
	case v1.APIKeyStepSetExpiration, v1.APIKeyStepRegenerate:
		if validSlot(int(st.NextSlot)) && st.NextExpiresAt != nil {
			return resume(f)
		}
	case v1.APIKeyStepRestartTargets:
		return Plan{Action: RestartTargets, Step: v1.APIKeyStepRestartTargets, Slot: f.Held.Slot}
	case v1.APIKeyStepRetire, v1.APIKeyStepInvalidate:
		if p, due := dueNewKey(f); due {
			return p
		}
		return retire(f)
	}
	if p, due := dueNewKey(f); due {
		return p
	}
	return Plan{Action: Wait, Until: f.RotationTime}
}

// dueNewKey says whether a new key is due, and plans its first step.
func dueNewKey(f Facts) (Plan, bool) {
	switch {
	case f.Held.Slot == 0:
		return start(f, v1.ReasonIssuing, "No key of the item is stored yet"), true
	case f.HeldRevoked:
		return start(f, v1.ReasonRevoked, fmt.Sprintf("The key of slot %d was invalidated outside the operator (498)", f.Held.Slot)), true
	case !f.Now.Before(f.Held.Expires):
		return start(f, v1.ReasonExpired, fmt.Sprintf("The key of slot %d expired", f.Held.Slot)), true
	case !f.RotationTime.IsZero() && !f.Now.Before(f.RotationTime):
		return start(f, v1.ReasonRenewing, fmt.Sprintf("The key of slot %d is due for rotation", f.Held.Slot)), true
	}
	return Plan{}, false
}

// start plans a new key: read the item, pick a slot the operator may use,
// and date it.
func start(f Facts, reason, why string) Plan {
	if f.App == nil {
		return Plan{Action: ReadApp, Reason: reason, Message: why}
	}
	slot := pick(f)
	if slot == 0 {
		return Plan{Action: Report, Reason: v1.ReasonSlotsInUse, Message: why + "; " + slotsInUse(f)}
	}
	date := f.Now.Add(f.Lifetime).Truncate(time.Second)
	return Plan{Action: SetExpiration, Step: v1.APIKeyStepSetExpiration, Slot: slot, Expiration: date, Reason: reason,
		Message: fmt.Sprintf("%s; issuing a key in slot %d valid until %s", why, slot, date.UTC().Format(time.RFC3339))}
}

// pick returns the slot for the next key, 0 when none may be used: never
// the held one; a free slot first, then one the operator manages, then the
// one it may take over.
func pick(f Facts) int {
	best, rank := 0, 0
	for n := 1; n <= 2; n++ {
		if !Consent(f, n) {
			continue
		}
		r := 1
		switch {
		case !f.App.Active[n-1]:
			r = 3
		case managed(f.Status, n):
			r = 2
		}
		if r > rank {
			best, rank = n, r
		}
	}
	return best
}

// resume continues a key being issued into status.nextSlot.
func resume(f Facts) Plan {
	st := f.Status
	n, date := int(st.NextSlot), st.NextExpiresAt.Time
	if f.Held.Slot == n && SameDate(f.Held.Expires, date) {
		// Stored already: the restart came after the Secret write.
		return Plan{Action: RestartTargets, Step: v1.APIKeyStepRestartTargets, Slot: n}
	}
	if f.App == nil {
		return Plan{Action: ReadApp, Reason: v1.ReasonIssuing, Message: fmt.Sprintf("Resuming the key of slot %d", n)}
	}
	if !Consent(f, n) {
		return Plan{Action: Report, Reason: v1.ReasonSlotsInUse, Message: slotsInUse(f)}
	}
	if st.Step == v1.APIKeyStepSetExpiration && !SameDate(f.App.Expiration[n-1], date) {
		return Plan{Action: SetExpiration, Step: v1.APIKeyStepSetExpiration, Slot: n, Expiration: date, Reason: v1.ReasonIssuing,
			Message: fmt.Sprintf("Setting the expiration date of slot %d", n)}
	}
	return Plan{Action: Regenerate, Step: v1.APIKeyStepRegenerate, Slot: n, Expiration: date,
		Recover: st.Step == v1.APIKeyStepRegenerate, Reason: v1.ReasonIssuing,
		Message: fmt.Sprintf("Issuing the key of slot %d", n)}
}

// retire waits for the retire time, then invalidates the previous slot.
func retire(f Facts) Plan {
	st := f.Status
	p := int(st.PreviousSlot)
	switch {
	case f.RetireAfter <= 0:
		return Plan{Action: KeepPrevious, Slot: p, Message: "spec.apiKey.retireAfter is 0s: the previous key works until it expires or its slot is reused"}
	case !validSlot(p) || p == f.Held.Slot:
		return Plan{Action: KeepPrevious, Slot: p, Message: "There is no previous key to invalidate"}
	case st.Step == v1.APIKeyStepRetire && st.RetireTime != nil && f.Now.Before(st.RetireTime.Time):
		return Plan{Action: Wait, Until: minTime(st.RetireTime.Time, f.RotationTime)}
	case f.App == nil:
		return Plan{Action: ReadApp}
	case !Consent(f, p):
		return Plan{Action: KeepPrevious, Slot: p,
			Message: fmt.Sprintf("Slot %d now holds a key the operator did not issue; it is left alone", p)}
	}
	return Plan{Action: Invalidate, Step: v1.APIKeyStepInvalidate, Slot: p}
}

// Consent says whether the operator may regenerate, date or invalidate slot
// n: never the held slot; otherwise one without a live key, one the
// operator manages, or the one spec.apiKey.takeOverSlot names. It needs the
// item read in this reconcile.
func Consent(f Facts, n int) bool {
	if !validSlot(n) || n == f.Held.Slot || f.App == nil {
		return false
	}
	return !f.App.Active[n-1] || managed(f.Status, n) || f.TakeOverSlot == n
}

func slotsInUse(f Facts) string {
	var busy []string
	for n := 1; n <= 2; n++ {
		switch {
		case n == f.Held.Slot:
			busy = append(busy, fmt.Sprintf("slot %d holds the stored key", n))
		case !Consent(f, n):
			busy = append(busy, fmt.Sprintf("slot %d holds a key the operator did not issue", n))
		}
	}
	return strings.Join(busy, " and ") + "; set spec.apiKey.takeOverSlot to a slot the operator may regenerate"
}

// Observe merges what the item says into the slots' status. A slot the
// operator manages stops being managed when it holds a live key whose date
// is not the one last recorded: someone else dated and regenerated it.
func Observe(st *v1.APIKeyStatus, app App) {
	for n := 1; n <= 2; n++ {
		s := SlotStatus(st, n)
		date := app.Expiration[n-1]
		if s.Managed && app.Active[n-1] && s.ExpiresAt != nil && !SameDate(s.ExpiresAt.Time, date) {
			s.Managed = false
		}
		s.Active = app.Active[n-1]
		s.ExpiresAt = timeOrNil(date)
	}
}

// SlotStatus returns slot n's entry in st.Slots, adding it when missing.
func SlotStatus(st *v1.APIKeyStatus, n int) *v1.APIKeySlotStatus {
	for i := range st.Slots {
		if int(st.Slots[i].Slot) == n {
			return &st.Slots[i]
		}
	}
	st.Slots = append(st.Slots, v1.APIKeySlotStatus{Slot: v1.APIKeySlot(n)})
	if len(st.Slots) == 2 && st.Slots[0].Slot > st.Slots[1].Slot {
		st.Slots[0], st.Slots[1] = st.Slots[1], st.Slots[0]
		return &st.Slots[0]
	}
	return &st.Slots[len(st.Slots)-1]
}

func managed(st v1.APIKeyStatus, n int) bool {
	for _, s := range st.Slots {
		if int(s.Slot) == n {
			return s.Managed
		}
	}
	return false
}

func validSlot(n int) bool { return n == 1 || n == 2 }

// SameDate says whether two expiry dates are the same date, as set by the
// operator and as reported back by the service.
func SameDate(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return false
	}
	d := a.Sub(b)
	return d < sameDateTolerance && d > -sameDateTolerance
}

func minTime(a, b time.Time) time.Time {
	if b.IsZero() || a.Before(b) {
		return a
	}
	return b
}

func timeOrNil(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	return &metav1.Time{Time: t}
}
