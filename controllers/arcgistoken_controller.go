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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
)

// ArcGISTokenReconciler keeps the token of each ArcGISToken in its Secret.
type ArcGISTokenReconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=arcgis.tokenoperator.dev,resources=arcgistokens,verbs=get;list;watch
// +kubebuilder:rbac:groups=arcgis.tokenoperator.dev,resources=arcgistokens/status,verbs=get;patch;update

// Reconcile brings one ArcGISToken's Secret and status up to date.
func (r *ArcGISTokenReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	tok := &arcgisv1alpha1.ArcGISToken{}
	if err := r.Get(ctx, req.NamespacedName, tok); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler with the manager.
func (r *ArcGISTokenReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&arcgisv1alpha1.ArcGISToken{}).
		Named("arcgistoken").
		Complete(r)
}
