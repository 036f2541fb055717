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

package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

const namespace = "gis-apps"

func newClient(env *testenv.Env) (client.Client, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := arcgisv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return client.New(env.Config, client.Options{Scheme: scheme})
}

// createObjects creates what a GIS team would: a namespace, the credentials
// Secrets, the CA bundle of their (here: simulated) ArcGIS, and ArcGISTokens.
//
// The API key's keys live lifetimeMinutes+1 minutes (API keys are long-lived;
// here they rotate between the item's two slots every few minutes), and the
// previous slot is invalidated 30 seconds after the rotation.
func createObjects(ctx context.Context, c client.Client, sim *arcgissim.Simulator, lifetimeMinutes int) error {
	referer := "https://maps.example.com"
	ca := &arcgisv1alpha1.CABundleReference{Name: "arcgis-ca"}
	objects := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}},
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "arcgis-ca", Namespace: namespace},
			Data:       map[string]string{"ca.crt": string(sim.CAPEM())},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "portal-credentials", Namespace: namespace},
			StringData: map[string]string{"username": demoUser, "password": demoPassword},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "wrong-credentials", Namespace: namespace},
			StringData: map[string]string{"username": demoUser, "password": "not-the-password"},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "oauth-app-credentials", Namespace: namespace},
			StringData: map[string]string{"client_id": demoAppID, "client_secret": demoAppKey},
		},
		&arcgisv1alpha1.ArcGISToken{
			ObjectMeta: metav1.ObjectMeta{Name: "portal-token", Namespace: namespace},
			Spec: arcgisv1alpha1.ArcGISTokenSpec{
				Type: arcgisv1alpha1.ServiceTypePortal, URL: sim.PortalURL(),
				CredentialsRef: arcgisv1alpha1.CredentialsReference{Name: "portal-credentials"},
				Referer:        referer, ExpirationMinutes: 60, CABundleRef: ca,
			},
		},
		&arcgisv1alpha1.ArcGISToken{
			ObjectMeta: metav1.ObjectMeta{Name: "federated-server-token", Namespace: namespace},
			Spec: arcgisv1alpha1.ArcGISTokenSpec{
				Type: arcgisv1alpha1.ServiceTypeFederated, URL: sim.PortalURL(), ServerURL: sim.ServerURL(),
				CredentialsRef: arcgisv1alpha1.CredentialsReference{Name: "portal-credentials"},
				Referer:        referer, ExpirationMinutes: 60, CABundleRef: ca,
			},
		},
		&arcgisv1alpha1.ArcGISToken{
			ObjectMeta: metav1.ObjectMeta{Name: "oauth-app-token", Namespace: namespace},
			Spec: arcgisv1alpha1.ArcGISTokenSpec{
				Type: arcgisv1alpha1.ServiceTypeOAuth, URL: sim.PortalURL(),
				CredentialsRef:    arcgisv1alpha1.CredentialsReference{Name: "oauth-app-credentials"},
				ExpirationMinutes: 60, CABundleRef: ca,
			},
		},
		&arcgisv1alpha1.ArcGISToken{
			ObjectMeta: metav1.ObjectMeta{Name: "api-key", Namespace: namespace},
			Spec: arcgisv1alpha1.ArcGISTokenSpec{
				Type: arcgisv1alpha1.ServiceTypeAPIKey, URL: sim.PortalURL(),
				CredentialsRef: arcgisv1alpha1.CredentialsReference{Name: "portal-credentials"},
				CABundleRef:    ca,
				APIKey: &arcgisv1alpha1.APIKeySpec{
					ItemID:      demoKeyItem,
					Lifetime:    &metav1.Duration{Duration: time.Duration(lifetimeMinutes+1) * time.Minute},
					RetireAfter: &metav1.Duration{Duration: 30 * time.Second},
				},
			},
		},
		&arcgisv1alpha1.ArcGISToken{
			ObjectMeta: metav1.ObjectMeta{Name: "wrong-password-token", Namespace: namespace},
			Spec: arcgisv1alpha1.ArcGISTokenSpec{
				Type: arcgisv1alpha1.ServiceTypePortal, URL: sim.PortalURL(),
				CredentialsRef: arcgisv1alpha1.CredentialsReference{Name: "wrong-credentials"},
				Referer:        referer, ExpirationMinutes: 60, CABundleRef: ca,
			},
		},
	}
	for _, obj := range objects {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}
