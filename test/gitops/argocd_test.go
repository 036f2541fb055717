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

// Package gitops tests the GitOps integrations in config/argocd: the Argo CD
// health check and resource actions of ArcGISToken, run the way Argo CD runs
// them, on ArcGISToken objects with the statuses the operator writes.
package gitops

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
)

// update rewrites config/argocd/argocd-cm-patch.yaml from the Lua files.
var update = flag.Bool("update", false, "rewrite config/argocd/argocd-cm-patch.yaml from the Lua files")

const argocdDir = "../../config/argocd"

var (
	healthScript    = filepath.Join(argocdDir, "health.lua")
	discoveryScript = filepath.Join(argocdDir, "actions", "discovery.lua")
	renewScript     = filepath.Join(argocdDir, "actions", "renew", "action.lua")
	cmPatch         = filepath.Join(argocdDir, "argocd-cm-patch.yaml")
)

// The health statuses Argo CD accepts from a health script; anything else
// becomes Unknown ("Lua returned an invalid health status").
var argoHealthStatuses = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

// newArgoState returns a Lua state set up as Argo CD sets one up for a custom
// (argocd-cm) health check or action: no standard libraries but package, base
// and table, an os table with only time and date, a one-second deadline, and
// the live object as the global obj.
func newArgoState(t *testing.T, obj map[string]any) *lua.LState {
	t.Helper()
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	t.Cleanup(L.Close)
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, lua.OpenOs},
	} {
		if err := L.CallByParam(lua.P{Fn: L.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			t.Fatalf("opening %s: %v", lib.name, err)
		}
	}
	// Keep os.time and os.date only: no exit, execute, getenv, remove...
	full := L.GetGlobal(lua.OsLibName).(*lua.LTable)
	safe := L.NewTable()
	for _, name := range []string{"time", "date"} {
		safe.RawSetString(name, full.RawGetString(name))
	}
	L.SetGlobal(lua.OsLibName, safe)
	if loaded, ok := L.GetField(L.GetGlobal("package"), "loaded").(*lua.LTable); ok {
		loaded.RawSetString(lua.OsLibName, safe)
	}
	for _, absent := range []string{"string", "math", "io", "debug"} {
		if L.GetGlobal(absent) != lua.LNil {
			t.Fatalf("the emulated Argo CD sandbox has %s", absent)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	t.Cleanup(cancel)
	L.SetContext(ctx)
	L.SetGlobal("obj", toLua(L, obj))
	return L
}

// toLua converts a decoded JSON value (as in an unstructured object) to Lua,
// as Argo CD does: maps and slices become tables, integers and floats numbers,
// nil nothing.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case json.Number:
		return lua.LString(v)
	case []any:
		tbl := L.CreateTable(len(v), 0)
		for _, item := range v {
			tbl.Append(toLua(L, item))
		}
		return tbl
	case map[string]any:
		tbl := L.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetString(key, toLua(L, item))
		}
		return tbl
	}
	return lua.LNil
}

// fromLua converts a Lua value back to what its JSON encoding decodes to. A
// table whose keys are 1..n is an array; any other table (also an empty one,
// which Argo CD turns back into the object it was) is a map.
func fromLua(t *testing.T, v lua.LValue) any {
	t.Helper()
	switch v := v.(type) {
	case *lua.LNilType:
		return nil
	case lua.LBool:
		return bool(v)
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return float64(v)
	case *lua.LTable:
		n, count := v.MaxN(), 0
		v.ForEach(func(lua.LValue, lua.LValue) { count++ })
		if n > 0 && n == count {
			arr := make([]any, 0, n)
			for i := 1; i <= n; i++ {
				arr = append(arr, fromLua(t, v.RawGetInt(i)))
			}
			return arr
		}
		m := map[string]any{}
		v.ForEach(func(key, value lua.LValue) {
			k, ok := key.(lua.LString)
			if !ok {
				t.Fatalf("table key %v is not a string", key)
			}
			m[string(k)] = fromLua(t, value)
		})
		return m
	}
	t.Fatalf("cannot convert a Lua %s", v.Type())
	return nil
}

// runScript runs a script file on obj and returns what it returned.
func runScript(t *testing.T, path string, obj map[string]any) any {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	L := newArgoState(t, obj)
	if err := L.DoString(string(src)); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	ret := L.Get(-1)
	if ret.Type() != lua.LTTable {
		t.Fatalf("%s returned a %s, Argo CD expects a table", path, ret.Type())
	}
	return fromLua(t, ret)
}

// unstructuredOf converts an ArcGISToken to the map Argo CD hands the script.
func unstructuredOf(t *testing.T, tok *arcgisv1alpha1.ArcGISToken) map[string]any {
	t.Helper()
	tok = tok.DeepCopy()
	tok.APIVersion, tok.Kind = arcgisv1alpha1.GroupVersion.String(), "ArcGISToken"
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(tok)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

var (
	issuedAt  = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	expiresAt = issuedAt.Add(2 * time.Hour)
	renewalAt = expiresAt.Add(-40 * time.Minute)
	failedAt  = renewalAt.Add(5 * time.Minute)
)

func ts(t time.Time) *metav1.Time { mt := metav1.NewTime(t); return &mt }

func cond(typ string, st metav1.ConditionStatus, reason, message string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: st, Reason: reason, Message: message,
		ObservedGeneration: 1, LastTransitionTime: metav1.NewTime(issuedAt)}
}

// newToken is the portal sample at generation 1, with no status.
func newToken() *arcgisv1alpha1.ArcGISToken {
	return &arcgisv1alpha1.ArcGISToken{
		ObjectMeta: metav1.ObjectMeta{
			Name: "portal-token", Namespace: "gis", Generation: 1, UID: "6b1e1a52-0c5e-4f43-9b65-0c3e8c8d2f10",
			ResourceVersion: "4711", CreationTimestamp: metav1.NewTime(issuedAt.Add(-time.Minute)),
			Annotations: map[string]string{"argocd.argoproj.io/tracking-id": "gis:arcgis.tokenoperator.dev/ArcGISToken:gis/portal-token"},
			Labels:      map[string]string{"app.kubernetes.io/instance": "gis"},
		},
		Spec: arcgisv1alpha1.ArcGISTokenSpec{
			Type:              arcgisv1alpha1.ServiceTypePortal,
			URL:               "https://gis.example.com/portal",
			CredentialsRef:    arcgisv1alpha1.CredentialsReference{Name: "portal-credentials"},
			Client:            arcgisv1alpha1.ClientBindingReferer,
			Referer:           "https://apps.example.com",
			ExpirationMinutes: 120,
		},
	}
}

const readyMessage = `Secret "portal-token" holds a token valid until 2026-11-25T16:00:00Z`

// withToken gives tok the status of a stored, valid token, as setStatus
// writes it.
func withToken(tok *arcgisv1alpha1.ArcGISToken) *arcgisv1alpha1.ArcGISToken {
	tok.Status = arcgisv1alpha1.ArcGISTokenStatus{
		ObservedGeneration: 1,
		SecretName:         "portal-token",
		IssuedAt:           ts(issuedAt),
		ExpiresAt:          ts(expiresAt),
		RenewalTime:        ts(renewalAt),
		GrantedMinutes:     120,
		Identity:           "gisuser",
		Conditions: []metav1.Condition{
			cond(arcgisv1alpha1.ConditionIssuing, metav1.ConditionFalse, arcgisv1alpha1.ReasonUpToDate, "The next renewal is at 2026-11-25T15:20:00Z"),
			cond(arcgisv1alpha1.ConditionReady, metav1.ConditionTrue, arcgisv1alpha1.ReasonTokenIssued, readyMessage),
		},
	}
	return tok
}

// failing records a failed attempt in tok's status.
func failing(tok *arcgisv1alpha1.ArcGISToken, reason string, attempts int32) {
	tok.Status.FailedAttempts = attempts
	tok.Status.LastFailureReason = reason
	tok.Status.LastFailureTime = ts(failedAt)
	tok.Status.LastFailureFingerprint = "3f2a9c/71d0e4"
}

// withoutToken gives tok the status of a token whose Ready condition is
// False for reason, with the kstatus condition setStatus adds for it.
func withoutToken(tok *arcgisv1alpha1.ArcGISToken, issuingReason, reason, message string, stalled bool) *arcgisv1alpha1.ArcGISToken {
	kstatus := arcgisv1alpha1.ConditionReconciling
	if stalled {
		kstatus = arcgisv1alpha1.ConditionStalled
	}
	tok.Status.ObservedGeneration = 1
	tok.Status.Conditions = []metav1.Condition{
		cond(arcgisv1alpha1.ConditionIssuing, metav1.ConditionTrue, issuingReason, message),
		cond(arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, reason, message),
		cond(kstatus, metav1.ConditionTrue, reason, message),
	}
	return tok
}

type healthCase struct {
	name string
	tok  *arcgisv1alpha1.ArcGISToken
	// want is the Argo CD health status; message holds substrings of the message.
	want    string
	message []string
	// kstatus is what Flux (kstatus) concludes from the same object.
	kstatus status.Status
}

func healthCases() []healthCase {
	var cases []healthCase
	add := func(c healthCase) { cases = append(cases, c) }

	add(healthCase{name: "ready", tok: withToken(newToken()),
		want: "Healthy", message: []string{readyMessage}, kstatus: status.CurrentStatus})

	renewing := withToken(newToken())
	renewing.Status.Conditions[0] = cond(arcgisv1alpha1.ConditionIssuing, metav1.ConditionTrue, arcgisv1alpha1.ReasonRenewing, "The token expires at 2026-11-25T16:00:00Z and is due for renewal")
	add(healthCase{name: "ready, renewal due", tok: renewing,
		want: "Healthy", message: []string{readyMessage}, kstatus: status.CurrentStatus})

	renewalDown := withToken(newToken())
	renewalDown.Status.Conditions[0] = cond(arcgisv1alpha1.ConditionIssuing, metav1.ConditionTrue, arcgisv1alpha1.ReasonServiceUnavailable,
		"Failed to issue a token: POST https://gis.example.com/portal/sharing/rest/generateToken: 503 Service Unavailable")
	failing(renewalDown, arcgisv1alpha1.ReasonServiceUnavailable, 3)
	add(healthCase{name: "ready, renewal failing (service unavailable)", tok: renewalDown,
		want: "Healthy", message: []string{readyMessage, "renewal failing", "ServiceUnavailable: Failed to issue a token", "503"}, kstatus: status.CurrentStatus})

	renewalRefused := withToken(newToken())
	renewalRefused.Status.Conditions[0] = cond(arcgisv1alpha1.ConditionIssuing, metav1.ConditionTrue, arcgisv1alpha1.ReasonInvalidCredentials,
		"Failed to issue a token: Invalid username or password.")
	failing(renewalRefused, arcgisv1alpha1.ReasonInvalidCredentials, 1)
	add(healthCase{name: "ready, renewal failing (invalid credentials)", tok: renewalRefused,
		want: "Healthy", message: []string{readyMessage, "renewal failing", "InvalidCredentials"}, kstatus: status.CurrentStatus})

	add(healthCase{name: "first token being issued",
		tok:  withoutToken(newToken(), arcgisv1alpha1.ReasonIssuing, arcgisv1alpha1.ReasonIssuing, "Issuing a token", false),
		want: "Progressing", message: []string{"Issuing: Issuing a token"}, kstatus: status.InProgressStatus})

	badCreds := withoutToken(newToken(), arcgisv1alpha1.ReasonInvalidCredentials, arcgisv1alpha1.ReasonInvalidCredentials,
		"Failed to issue a token: Invalid username or password.", true)
	failing(badCreds, arcgisv1alpha1.ReasonInvalidCredentials, 1)
	add(healthCase{name: "invalid credentials (stalled)", tok: badCreds,
		want: "Degraded", message: []string{"InvalidCredentials: Failed to issue a token: Invalid username or password."}, kstatus: status.FailedStatus})

	locked := withoutToken(newToken(), arcgisv1alpha1.ReasonAccountLocked, arcgisv1alpha1.ReasonAccountLocked,
		"Failed to issue a token: Too many invalid logins. Please try again later.", true)
	failing(locked, arcgisv1alpha1.ReasonAccountLocked, 2)
	add(healthCase{name: "account locked (stalled)", tok: locked,
		want: "Degraded", message: []string{"AccountLocked", "Too many invalid logins"}, kstatus: status.FailedStatus})

	down := withoutToken(newToken(), arcgisv1alpha1.ReasonServiceUnavailable, arcgisv1alpha1.ReasonServiceUnavailable,
		"Failed to issue a token: GET https://gis.example.com/server/rest/info: dial tcp: connection refused", false)
	failing(down, arcgisv1alpha1.ReasonServiceUnavailable, 4)
	add(healthCase{name: "service unavailable, no token yet", tok: down,
		want: "Progressing", message: []string{"ServiceUnavailable", "connection refused"}, kstatus: status.InProgressStatus})

	// A stored token that expired: kstatus still sees the operator at work
	// (Reconciling), but the Secret's consumers are failing now.
	expired := withToken(newToken())
	expired.Status.Conditions = []metav1.Condition{
		cond(arcgisv1alpha1.ConditionIssuing, metav1.ConditionFalse, arcgisv1alpha1.ReasonUpToDate, "The next renewal is at 2026-11-25T15:20:00Z"),
		cond(arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, arcgisv1alpha1.ReasonExpired, "The stored token expired at 2026-11-25T16:00:00Z"),
		cond(arcgisv1alpha1.ConditionReconciling, metav1.ConditionTrue, arcgisv1alpha1.ReasonExpired, "The stored token expired at 2026-11-25T16:00:00Z"),
	}
	add(healthCase{name: "expired", tok: expired,
		want: "Degraded", message: []string{"Expired: The stored token expired at 2026-11-25T16:00:00Z"}, kstatus: status.InProgressStatus})

	expiredDown := withToken(newToken())
	expiredDown.Status.Conditions = withoutToken(newToken(), arcgisv1alpha1.ReasonServiceUnavailable, arcgisv1alpha1.ReasonServiceUnavailable,
		"Failed to issue a token: 502 Bad Gateway", false).Status.Conditions
	failing(expiredDown, arcgisv1alpha1.ReasonServiceUnavailable, 9)
	add(healthCase{name: "expired while the service is unavailable", tok: expiredDown,
		want: "Degraded", message: []string{"no longer usable", "2026-11-25T16:00:00Z", "ServiceUnavailable: Failed to issue a token: 502 Bad Gateway"}, kstatus: status.InProgressStatus})

	revoked := withToken(newToken())
	revoked.Status.RevokedAt = ts(renewalAt.Add(-time.Hour))
	revoked.Status.Conditions = withoutToken(newToken(), arcgisv1alpha1.ReasonRevoked, arcgisv1alpha1.ReasonInvalidToken,
		"The stored token was revoked (498 Invalid token) and no new one is stored yet", true).Status.Conditions
	add(healthCase{name: "revoked", tok: revoked,
		want: "Degraded", message: []string{"InvalidToken", "revoked"}, kstatus: status.FailedStatus})

	invalidResponse := withoutToken(newToken(), arcgisv1alpha1.ReasonInvalidResponse, arcgisv1alpha1.ReasonInvalidResponse,
		"The service granted a token that expires in the past", false)
	add(healthCase{name: "invalid response, no token yet", tok: invalidResponse,
		want: "Degraded", message: []string{"InvalidResponse"}, kstatus: status.InProgressStatus})

	suspended := withToken(newToken())
	suspended.Spec.Suspend = true
	suspended.Generation, suspended.Status.ObservedGeneration = 2, 2
	suspended.Status.Conditions[0] = cond(arcgisv1alpha1.ConditionIssuing, metav1.ConditionFalse, arcgisv1alpha1.ReasonSuspended, "Suspended: the token is neither issued nor renewed")
	add(healthCase{name: "suspended with a valid token", tok: suspended,
		want: "Suspended", message: []string{"spec.suspend", readyMessage}, kstatus: status.CurrentStatus})

	suspendedEarly := newToken()
	suspendedEarly.Spec.Suspend = true
	suspendedEarly.Status = arcgisv1alpha1.ArcGISTokenStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{
		cond(arcgisv1alpha1.ConditionIssuing, metav1.ConditionFalse, arcgisv1alpha1.ReasonSuspended, "Suspended: the token is neither issued nor renewed"),
		cond(arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, arcgisv1alpha1.ReasonSuspended, "Suspended before a token was stored"),
	}}
	add(healthCase{name: "suspended before the first token", tok: suspendedEarly,
		want: "Suspended", message: []string{"Suspended before a token was stored"}, kstatus: status.InProgressStatus})

	// Suspend was just set: Argo CD shows the intent at once.
	suspending := withToken(newToken())
	suspending.Spec.Suspend = true
	suspending.Generation = 2
	add(healthCase{name: "suspended, not yet observed", tok: suspending,
		want: "Suspended", message: []string{"spec.suspend"}, kstatus: status.InProgressStatus})

	stale := withToken(newToken())
	stale.Generation = 3
	stale.Status.ObservedGeneration = 2
	add(healthCase{name: "stale observedGeneration", tok: stale,
		want: "Progressing", message: []string{"generation 3", "from generation 2"}, kstatus: status.InProgressStatus})

	staleFailing := withoutToken(newToken(), arcgisv1alpha1.ReasonInvalidCredentials, arcgisv1alpha1.ReasonInvalidCredentials, "Failed to issue a token: Invalid username or password.", true)
	staleFailing.Generation = 2
	add(healthCase{name: "stalled, spec changed since", tok: staleFailing,
		want: "Progressing", message: []string{"generation 2"}, kstatus: status.InProgressStatus})

	// kstatus has nothing to go on before the operator's first status write:
	// it calls that Current. Argo CD waits.
	add(healthCase{name: "no status", tok: newToken(),
		want: "Progressing", message: []string{"Waiting for the operator"}, kstatus: status.CurrentStatus})

	return cases
}

// TestArgoCDHealth runs config/argocd/health.lua as Argo CD would, on
// ArcGISTokens with the statuses the operator writes, and compares its verdict
// with what kstatus (Flux, kpt) concludes from the same object.
func TestArgoCDHealth(t *testing.T) {
	for _, tc := range healthCases() {
		t.Run(tc.name, func(t *testing.T) {
			obj := unstructuredOf(t, tc.tok)
			got, ok := runScript(t, healthScript, obj).(map[string]any)
			if !ok {
				t.Fatalf("health.lua returned %#v, want a table with status and message", got)
			}
			st, _ := got["status"].(string)
			msg, _ := got["message"].(string)
			if !argoHealthStatuses[st] {
				t.Fatalf("status %q is not an Argo CD health status (Argo CD would show Unknown)", st)
			}
			if st != tc.want {
				t.Errorf("status = %s (%q), want %s", st, msg, tc.want)
			}
			if msg == "" {
				t.Errorf("empty message")
			}
			for _, want := range tc.message {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not contain %q", msg, want)
				}
			}
			if len(got) != 2 {
				t.Errorf("returned %v, want status and message only", got)
			}

			res, err := status.Compute(&unstructured.Unstructured{Object: obj})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.kstatus {
				t.Errorf("kstatus = %s (%s), want %s", res.Status, res.Message, tc.kstatus)
			}
		})
	}
}

// TestArgoCDHealthSurvivesPartialObjects feeds the script objects missing the
// fields it reads, as a partially written or foreign object could be: it must
// return a status, never fail.
func TestArgoCDHealthSurvivesPartialObjects(t *testing.T) {
	for name, obj := range map[string]map[string]any{
		"empty":                   {},
		"no metadata":             {"spec": map[string]any{}, "status": map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True"}}}},
		"empty conditions":        {"metadata": map[string]any{"generation": int64(1)}, "status": map[string]any{"conditions": []any{}}},
		"ready without message":   {"metadata": map[string]any{"generation": int64(1)}, "status": map[string]any{"observedGeneration": int64(1), "conditions": []any{map[string]any{"type": "Ready", "status": "True"}, map[string]any{"type": "Issuing", "status": "True", "reason": "ServiceUnavailable"}}}},
		"ready unknown":           {"metadata": map[string]any{"generation": int64(1)}, "status": map[string]any{"observedGeneration": int64(1), "conditions": []any{map[string]any{"type": "Ready", "status": "Unknown"}}}},
		"false without a reason":  {"metadata": map[string]any{"generation": int64(1)}, "status": map[string]any{"observedGeneration": int64(1), "conditions": []any{map[string]any{"type": "Ready", "status": "False"}}}},
		"suspend, no status":      {"metadata": map[string]any{"generation": int64(1)}, "spec": map[string]any{"suspend": true}},
		"observedGeneration only": {"metadata": map[string]any{"generation": int64(1)}, "status": map[string]any{"observedGeneration": int64(1)}},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok := runScript(t, healthScript, obj).(map[string]any)
			if !ok || !argoHealthStatuses[fmt.Sprint(got["status"])] {
				t.Fatalf("health.lua returned %#v", got)
			}
			if m, _ := got["message"].(string); m == "" {
				t.Errorf("empty message in %#v", got)
			}
		})
	}
}

// TestArgoCDRenewAction runs config/argocd/actions/renew/action.lua as Argo CD
// would: it must return the object with the renew-at annotation set to the
// current time, and nothing else changed.
func TestArgoCDRenewAction(t *testing.T) {
	previous := withToken(newToken())
	previous.Annotations[arcgisv1alpha1.RenewAtAnnotation] = "2026-01-01T00:00:00Z"
	bare := withToken(newToken())
	bare.Annotations = nil

	for name, tok := range map[string]*arcgisv1alpha1.ArcGISToken{
		"with annotations":        withToken(newToken()),
		"renewed before":          previous,
		"without annotations":     bare,
		"before the first status": newToken(),
	} {
		t.Run(name, func(t *testing.T) {
			before := time.Now().UTC().Truncate(time.Second)
			out := runScript(t, renewScript, unstructuredOf(t, tok))
			after := time.Now().UTC()

			// Argo CD encodes the returned table as JSON and patches the
			// live object towards it.
			raw, err := json.Marshal(out)
			if err != nil {
				t.Fatal(err)
			}
			var got arcgisv1alpha1.ArcGISToken
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("the returned object is not an ArcGISToken: %v\n%s", err, raw)
			}
			at := got.Annotations[arcgisv1alpha1.RenewAtAnnotation]
			when, err := time.Parse(time.RFC3339, at)
			if err != nil {
				t.Fatalf("renew-at = %q, not an RFC 3339 time: %v", at, err)
			}
			if !strings.HasSuffix(at, "Z") {
				t.Errorf("renew-at = %q, want UTC", at)
			}
			if when.Before(before) || when.After(after) {
				t.Errorf("renew-at = %s, want the current time (between %s and %s)", at, before.Format(time.RFC3339), after.Format(time.RFC3339))
			}

			want := tok.DeepCopy()
			want.APIVersion, want.Kind = arcgisv1alpha1.GroupVersion.String(), "ArcGISToken"
			if want.Annotations == nil {
				want.Annotations = map[string]string{}
			}
			want.Annotations[arcgisv1alpha1.RenewAtAnnotation] = at
			// Compared as JSON: metav1.Time decodes into local time.
			gotJSON, wantJSON := canonicalJSON(t, &got), canonicalJSON(t, want)
			if gotJSON != wantJSON {
				t.Errorf("the action changed more than the annotation:\ngot:  %s\nwant: %s", gotJSON, wantJSON)
			}
			if direct := canonicalJSON(t, out); direct != wantJSON {
				t.Errorf("the action returned more than the object:\ngot:  %s\nwant: %s", direct, wantJSON)
			}
		})
	}
}

// canonicalJSON encodes v as JSON with sorted keys.
func canonicalJSON(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	raw, err = json.Marshal(generic)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestArgoCDActionDiscovery checks that Argo CD lists the renew action, and
// disables it while the token is suspended (the operator would act on it only
// once resumed).
func TestArgoCDActionDiscovery(t *testing.T) {
	suspended := withToken(newToken())
	suspended.Spec.Suspend = true
	for name, tc := range map[string]struct {
		tok      *arcgisv1alpha1.ArcGISToken
		disabled bool
	}{
		"ready":     {withToken(newToken()), false},
		"new":       {newToken(), false},
		"suspended": {suspended, true},
	} {
		t.Run(name, func(t *testing.T) {
			got := runScript(t, discoveryScript, unstructuredOf(t, tc.tok))
			want := map[string]any{"renew": map[string]any{"disabled": tc.disabled}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("discovery.lua returned %#v, want %#v", got, want)
			}
		})
	}
}

// cmPatchFor is argocd-cm-patch.yaml as generated from the Lua files.
func cmPatchFor(t *testing.T) []byte {
	t.Helper()
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	indent := func(s, prefix string) string {
		var b strings.Builder
		for _, line := range strings.SplitAfter(strings.TrimRight(s, "\n")+"\n", "\n") {
			if line == "" {
				continue
			}
			if line != "\n" {
				b.WriteString(prefix)
			}
			b.WriteString(line)
		}
		return b.String()
	}
	actions := "discovery.lua: |\n" + indent(read(discoveryScript), "  ") +
		"definitions:\n- name: renew\n  action.lua: |\n" + indent(read(renewScript), "    ")

	var b bytes.Buffer
	b.WriteString(`# Installs the ArcGISToken health check and the "renew" action into Argo CD.
# Generated from health.lua and actions/ by
#   go test ./test/gitops -run TestArgoCDConfigMapPatch -update
# (the test fails when this file and the Lua files differ). Apply it with
#   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file config/argocd/argocd-cm-patch.yaml
# or list it under "patches:" in the kustomization that installs Argo CD.
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
  resource.customizations.health.arcgis.tokenoperator.dev_ArcGISToken: |
`)
	b.WriteString(indent(read(healthScript), "    "))
	b.WriteString("  resource.customizations.actions.arcgis.tokenoperator.dev_ArcGISToken: |\n")
	b.WriteString(indent(actions, "    "))
	return b.Bytes()
}

// TestArgoCDConfigMapPatch checks that argocd-cm-patch.yaml carries exactly
// the Lua files, under the keys Argo CD reads, in the format it parses.
func TestArgoCDConfigMapPatch(t *testing.T) {
	want := cmPatchFor(t)
	if *update {
		if err := os.WriteFile(cmPatch, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(cmPatch)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with the Lua files: run go test ./test/gitops -run TestArgoCDConfigMapPatch -update", cmPatch)
	}

	// What Argo CD reads from it.
	var cm struct {
		APIVersion, Kind string
		Metadata         struct{ Name, Namespace string }
		Data             map[string]string
	}
	if err := yaml.Unmarshal(got, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Kind != "ConfigMap" || cm.Metadata.Name != "argocd-cm" {
		t.Errorf("patches %s %s, want ConfigMap argocd-cm", cm.Kind, cm.Metadata.Name)
	}
	const key = "arcgis.tokenoperator.dev_ArcGISToken"
	for _, path := range []string{healthScript} {
		b, _ := os.ReadFile(path)
		if cm.Data["resource.customizations.health."+key] != string(b) {
			t.Errorf("the health key does not hold %s verbatim", path)
		}
	}
	// The actions value is itself YAML: discovery.lua and definitions.
	var actions struct {
		Discovery   string `json:"discovery.lua"`
		Definitions []struct {
			Name   string `json:"name"`
			Action string `json:"action.lua"`
		} `json:"definitions"`
	}
	if err := yaml.UnmarshalStrict([]byte(cm.Data["resource.customizations.actions."+key]), &actions); err != nil {
		t.Fatalf("actions value: %v", err)
	}
	discovery, _ := os.ReadFile(discoveryScript)
	renew, _ := os.ReadFile(renewScript)
	if actions.Discovery != string(discovery) {
		t.Errorf("discovery.lua differs from %s", discoveryScript)
	}
	if len(actions.Definitions) != 1 || actions.Definitions[0].Name != "renew" || actions.Definitions[0].Action != string(renew) {
		t.Errorf("definitions = %+v, want renew with %s", actions.Definitions, renewScript)
	}
	if len(cm.Data) != 2 {
		t.Errorf("data has %d keys, want the health and the actions customizations", len(cm.Data))
	}
}
