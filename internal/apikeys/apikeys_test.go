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

package apikeys

import (
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
)

var t0 = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

const day = 24 * time.Hour

func mt(t time.Time) *metav1.Time { return &metav1.Time{Time: t} }

// slots builds status slots: managed and active flags, and dates, per slot.
func slots(managed1, managed2 bool) []v1.APIKeySlotStatus {
	return []v1.APIKeySlotStatus{{Slot: 1, Managed: managed1}, {Slot: 2, Managed: managed2}}
}

// held is a key of slot n issued 60 days ago for 90 days, due at day 60.
func heldKey(n int) (Held, time.Time) {
	issued := t0.Add(-30 * day)
	return Held{Slot: n, IssuedAt: issued, Expires: issued.Add(90 * day)}, issued.Add(60 * day)
}

func TestDecide(t *testing.T) {
	t.Parallel()
	base := func() Facts {
		return Facts{Now: t0, Lifetime: 90 * day, RetireAfter: day}
	}
	free := &App{AppType: "apikey"}
	date := t0.Add(90 * day)
	heldSlot1, due1 := heldKey(1)
	notDue1 := due1.Add(day)
	tests := map[string]struct {
		facts func(f *Facts)
		want  Plan
	}{
		"first sight: read the item": {
			facts: func(*Facts) {},
			want:  Plan{Action: ReadApp, Reason: v1.ReasonIssuing},
		},
		"first sight, both slots free: slot 1": {
			facts: func(f *Facts) { f.App = free },
			want:  Plan{Action: SetExpiration, Step: v1.APIKeyStepSetExpiration, Slot: 1, Expiration: date, Reason: v1.ReasonIssuing},
		},
		"first sight, slot 1 busy: slot 2": {
			facts: func(f *Facts) { f.App = &App{AppType: "apikey", Active: [2]bool{true, false}} },
			want:  Plan{Action: SetExpiration, Step: v1.APIKeyStepSetExpiration, Slot: 2, Expiration: date, Reason: v1.ReasonIssuing},
		},
		"first sight, both busy: touch nothing": {
			facts: func(f *Facts) { f.App = &App{AppType: "apikey", Active: [2]bool{true, true}} },
			want:  Plan{Action: Report, Reason: v1.ReasonSlotsInUse},
		},
		"both busy, take over slot 2": {
			facts: func(f *Facts) {
				f.App = &App{AppType: "apikey", Active: [2]bool{true, true}}
				f.TakeOverSlot = 2
			},
			want: Plan{Action: SetExpiration, Step: v1.APIKeyStepSetExpiration, Slot: 2, Expiration: date, Reason: v1.ReasonIssuing},
		},
		"not API key credentials": {
			facts: func(f *Facts) { f.App = &App{AppType: "multiple"} },
			want:  Plan{Action: Report, Reason: v1.ReasonNotAPIKeyCredentials},
		},
		"the Secret was deleted: the managed slot again, not the foreign one": {
			facts: func(f *Facts) {
				f.App = &App{AppType: "apikey", Active: [2]bool{true, true}}
				f.Status = v1.APIKeyStatus{Step: v1.APIKeyStepIdle, Slot: 2, Slots: slots(false, true)}
			},
			want: Plan{Action: SetExpiration, Step: v1.APIKeyStepSetExpiration, Slot: 2, Expiration: date, Reason: v1.ReasonIssuing},
		},
		"date set before a restart, not on the item yet: set it again": {
			facts: func(f *Facts) {
				f.App = free
				f.Status = v1.APIKeyStatus{Step: v1.APIKeyStepSetExpiration, NextSlot: 1, NextExpiresAt: mt(date.Add(-time.Hour)), Slots: slots(true, false)}
			},
			want: Plan{Action: SetExpiration, Step: v1.APIKeyStepSetExpiration, Slot: 1, Expiration: date.Add(-time.Hour), Reason: v1.ReasonIssuing},
		},
		"date on the item: regenerate": {
			facts: func(f *Facts) {
				f.App = &App{AppType: "apikey", Expiration: [2]time.Time{date, {}}}
				f.Status = v1.APIKeyStatus{Step: v1.APIKeyStepSetExpiration, NextSlot: 1, NextExpiresAt: mt(date), Slots: slots(true, false)}
			},
			want: Plan{Action: Regenerate, Step: v1.APIKeyStepRegenerate, Slot: 1, Expiration: date, Reason: v1.ReasonIssuing},
		},
		"regenerate begun before a restart: recover first": {
			facts: func(f *Facts) {
				f.App = &App{AppType: "apikey", Active: [2]bool{true, false}, Expiration: [2]time.Time{date, {}}}
				f.Status = v1.APIKeyStatus{Step: v1.APIKeyStepRegenerate, NextSlot: 1, NextExpiresAt: mt(date), Slots: slots(true, false)}
			},
			want: Plan{Action: Regenerate, Step: v1.APIKeyStepRegenerate, Slot: 1, Expiration: date, Recover: true, Reason: v1.ReasonIssuing},
		},
		"regenerate begun, the Secret holds the key: restart, without reading the item": {
			facts: func(f *Facts) {
				f.Held = Held{Slot: 1, IssuedAt: t0, Expires: date.Add(time.Second)}
				f.Status = v1.APIKeyStatus{Step: v1.APIKeyStepRegenerate, NextSlot: 1, NextExpiresAt: mt(date), Slots: slots(true, false)}
			},
			want: Plan{Action: RestartTargets, Step: v1.APIKeyStepRestartTargets, Slot: 1},
		},
		"a resumed slot taken by someone else meanwhile": {
			facts: func(f *Facts) {
				f.App = &App{AppType: "apikey", Active: [2]bool{false, true}}
				f.Held = heldSlot1
				f.RotationTime = due1
				f.Status = v1.APIKeyStatus{Step: v1.APIKeyStepRegenerate, NextSlot: 2, NextExpiresAt: mt(date), Slots: slots(true, false)}
			},
			want: Plan{Action: Report, Reason: v1.ReasonSlotsInUse},
		},
		"restart targets": {
			facts: func(f *Facts) {
				f.Held = heldSlot1
				f.Status = v1.APIKeyStatus{Step: v1.APIKeyStepRestartTargets}
			},
			want: Plan{Action: RestartTargets, Step: v1.APIKeyStepRestartTargets, Slot: 1},
		},
		"retire: not yet": {
			facts: func(f *Facts) {
				f.Held, f.RotationTime = heldSlot1, notDue1
				f.Status = v1.APIKeyStatus{Step: v1.APIKeyStepRetire, PreviousSlot: 2, RetireTime: mt(t0.Add(time.Hour)), Slots: slots(true, true)}
			},
			want: Plan{Action: Wait, Until: t0.Add(time.Hour)},
		},
		"retire: due, read the item": {
			facts: func(f *Facts) {
				f.Held, f.RotationTime = heldSlot1, notDue1
				f.Status = v1.APIKeyStatus{Step: v1.APIKeyStepRetire, PreviousSlot: 2, RetireTime: mt(t0), Slots: slots(true, true)}
			},
			want: Plan{Action: ReadApp},
		},
		"retire: due, invalidate the previous slot": {
			facts: func(f *Facts) {
				f.Held, f.RotationTime = heldSlot1, notDue1
				f.App = &App{AppType: "apikey", Active: [2]bool{true, true}}
				f.Status = v1.APIKeyStatus{Step: v1.APIKeyStepRetire, PreviousSlot: 2, RetireTime: mt(t0), Slots: slots(true, true)}
			},
			want: Plan{Action: Invalidate, Step: v1.APIKeyStepInvalidate, Slot: 2},
		},
		"invalidate begun before a restart: again": {
			facts: func(f *Facts) {
				f.Held, f.RotationTime = heldSlot1, notDue1
				f.App = &App{AppType: "apikey", Active: [2]bool{true, false}}
				f.Status = v1.APIKeyStatus{Step: v1.APIKeyStepInvalidate, PreviousSlot: 2, RetireTime: mt(t0.Add(-time.Hour)), Slots: slots(true, true)}
			},
			want: Plan{Action: Invalidate, Step: v1.APIKeyStepInvalidate, Slot: 2},
		},
		"retireAfter 0s: keep the previous key": {
			facts: func(f *Facts) {
				f.Held, f.RotationTime, f.RetireAfter = heldSlot1, notDue1, 0
				f.Status = v1.APIKeyStatus{Step: v1.APIKeyStepRetire, PreviousSlot: 2, Slots: slots(true, true)}
			},
			want: Plan{Action: KeepPrevious, Slot: 2},
		},
		"the previous slot now someone else's: keep it": {
			facts: func(f *Facts) {
				f.Held, f.RotationTime = heldSlot1, notDue1
				f.App = &App{AppType: "apikey", Active: [2]bool{true, true}}
				f.Status = v1.APIKeyStatus{Step: v1.APIKeyStepRetire, PreviousSlot: 2, RetireTime: mt(t0), Slots: slots(true, false)}
			},
			want: Plan{Action: KeepPrevious, Slot: 2},
		},
		"the previous slot is the held one: nothing to retire": {
			facts: func(f *Facts) {
				f.Held, f.RotationTime = heldSlot1, notDue1
				f.Status = v1.APIKeyStatus{Step: v1.APIKeyStepRetire, PreviousSlot: 1, RetireTime: mt(t0), Slots: slots(true, true)}
			},
			want: Plan{Action: KeepPrevious, Slot: 1},
		},
		"idle, not due: wait for the rotation": {
			facts: func(f *Facts) { f.Held, f.RotationTime = heldSlot1, notDue1 },
			want:  Plan{Action: Wait, Until: notDue1},
		},
		"idle, due: read the item": {
			facts: func(f *Facts) { f.Held, f.RotationTime = heldSlot1, t0 },
			want:  Plan{Action: ReadApp, Reason: v1.ReasonRenewing},
		},
		"idle, due: the other slot": {
			facts: func(f *Facts) {
				f.Held, f.RotationTime = heldSlot1, t0
				f.App = &App{AppType: "apikey", Active: [2]bool{true, true}}
				f.Status = v1.APIKeyStatus{Step: v1.APIKeyStepIdle, Slot: 1, Slots: slots(true, true)}
			},
			want: Plan{Action: SetExpiration, Step: v1.APIKeyStepSetExpiration, Slot: 2, Expiration: date, Reason: v1.ReasonRenewing},
		},
		"due, the other slot someone else's: touch nothing": {
			facts: func(f *Facts) {
				f.Held, f.RotationTime = heldSlot1, t0
				f.App = &App{AppType: "apikey", Active: [2]bool{true, true}}
				f.Status = v1.APIKeyStatus{Step: v1.APIKeyStepIdle, Slot: 1, Slots: slots(true, false)}
			},
			want: Plan{Action: Report, Reason: v1.ReasonSlotsInUse},
		},
		"revoked outside: the other slot at once": {
			facts: func(f *Facts) {
				f.Held, f.RotationTime, f.HeldRevoked = heldSlot1, notDue1, true
				f.App = &App{AppType: "apikey", Active: [2]bool{false, false}}
			},
			want: Plan{Action: SetExpiration, Step: v1.APIKeyStepSetExpiration, Slot: 2, Expiration: date, Reason: v1.ReasonRevoked},
		},
		"revoked while retiring: a new key preempts": {
			facts: func(f *Facts) {
				f.Held, f.RotationTime, f.HeldRevoked = heldSlot1, notDue1, true
				f.Status = v1.APIKeyStatus{Step: v1.APIKeyStepRetire, PreviousSlot: 2, RetireTime: mt(t0.Add(time.Hour)), Slots: slots(true, true)}
			},
			want: Plan{Action: ReadApp, Reason: v1.ReasonRevoked},
		},
		"expired": {
			facts: func(f *Facts) {
				f.Held, f.RotationTime = Held{Slot: 2, IssuedAt: t0.Add(-10 * day), Expires: t0}, t0.Add(-day)
			},
			want: Plan{Action: ReadApp, Reason: v1.ReasonExpired},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := base()
			tc.facts(&f)
			got := Decide(f)
			if got.Message == "" && (got.Reason != "" || got.Action == KeepPrevious) {
				t.Errorf("no message for %s %s", got.Action, got.Reason)
			}
			got.Message = ""
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decide =\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

func TestSlotsInUseMessageSaysWhatToDo(t *testing.T) {
	t.Parallel()
	p := Decide(Facts{Now: t0, Lifetime: day, App: &App{AppType: "apikey", Active: [2]bool{true, true}}})
	for _, want := range []string{"slot 1 holds a key the operator did not issue", "slot 2", "takeOverSlot"} {
		if !strings.Contains(p.Message, want) {
			t.Errorf("message %q lacks %q", p.Message, want)
		}
	}
}

func TestObserve(t *testing.T) {
	t.Parallel()
	d1, d2 := t0.Add(10*day), t0.Add(20*day)
	tests := map[string]struct {
		before      v1.APIKeySlotStatus
		active      bool
		date        time.Time
		wantManaged bool
	}{
		"managed, same date":                   {v1.APIKeySlotStatus{Slot: 1, Managed: true, ExpiresAt: mt(d1)}, true, d1, true},
		"managed, another date and a live key": {v1.APIKeySlotStatus{Slot: 1, Managed: true, ExpiresAt: mt(d1)}, true, d2, false},
		"managed, another date, no live key":   {v1.APIKeySlotStatus{Slot: 1, Managed: true, ExpiresAt: mt(d1)}, false, d2, true},
		"not managed stays so":                 {v1.APIKeySlotStatus{Slot: 1, ExpiresAt: mt(d1)}, true, d1, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := v1.APIKeyStatus{Slots: []v1.APIKeySlotStatus{tc.before}}
			Observe(&st, App{AppType: "apikey", Active: [2]bool{tc.active, false}, Expiration: [2]time.Time{tc.date, {}}})
			s := SlotStatus(&st, 1)
			if s.Managed != tc.wantManaged || s.Active != tc.active || !s.ExpiresAt.Equal(mt(tc.date)) {
				t.Errorf("slot 1 = %+v", s)
			}
			if len(st.Slots) != 2 || st.Slots[1].Slot != 2 || st.Slots[1].ExpiresAt != nil {
				t.Errorf("slots = %+v, want slot 2 added without a date", st.Slots)
			}
		})
	}
}

func TestSlotStatusKeepsOrder(t *testing.T) {
	t.Parallel()
	st := v1.APIKeyStatus{}
	SlotStatus(&st, 2).Active = true
	SlotStatus(&st, 1).Managed = true
	if len(st.Slots) != 2 || st.Slots[0].Slot != 1 || !st.Slots[0].Managed || st.Slots[1].Slot != 2 || !st.Slots[1].Active {
		t.Errorf("slots = %+v", st.Slots)
	}
}

func TestLifetime(t *testing.T) {
	t.Parallel()
	for in, want := range map[time.Duration]struct {
		d       time.Duration
		clamped bool
	}{
		0:              {DefaultLifetime, false},
		time.Hour:      {time.Hour, false},
		365 * day:      {365 * day, false},
		366 * day:      {MaxLifetime, true},
		10 * 365 * day: {MaxLifetime, true},
	} {
		d, c := Lifetime(in)
		if d != want.d || c != want.clamped {
			t.Errorf("Lifetime(%s) = %s %t, want %s %t", in, d, c, want.d, want.clamped)
		}
	}
}

// FuzzDecide checks the promises on any facts: the held slot is never
// dated, regenerated or invalidated; a slot holding a key the operator did
// not issue is never touched without takeOverSlot; the item is read before
// anything is done to a slot; a wait never ends in the past.
func FuzzDecide(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18})
	f.Add([]byte{255, 1, 2, 0, 3, 1, 1, 0, 1, 1, 2, 4, 9, 200, 7, 3, 1, 0, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := reader(data)
		steps := []v1.APIKeyStep{"", v1.APIKeyStepIdle, v1.APIKeyStepSetExpiration, v1.APIKeyStepRegenerate,
			v1.APIKeyStepRestartTargets, v1.APIKeyStepRetire, v1.APIKeyStepInvalidate}
		when := func() time.Time { return t0.Add(time.Duration(int8(r.byte())) * 12 * time.Hour) }
		optTime := func() *metav1.Time {
			if r.byte()%3 == 0 {
				return nil
			}
			return mt(when())
		}
		facts := Facts{
			Now:          t0,
			Lifetime:     time.Duration(r.byte()%200+1) * day,
			RetireAfter:  time.Duration(r.byte()%3) * day,
			TakeOverSlot: int(r.byte() % 3),
			Held:         Held{Slot: int(r.byte() % 3), IssuedAt: when(), Expires: when()},
			RotationTime: when(),
			HeldRevoked:  r.byte()%4 == 0,
			Status: v1.APIKeyStatus{
				Step:          steps[int(r.byte())%len(steps)],
				Slot:          v1.APIKeySlot(r.byte() % 3),
				NextSlot:      v1.APIKeySlot(r.byte() % 3),
				NextExpiresAt: optTime(),
				PreviousSlot:  v1.APIKeySlot(r.byte() % 3),
				RetireTime:    optTime(),
				Slots:         slots(r.byte()%2 == 0, r.byte()%2 == 0),
			},
		}
		if r.byte()%4 != 0 {
			types := []string{"apikey", "APIKey", "multiple", ""}
			facts.App = &App{AppType: types[int(r.byte())%len(types)], Active: [2]bool{r.byte()%2 == 0, r.byte()%2 == 0},
				Expiration: [2]time.Time{when(), when()}}
		}
		p := Decide(facts)
		if q := Decide(facts); !reflect.DeepEqual(p, q) {
			t.Fatalf("not deterministic: %+v then %+v", p, q)
		}
		switch p.Action {
		case SetExpiration, Regenerate, Invalidate:
			n := p.Slot
			switch {
			case n != 1 && n != 2:
				t.Fatalf("%s of slot %d", p.Action, n)
			case n == facts.Held.Slot:
				t.Fatalf("%s of the held slot %d; facts %+v", p.Action, n, facts)
			case facts.App == nil:
				t.Fatalf("%s of slot %d without reading the item", p.Action, n)
			case facts.App.Active[n-1] && !managed(facts.Status, n) && facts.TakeOverSlot != n:
				t.Fatalf("%s of slot %d, which holds a key the operator did not issue, without consent; facts %+v", p.Action, n, facts)
			case p.Step == "" || p.Step == v1.APIKeyStepIdle:
				t.Fatalf("%s without a checkpoint", p.Action)
			}
			if p.Action == SetExpiration && facts.Status.Step != v1.APIKeyStepSetExpiration &&
				(!p.Expiration.After(facts.Now) || p.Expiration.Sub(facts.Now) > MaxLifetime) {
				t.Fatalf("a new date %s outside (now, now+1y]", p.Expiration)
			}
		case Wait:
			if !p.Until.IsZero() && !p.Until.After(facts.Now) {
				t.Fatalf("a wait until %s, not after now %s; facts %+v", p.Until, facts.Now, facts)
			}
		case ReadApp, Report, KeepPrevious, RestartTargets:
		default:
			t.Fatalf("unknown action %q", p.Action)
		}
	})
}

// reader hands out fuzz bytes, zeros when they run out.
type byteReader struct {
	data []byte
	i    int
}

func reader(data []byte) *byteReader { return &byteReader{data: data} }

func (r *byteReader) byte() byte {
	if r.i >= len(r.data) {
		// Past the end, vary with the position so that times differ.
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(r.i))
		r.i++
		return b[0] * 7
	}
	r.i++
	return r.data[r.i-1]
}
