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
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
)

// The APIKey lifecycle against the simulator's API key credentials items,
// over HTTPS, with the fake clock: days pass as clock steps.

const (
	testKeyItem   = "4f5e6d7c8b9a00112233445566778899"
	testKeyClient = "keyAppClient42"
	testKeySecret = "key-app-Cl1ent-S3cret-9f8e7d"
	day           = 24 * time.Hour
)

func keyItem(slot1, slot2 arcgissim.APIKeySlot) arcgissim.APIKeyItem {
	return arcgissim.APIKeyItem{ItemID: testKeyItem, Owner: testUser, ClientID: testKeyClient, ClientSecret: testKeySecret,
		Slot1: slot1, Slot2: slot2}
}

func withKeyItem(item arcgissim.APIKeyItem) func(*harnessOptions) {
	return withSim(func(c *arcgissim.Config) { c.APIKeys = []arcgissim.APIKeyItem{item} })
}

// apiKeyToken is an APIKey ArcGISToken for testKeyItem: keys live 30 days,
// so a rotation is due after 20.
func (h *harness) apiKeyToken(name string) *arcgisv1alpha1.ArcGISToken {
	t := h.token(name, arcgisv1alpha1.ServiceTypeAPIKey)
	t.Spec.Referer = ""
	t.Spec.APIKey = &arcgisv1alpha1.APIKeySpec{ItemID: testKeyItem, Lifetime: &metav1.Duration{Duration: 30 * day}}
	return t
}

// keyEvents lists the simulator's slot actions as "generate1", "invalidate2", ….
func (h *harness) keyEvents() []string {
	var out []string
	for _, e := range h.sim.Counters().APIKeyEvents {
		out = append(out, fmt.Sprintf("%s%d", e.Action, e.Slot))
	}
	return out
}

// liveKey says whether key is the live key of its slot.
func (h *harness) liveKey(key string) bool {
	slot := arcgissim.SlotOfAPIKey(key)
	live, _, ok := h.sim.APIKey(testKeyItem, slot)
	return ok && live == key
}

// waitSlot waits until the Secret holds a key of slot n other than old.
func (h *harness) waitSlot(secret string, n int, old string) *corev1.Secret {
	h.t.Helper()
	var s *corev1.Secret
	h.eventually(fmt.Sprintf("a key of slot %d in Secret %s", n, secret), func() (bool, string) {
		s = &corev1.Secret{}
		if err := k8sClient.Get(h.ctx, client.ObjectKey{Namespace: h.ns, Name: secret}, s); err != nil {
			return false, err.Error()
		}
		key := string(s.Data["token"])
		return key != old && string(s.Data["slot"]) == fmt.Sprint(n) && arcgissim.SlotOfAPIKey(key) == n,
			fmt.Sprintf("slot %q", s.Data["slot"])
	})
	return s
}

func (h *harness) waitStep(name string, step arcgisv1alpha1.APIKeyStep) *arcgisv1alpha1.ArcGISToken {
	h.t.Helper()
	var tok *arcgisv1alpha1.ArcGISToken
	h.eventually("step "+string(step), func() (bool, string) {
		tok = h.get(name)
		if tok.Status.APIKey == nil {
			return false, "no status.apiKey"
		}
		return tok.Status.APIKey.Step == step, string(tok.Status.APIKey.Step)
	})
	return tok
}

// pollSecret reads the Secret every 200 ms (real time) until stop, and
// reports every read that found it missing, empty, or holding a dead key.
func (h *harness) pollSecret(name string) (stop func() []string) {
	var mu sync.Mutex
	var bad []string
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
			}
			s := &corev1.Secret{}
			err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: name}, s)
			mu.Lock()
			switch key := string(s.Data["token"]); {
			case err != nil:
				bad = append(bad, err.Error())
			case key == "":
				bad = append(bad, "empty")
			case !h.liveKey(key):
				bad = append(bad, "a dead key of slot "+string(s.Data["slot"]))
			}
			mu.Unlock()
		}
	}()
	return func() []string {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return bad
	}
}

// TestAPIKeyLifecycle: the first key into a free slot, a rotation to the
// other slot at the renewal time with the targets restarted, the old slot
// invalidated only after retireAfter and checked with the old key, and a
// Secret that never holds a dead key meanwhile.
func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withKeyItem(keyItem(arcgissim.APIKeySlot{}, arcgissim.APIKeySlot{})))
	h.create(&appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "maps", Namespace: h.ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "maps"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "maps"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.invalid/maps"}}},
			},
		},
	})
	tok := h.apiKeyToken("keys")
	tok.Spec.RolloutRestartTargets = []arcgisv1alpha1.RolloutRestartTarget{{Kind: arcgisv1alpha1.WorkloadKindDeployment, Name: "maps"}}
	h.create(tok)
	start := h.clock.Now()

	s := h.waitSlot("keys", 1, "")
	first := string(s.Data["token"])
	if got := string(s.Data["itemID"]); got != testKeyItem || string(s.Data["url"]) != h.sim.PortalURL() || !h.liveKey(first) {
		t.Fatalf("Secret: itemID %q url %q live %t", got, s.Data["url"], h.liveKey(first))
	}
	if _, ok := s.Data["previousToken"]; ok {
		t.Error("a first key with a previous one")
	}
	got := h.waitStep("keys", arcgisv1alpha1.APIKeyStepIdle)
	h.waitReady("keys")
	if st := got.Status.APIKey; st.Slot != 1 || st.ItemID != testKeyItem || len(st.Slots) != 2 || !st.Slots[0].Managed || st.Slots[1].Managed {
		t.Errorf("status.apiKey = %+v", st)
	}
	_, expires, _ := h.sim.APIKey(testKeyItem, 1)
	if want := start.Add(30 * day); !expires.Equal(want) || string(s.Data["expires"]) != want.UTC().Format(time.RFC3339) {
		t.Errorf("key expires %s (Secret %s), want %s", expires, s.Data["expires"], want)
	}
	h.waitEvent("keys", "Issued")

	// Rotation: 20 days on (a third of 30 days before expiry, give or take
	// the jitter).
	stop := h.pollSecret("keys")
	h.step(21*day, "keys")
	s = h.waitSlot("keys", 2, first)
	second := string(s.Data["token"])
	if string(s.Data["previousToken"]) != first {
		t.Error("the previous key is not kept beside the new one")
	}
	got = h.waitStep("keys", arcgisv1alpha1.APIKeyStepRetire)
	if st := got.Status.APIKey; st.Slot != 2 || st.PreviousSlot != 1 || st.RetireTime == nil || st.PreviousInvalidatedAt != nil {
		t.Errorf("status.apiKey after the rotation = %+v", st)
	}
	if !h.liveKey(first) || !h.liveKey(second) {
		t.Fatal("both keys must work until retireAfter has passed")
	}
	h.eventually("the Deployment restarted", func() (bool, string) {
		d := &appsv1.Deployment{}
		if err := k8sClient.Get(h.ctx, client.ObjectKey{Namespace: h.ns, Name: "maps"}, d); err != nil {
			return false, err.Error()
		}
		v := d.Spec.Template.Annotations[arcgisv1alpha1.RestartedAtAnnotation]
		return v != "", v
	})
	h.waitEvent("keys", "Renewed")

	// Not before retireAfter.
	h.step(23*time.Hour, "keys")
	h.quiesce()
	if !h.liveKey(first) {
		t.Fatal("the old slot was invalidated before retireAfter")
	}
	h.step(2*time.Hour, "keys")
	got = h.waitStep("keys", arcgisv1alpha1.APIKeyStepIdle)
	if h.liveKey(first) || !h.liveKey(second) {
		t.Fatalf("after retireAfter: old live %t, new live %t", h.liveKey(first), h.liveKey(second))
	}
	if st := got.Status.APIKey; st.PreviousInvalidatedAt == nil || st.PreviousNotInvalidatedReason != "" {
		t.Errorf("status.apiKey after retiring = %+v", st)
	}
	h.waitEvent("keys", "KeyInvalidated")
	h.eventually("the previous key dropped from the Secret", func() (bool, string) {
		s := h.secret("keys")
		_, has := s.Data["previousToken"]
		return !has && string(s.Data["token"]) == second, ""
	})
	if bad := stop(); len(bad) > 0 {
		t.Errorf("polls of the Secret found %d bad states: %v", len(bad), bad)
	}
	want := "setExpiration1 generate1 setExpiration2 generate2 invalidate1"
	if got := strings.Join(h.keyEvents(), " "); got != want {
		t.Errorf("slot actions: %s, want %s", got, want)
	}
}

// TestAPIKeySlotsInUse: both slots hold keys someone else issued: nothing is
// touched until takeOverSlot names one.
func TestAPIKeySlotsInUse(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withSim(func(c *arcgissim.Config) {
		far := c.Clock.Now().Add(200 * day)
		c.APIKeys = []arcgissim.APIKeyItem{keyItem(arcgissim.APIKeySlot{ExpirationDate: far, Active: true}, arcgissim.APIKeySlot{ExpirationDate: far, Active: true})}
	}))
	theirs1, _, _ := h.sim.APIKey(testKeyItem, 1)
	theirs2, _, _ := h.sim.APIKey(testKeyItem, 2)
	h.create(h.apiKeyToken("busy"))
	got := h.waitCondition("busy", arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, arcgisv1alpha1.ReasonSlotsInUse)
	if c := findCondition(got, arcgisv1alpha1.ConditionReady); !strings.Contains(c.Message, "takeOverSlot") {
		t.Errorf("Ready message %q does not say what to do", c.Message)
	}
	h.waitEvent("busy", arcgisv1alpha1.ReasonSlotsInUse)
	h.quiesce()
	if ev := h.keyEvents(); len(ev) != 0 {
		t.Fatalf("touched slots without consent: %v", ev)
	}
	if st := got.Status.APIKey; len(st.Slots) != 2 || !st.Slots[0].Active || st.Slots[0].Managed || st.Slots[1].Managed {
		t.Errorf("status.apiKey = %+v", st)
	}

	tok := h.get("busy")
	tok.Spec.APIKey.TakeOverSlot = ptr.To(arcgisv1alpha1.APIKeySlot(2))
	if err := k8sClient.Update(h.ctx, tok); err != nil {
		t.Fatal(err)
	}
	s := h.waitSlot("busy", 2, "")
	h.waitReady("busy")
	if !h.liveKey(theirs1) || h.liveKey(theirs2) || !h.liveKey(string(s.Data["token"])) {
		t.Errorf("after the take-over: slot 1's key live %t (want true), slot 2's old key live %t (want false)", h.liveKey(theirs1), h.liveKey(theirs2))
	}
	want := "setExpiration2 regenerate2"
	if got := strings.Join(h.keyEvents(), " "); got != want {
		t.Errorf("slot actions: %s, want %s", got, want)
	}
}

// TestAPIKeyRevokedOutside: a key invalidated in the portal gets a new key in
// the other slot at the next check, with a condition and an event.
func TestAPIKeyRevokedOutside(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withKeyItem(keyItem(arcgissim.APIKeySlot{}, arcgissim.APIKeySlot{})))
	h.create(h.apiKeyToken("rev"))
	first := string(h.waitSlot("rev", 1, "").Data["token"])
	h.waitStep("rev", arcgisv1alpha1.APIKeyStepIdle)
	if err := h.sim.InvalidateAPIKey(testKeyItem, 1); err != nil {
		t.Fatal(err)
	}
	h.step(11*time.Minute, "rev") // past the validation interval
	h.waitSlot("rev", 2, first)
	h.waitEvent("rev", arcgisv1alpha1.ReasonRevoked)
	h.waitReady("rev")
	want := "setExpiration1 generate1 invalidateExternal1 setExpiration2 generate2"
	if got := strings.Join(h.keyEvents(), " "); got != want {
		t.Errorf("slot actions: %s, want %s", got, want)
	}
}

// TestAPIKeyServiceDownAcrossRenewal: the portal is down at the renewal
// time; the old key stays, and the rotation happens when it returns.
func TestAPIKeyServiceDownAcrossRenewal(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withKeyItem(keyItem(arcgissim.APIKeySlot{}, arcgissim.APIKeySlot{})))
	h.create(h.apiKeyToken("down"))
	first := string(h.waitSlot("down", 1, "").Data["token"])
	h.waitStep("down", arcgisv1alpha1.APIKeyStepIdle)
	if err := h.sim.InjectFault(arcgissim.Fault{Endpoint: "portal", Kind: arcgissim.FaultStatus, Status: 503}); err != nil {
		t.Fatal(err)
	}
	h.step(21*day, "down")
	got := h.waitCondition("down", arcgisv1alpha1.ConditionIssuing, metav1.ConditionTrue, arcgisv1alpha1.ReasonServiceUnavailable)
	if c := findCondition(got, arcgisv1alpha1.ConditionReady); c.Status != metav1.ConditionTrue {
		t.Errorf("Ready = %s %s while the old key still works", c.Status, c.Reason)
	}
	if string(h.secret("down").Data["token"]) != first || !h.liveKey(first) {
		t.Fatal("the old key was lost while the service was down")
	}
	h.sim.ClearFaults()
	h.step(10*time.Minute, "down")
	h.waitSlot("down", 2, first)
	h.waitReady("down")
}

// TestAPIKeyHeldInAnOutage: while the portal's calls are held back (other
// ArcGISTokens found it down), an API key due for rotation makes no call
// either; it rotates once the service answers.
func TestAPIKeyHeldInAnOutage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withKeyItem(keyItem(arcgissim.APIKeySlot{}, arcgissim.APIKeySlot{})))
	h.create(h.apiKeyToken("key"))
	first := string(h.waitSlot("key", 1, "").Data["token"])
	h.waitStep("key", arcgisv1alpha1.APIKeyStepIdle)
	var names []string
	for i := range openAfter {
		names = append(names, fmt.Sprintf("t%d", i))
		h.create(h.token(names[i], arcgisv1alpha1.ServiceTypePortal))
	}
	for _, n := range names {
		h.waitReady(n)
	}
	h.quiesce()

	// The portal goes down, and the other tokens find it so.
	if err := h.sim.InjectFault(arcgissim.Fault{Endpoint: "portal", Kind: arcgissim.FaultStatus, Status: 503}); err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		tok := h.get(n)
		patch := client.MergeFrom(tok.DeepCopy())
		tok.Annotations = map[string]string{arcgisv1alpha1.RenewAtAnnotation: fmt.Sprintf("2026-12-06T04:00:%02dZ", i)}
		if err := k8sClient.Patch(h.ctx, tok, patch); err != nil {
			t.Fatal(err)
		}
		h.waitCondition(n, arcgisv1alpha1.ConditionIssuing, metav1.ConditionTrue, arcgisv1alpha1.ReasonServiceUnavailable)
	}
	h.quiesce()

	// The key's rotation is due; the clock does not move meanwhile, so the
	// trial is not due and the key makes no call.
	h.clock.Step(21 * day)
	h.poke(names[0]) // the trial, which fails
	h.eventually("the trial call", func() (bool, string) {
		return h.get(names[0]).Status.FailedAttempts >= 2, "no second failure"
	})
	h.quiesce()
	before := h.sim.Counters()
	h.poke("key")
	got := h.waitCondition("key", arcgisv1alpha1.ConditionIssuing, metav1.ConditionTrue, arcgisv1alpha1.ReasonServiceUnavailable)
	if c := findCondition(got, arcgisv1alpha1.ConditionIssuing); !strings.Contains(c.Message, "it is called once every") {
		t.Errorf("Issuing says %q, want it to say the calls are held back", c.Message)
	}
	h.quiesce()
	if calls := callsDuring(before, h.sim.Counters()); len(calls.list) != 0 {
		t.Errorf("the key called the service while its calls were held back: %v", calls.list)
	}
	if string(h.secret("key").Data["token"]) != first || !h.liveKey(first) {
		t.Fatal("the old key was lost while the service was down")
	}

	// The service answers again: the key rotates.
	h.sim.ClearFaults()
	h.step(10*time.Minute, "key")
	h.waitSlot("key", 2, first)
	h.waitReady("key")
}

// TestAPIKeyWrongOwnerPassword: the owner's login fails; the guard keeps
// the account clear of a lock-out, and nothing is touched.
func TestAPIKeyWrongOwnerPassword(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withKeyItem(keyItem(arcgissim.APIKeySlot{}, arcgissim.APIKeySlot{})))
	h.createCredentials("wrong", map[string]string{"username": testUser, "password": "not-the-Passw0rd-at-all"})
	tok := h.apiKeyToken("wrong")
	tok.Spec.CredentialsRef.Name = "wrong"
	h.create(tok)
	h.waitCondition("wrong", arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, arcgisv1alpha1.ReasonInvalidCredentials)
	for range 6 {
		h.step(3*time.Minute, "wrong")
	}
	h.quiesce()
	attempts := h.sim.Counters().LoginAttempts[arcgissim.AccountKey(arcgissim.RealmPortal, testUser)]
	if len(attempts) == 0 || len(attempts) > 4 {
		t.Errorf("%d failed logins in 18 minutes, want 1 to 4 (ArcGIS locks after 5)", len(attempts))
	}
	if ev := h.keyEvents(); len(ev) != 0 {
		t.Errorf("slot actions without a login: %v", ev)
	}
}

// TestAPIKeyItemProblems: a wrong item ID, an item that is not API key
// credentials, and a lifetime over a year.
func TestAPIKeyItemProblems(t *testing.T) {
	t.Parallel()
	web := keyItem(arcgissim.APIKeySlot{}, arcgissim.APIKeySlot{})
	web.ItemID, web.ClientID, web.AppType = "aaaabbbbccccddddeeeeffff00001111", "webClient77", "multiple"
	h := newHarness(t, withSim(func(c *arcgissim.Config) {
		c.APIKeys = []arcgissim.APIKeyItem{keyItem(arcgissim.APIKeySlot{}, arcgissim.APIKeySlot{}), web}
	}))
	missing := h.apiKeyToken("missing")
	missing.Spec.APIKey.ItemID = "0000000000000000000000000000dead"
	h.create(missing)
	webTok := h.apiKeyToken("web")
	webTok.Spec.APIKey.ItemID = web.ItemID
	h.create(webTok)
	long := h.apiKeyToken("long")
	long.Spec.APIKey.Lifetime = &metav1.Duration{Duration: 400 * day}
	h.create(long)

	h.waitCondition("missing", arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, arcgisv1alpha1.ReasonItemNotFound)
	h.waitCondition("web", arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, arcgisv1alpha1.ReasonNotAPIKeyCredentials)
	start := h.clock.Now()
	h.waitSlot("long", 1, "")
	h.waitEvent("long", arcgisv1alpha1.EventLifetimeClamped)
	if _, expires, _ := h.sim.APIKey(testKeyItem, 1); expires.Sub(start) != 365*day {
		t.Errorf("a 400-day lifetime gave a key of %s, want 365 days", expires.Sub(start))
	}
}

// TestAPIKeyRestartBetweenSteps kills the manager at every write it makes
// (the checkpoint of each step, and the Secret writes) through a first key,
// a rotation and a retirement, and starts a new one each time: no slot is
// regenerated twice, the held slot is never touched, and the stored key
// works throughout.
func TestAPIKeyRestartBetweenSteps(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withKeyItem(keyItem(arcgissim.APIKeySlot{}, arcgissim.APIKeySlot{})), withoutManager())
	h.create(h.apiKeyToken("crash"))

	kills := 0
	// runUntil restarts managers, each killed at its first write of kind,
	// until done holds; the last one runs on.
	type kill struct {
		kind string
		skip int // writes of kind that land before the one the kill hangs
	}
	runUntil := func(plan []kill, done func() bool) {
		t.Helper()
		for i := 0; ; i++ {
			if i > len(plan) {
				t.Fatal("not done after the planned kills and an undisturbed run")
			}
			w := &writeCounter{}
			// After the planned kills, one manager runs undisturbed.
			k := kill{kind: "none"}
			if i < len(plan) {
				k = plan[i]
			}
			hung := w.hangAfter(k.kind, k.skip)
			_, stop := h.startManager(managerOptions{writes: w})
			select {
			case <-hung:
				kills++
				stop()
				if st := h.get("crash").Status.APIKey; st != nil {
					t.Logf("killed at %s #%d; step %s; slot actions %v", k.kind, k.skip+1, st.Step, h.keyEvents())
				}
				continue
			case <-time.After(4 * time.Second):
			}
			stop()
			if done() {
				return
			}
			st := h.get("crash").Status
			t.Logf("no %s #%d came; step %s; conditions %+v", k.kind, k.skip+1, st.APIKey.Step, st.Conditions)
		}
	}
	statusWrite, secretCreate, secretPatch := "PATCH arcgistokens/status", "POST secrets", "PATCH secrets"
	idleWith := func(slot int) func() bool {
		return func() bool {
			tok := h.get("crash")
			s := &corev1.Secret{}
			_ = k8sClient.Get(h.ctx, client.ObjectKey{Namespace: h.ns, Name: "crash"}, s)
			return tok.Status.APIKey != nil && tok.Status.APIKey.Step == arcgisv1alpha1.APIKeyStepIdle &&
				string(s.Data["slot"]) == fmt.Sprint(slot) && h.liveKey(string(s.Data["token"]))
		}
	}
	// A checkpoint is the first status write of a step: hanging the second
	// kills the manager after the step's call, before the next step.
	runUntil([]kill{{statusWrite, 1}, {secretCreate, 0}, {statusWrite, 1}, {statusWrite, 1}, {statusWrite, 1}}, idleWith(1))
	first := string(h.secret("crash").Data["token"])

	h.clock.Step(21 * day)
	runUntil([]kill{{statusWrite, 1}, {secretPatch, 0}, {statusWrite, 1}, {statusWrite, 1}, {statusWrite, 1}}, func() bool {
		tok := h.get("crash")
		return tok.Status.APIKey != nil && tok.Status.APIKey.Step == arcgisv1alpha1.APIKeyStepRetire
	})
	second := string(h.secret("crash").Data["token"])
	if arcgissim.SlotOfAPIKey(second) != 2 || !h.liveKey(first) || !h.liveKey(second) {
		t.Fatalf("after the rotation: slot %d, old live %t, new live %t", arcgissim.SlotOfAPIKey(second), h.liveKey(first), h.liveKey(second))
	}

	h.clock.Step(25 * time.Hour)
	runUntil([]kill{{statusWrite, 1}, {secretPatch, 0}, {statusWrite, 1}, {statusWrite, 1}}, idleWith(2))
	if h.liveKey(first) || !h.liveKey(second) {
		t.Fatalf("after retiring: old live %t, new live %t", h.liveKey(first), h.liveKey(second))
	}

	counts := map[string]int{}
	for _, e := range h.keyEvents() {
		counts[e]++
	}
	t.Logf("%d kills; slot actions %v", kills, h.keyEvents())
	if kills < 8 {
		t.Errorf("only %d kills: the test did not stop between most steps", kills)
	}
	if n := counts["generate1"] + counts["regenerate1"]; n != 1 {
		t.Errorf("slot 1 got %d keys, want 1", n)
	}
	if n := counts["generate2"] + counts["regenerate2"]; n != 1 {
		t.Errorf("slot 2 got %d keys, want 1", n)
	}
	if counts["invalidate2"] != 0 {
		t.Error("the held slot 2 was invalidated")
	}
	if counts["invalidate1"] < 1 {
		t.Error("the old slot 1 was never invalidated")
	}
	// No slot action on slot 1 after slot 2's key was made, but invalidation.
	seenSecond := false
	for _, e := range h.keyEvents() {
		if e == "generate2" || e == "regenerate2" {
			seenSecond = true
		}
		if seenSecond && strings.HasSuffix(e, "1") && e != "invalidate1" {
			t.Errorf("%s after the rotation to slot 2", e)
		}
	}
}

func findCondition(tok *arcgisv1alpha1.ArcGISToken, typ string) metav1.Condition {
	for _, c := range tok.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return metav1.Condition{}
}
