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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
