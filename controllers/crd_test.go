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
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

// newNamespace creates a namespace for one test, so tests do not see each
// other's objects. envtest runs no namespace controller, so it is not deleted.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

func TestCRDRoundTrip(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)

	in := &arcgisv1alpha1.ArcGISToken{
		ObjectMeta: metav1.ObjectMeta{Name: "portal", Namespace: ns},
		Spec: arcgisv1alpha1.ArcGISTokenSpec{
			Type:           arcgisv1alpha1.ServiceTypePortal,
			URL:            "https://gis.example.com/portal",
			CredentialsRef: arcgisv1alpha1.CredentialsReference{Name: "portal-credentials"},
			Referer:        "https://apps.example.com",
		},
	}
	if err := k8sClient.Create(ctx, in); err != nil {
		t.Fatalf("create: %v", err)
	}

	got := &arcgisv1alpha1.ArcGISToken{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(in), got); err != nil {
		t.Fatalf("get: %v", err)
	}
	// Defaults come from the CRD schema, so they prove it was installed as generated.
	if got.Spec.Client != arcgisv1alpha1.ClientBindingReferer {
		t.Errorf("spec.client = %q, want the default %q", got.Spec.Client, arcgisv1alpha1.ClientBindingReferer)
	}
	if got.Spec.ExpirationMinutes != 60 {
		t.Errorf("spec.expirationMinutes = %d, want the default 60", got.Spec.ExpirationMinutes)
	}

	// The status subresource: a status write changes status and leaves the
	// spec alone; a spec write leaves status alone.
	orig := got.DeepCopy()
	expires := metav1.NewTime(time.Now().Add(time.Hour).UTC().Truncate(time.Second))
	got.Status.ExpiresAt = &expires
	got.Status.ObservedGeneration = got.Generation
	meta.SetStatusCondition(&got.Status.Conditions, metav1.Condition{
		Type: arcgisv1alpha1.ConditionReady, Status: metav1.ConditionTrue,
		Reason: arcgisv1alpha1.ReasonTokenIssued, Message: "Token stored", ObservedGeneration: got.Generation,
	})
	got.Spec.ExpirationMinutes = 5 // must be ignored by the status endpoint
	if err := k8sClient.Status().Patch(ctx, got, client.MergeFrom(orig)); err != nil {
		t.Fatalf("status patch: %v", err)
	}
	after := &arcgisv1alpha1.ArcGISToken{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(in), after); err != nil {
		t.Fatalf("get after status patch: %v", err)
	}
	if after.Spec.ExpirationMinutes != 60 {
		t.Errorf("the status endpoint changed spec.expirationMinutes to %d", after.Spec.ExpirationMinutes)
	}
	if after.Status.ExpiresAt == nil || !after.Status.ExpiresAt.Equal(&expires) {
		t.Errorf("status.expiresAt = %v, want %v", after.Status.ExpiresAt, expires)
	}
	if !meta.IsStatusConditionTrue(after.Status.Conditions, arcgisv1alpha1.ConditionReady) {
		t.Errorf("Ready condition not stored: %+v", after.Status.Conditions)
	}
	if after.Generation != got.Generation {
		t.Errorf("a status write bumped metadata.generation from %d to %d", got.Generation, after.Generation)
	}
}

func TestCRDServerSideDryRunApply(t *testing.T) {
	dir := filepath.Join(testenv.RepoRoot(), "config", "crd", "bases")
	stdout, stderr, err := env.Kubectl(nil, "apply", "--dry-run=server", "-f", dir)
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server -f %s: %v\n%s%s", dir, err, stdout, stderr)
	}
	if !strings.Contains(stdout, "arcgistokens.arcgis.tokenoperator.dev") {
		t.Errorf("kubectl did not report the CRD: %q", stdout)
	}
}
