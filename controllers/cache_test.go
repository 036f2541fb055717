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
	"strings"
	"testing"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
)

func TestStripTokenForCache(t *testing.T) {
	tok := &arcgisv1alpha1.ArcGISToken{ObjectMeta: metav1.ObjectMeta{
		Name: "portal",
		Annotations: map[string]string{
			corev1.LastAppliedConfigAnnotation: `{"apiVersion":"arcgis.tokenoperator.dev/v1alpha1","kind":"ArcGISToken","spec":{}}`,
			arcgisv1alpha1.RenewAtAnnotation:   "2026-12-01T00:00:00Z",
		},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
	}}
	obj, err := stripTokenForCache(tok)
	if err != nil || obj != tok {
		t.Fatalf("stripTokenForCache = %v, %v", obj, err)
	}
	if tok.ManagedFields != nil {
		t.Error("managedFields kept")
	}
	if _, ok := tok.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
		t.Error("last-applied-configuration kept")
	}
	// The annotations the operator reads stay.
	if tok.Annotations[arcgisv1alpha1.RenewAtAnnotation] == "" {
		t.Error("the renew-at annotation was dropped")
	}
	// Other kinds pass through.
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{corev1.LastAppliedConfigAnnotation: "{}"}}}
	if _, err := stripTokenForCache(s); err != nil || len(s.Annotations) != 1 {
		t.Errorf("a Secret was changed: %v, %v", s.Annotations, err)
	}
}

// The cache transforms change how strings are stored, never what an object
// says: a transformed object equals the original without managedFields and
// the last-applied annotation.
func TestCacheTransformsKeepValues(t *testing.T) {
	yes := true
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Name: name, Namespace: "gis", UID: "u-" + types.UID(name), ResourceVersion: "7",
			Labels:          map[string]string{arcgisv1alpha1.ManagedByLabel: arcgisv1alpha1.ManagedByValue, "team": "maps"},
			Annotations:     map[string]string{arcgisv1alpha1.IssuedForAnnotation: "a/b", corev1.LastAppliedConfigAnnotation: "{}"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "arcgis.tokenoperator.dev/v1alpha1", Kind: "ArcGISToken", Name: name, UID: "o", Controller: &yes}},
			Finalizers:      []string{"example.com/keep"},
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		}
	}
	tok := &arcgisv1alpha1.ArcGISToken{ObjectMeta: meta("portal"),
		Spec: arcgisv1alpha1.ArcGISTokenSpec{Type: arcgisv1alpha1.ServiceTypePortal, URL: "https://gis.example.com/portal",
			CredentialsRef: arcgisv1alpha1.CredentialsReference{Name: "account", UsernameKey: "user"},
			Client:         arcgisv1alpha1.ClientBindingReferer, Referer: "https://apps.example.com"},
		Status: arcgisv1alpha1.ArcGISTokenStatus{Identity: "gisuser", LastFailureReason: "InvalidCredentials",
			Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "TokenIssued", Message: "m"}}},
	}
	want := tok.DeepCopy()
	want.ManagedFields = nil
	delete(want.Annotations, corev1.LastAppliedConfigAnnotation)
	if _, err := stripTokenForCache(tok); err != nil || !equality.Semantic.DeepEqual(tok, want) {
		t.Errorf("stripTokenForCache changed the ArcGISToken:\n got %+v\nwant %+v", tok, want)
	}

	s := &corev1.Secret{ObjectMeta: meta("portal-token"), Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{arcgisv1alpha1.SecretKeyToken: []byte("t")}}
	wantSecret := s.DeepCopy()
	wantSecret.ManagedFields = nil
	if _, err := compactSecretForCache(s); err != nil || !equality.Semantic.DeepEqual(s, wantSecret) {
		t.Errorf("compactSecretForCache changed the Secret:\n got %+v\nwant %+v", s, wantSecret)
	}

	// Strings objects repeat are shared; an emptied annotation map is dropped.
	other := &arcgisv1alpha1.ArcGISToken{ObjectMeta: metav1.ObjectMeta{Namespace: strings.Clone("gis"),
		Annotations: map[string]string{corev1.LastAppliedConfigAnnotation: "{}"}},
		Spec: arcgisv1alpha1.ArcGISTokenSpec{URL: strings.Clone(tok.Spec.URL)}}
	if _, err := stripTokenForCache(other); err != nil {
		t.Fatal(err)
	}
	if unsafe.StringData(other.Spec.URL) != unsafe.StringData(tok.Spec.URL) || unsafe.StringData(other.Namespace) != unsafe.StringData(s.Namespace) {
		t.Error("a repeated string was not interned")
	}
	if other.Annotations != nil {
		t.Errorf("annotations = %v, want nil", other.Annotations)
	}
}
