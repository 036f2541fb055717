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
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
)

// TestKstatus checks what Flux, kpt and other kstatus users conclude from the
// status the reconciler writes.
func TestKstatus(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.createCredentials("wrong", map[string]string{"username": testUser, "password": "nope-password-9c2a"})

	h.create(h.token("ready", arcgisv1alpha1.ServiceTypePortal))
	bad := h.token("failing", arcgisv1alpha1.ServiceTypePortal)
	bad.Spec.CredentialsRef.Name = "wrong"
	h.create(bad)
	h.waitReady("ready")
	h.waitCondition("failing", arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, arcgisv1alpha1.ReasonInvalidCredentials)

	// The server is down when the first token of this one is asked for.
	if err := h.sim.InjectFault(arcgissim.Fault{Endpoint: arcgissim.EndpointServerInfo, Kind: arcgissim.FaultHTMLError}); err != nil {
		t.Fatal(err)
	}
	h.create(h.token("progressing", arcgisv1alpha1.ServiceTypeServer))
	h.waitCondition("progressing", arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, arcgisv1alpha1.ReasonServiceUnavailable)

	for name, want := range map[string]status.Status{
		"ready":       status.CurrentStatus,
		"failing":     status.FailedStatus,
		"progressing": status.InProgressStatus,
	} {
		raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(h.get(name))
		if err != nil {
			t.Fatal(err)
		}
		res, err := status.Compute(&unstructured.Unstructured{Object: raw})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != want {
			t.Errorf("kstatus of %s = %s (%s), want %s", name, res.Status, res.Message, want)
		}
	}
}
