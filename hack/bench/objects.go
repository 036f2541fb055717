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
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/policies"
	"github.com/tokenoperator/arcgis-token-operator/internal/tokenspec"
)

const (
	benchNS = "bench"
	floorNS = "floor"
	warmNS  = "warm-up"
	caName  = "arcgis-ca"
	referer = "https://apps.example.com"
)

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := arcgisv1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// newClient returns a client without a client-side rate limit: the
// benchmark's own requests and the floor are paced by the API server only.
func newClient(cfg *rest.Config) (client.Client, error) {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = -1, 0
	c.UserAgent = "arcgis-token-operator-bench"
	return client.New(c, client.Options{Scheme: scheme})
}

// accountName is the i-th service account of the simulated portal, and the
// credentials Secret that holds it.
func accountName(i int) string { return fmt.Sprintf("svc-bench-%02d", i) }

func accountPassword(i int) string { return fmt.Sprintf("sim-only-password-%02d", i) }

// setupNamespace creates a namespace with the credentials of every account
// and the portal's CA.
func setupNamespace(ctx context.Context, c client.Client, ns string, accounts int, ca []byte) error {
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: caName, Namespace: ns}, Data: map[string]string{"ca.crt": string(ca)}},
	}
	for i := range accounts {
		objs = append(objs, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: accountName(i), Namespace: ns},
			StringData: map[string]string{"username": accountName(i), "password": accountPassword(i)},
		})
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

func tokenName(i int) string { return fmt.Sprintf("token-%05d", i) }

// tokenSpec describes the ArcGISTokens of a run.
type tokenSpec struct {
	portalURL          string
	accounts           int
	lifetime           int           // minutes
	validationInterval time.Duration // the default leaves the field unset
	// lastApplied adds the annotation kubectl apply (and Argo CD) add: the
	// applied object as JSON.
	lastApplied bool
}

// tokenObject is the i-th ArcGISToken: a portal token, referer-bound, on one
// of the accounts.
func (s tokenSpec) tokenObject(i int, ns string) *arcgisv1alpha1.ArcGISToken {
	t := &arcgisv1alpha1.ArcGISToken{
		ObjectMeta: metav1.ObjectMeta{Name: tokenName(i), Namespace: ns},
		Spec: arcgisv1alpha1.ArcGISTokenSpec{
			Type:              arcgisv1alpha1.ServiceTypePortal,
			URL:               s.portalURL,
			CredentialsRef:    arcgisv1alpha1.CredentialsReference{Name: accountName(i % s.accounts)},
			Client:            arcgisv1alpha1.ClientBindingReferer,
			Referer:           referer,
			ExpirationMinutes: int32(s.lifetime),
			CABundleRef:       &arcgisv1alpha1.CABundleReference{Kind: arcgisv1alpha1.CABundleKindConfigMap, Name: caName, Key: "ca.crt"},
		},
	}
	if s.validationInterval != policies.DefaultValidationInterval {
		t.Spec.ValidationInterval = &metav1.Duration{Duration: s.validationInterval}
	}
	if s.lastApplied {
		applied, _ := json.Marshal(map[string]any{
			"apiVersion": arcgisv1alpha1.GroupVersion.String(), "kind": "ArcGISToken",
			"metadata": map[string]string{"name": t.Name, "namespace": t.Namespace},
			"spec":     t.Spec,
		})
		t.Annotations = map[string]string{corev1.LastAppliedConfigAnnotation: string(applied) + "\n"}
	}
	return t
}

// forEach runs f(0..n-1) with at most limit at once and returns the first
// error.
func forEach(ctx context.Context, n, limit int, f func(ctx context.Context, i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error { return f(ctx, i) })
	}
	return g.Wait()
}

// pipeline runs produce(0..n-1) with producers at once and, as each returns,
// consume(i) on one of consumers workers: the benchmark's own creates or
// patches, and what a controller does about each.
func pipeline(ctx context.Context, n, producers, consumers int, produce, consume func(ctx context.Context, i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	ready := make(chan int, n)
	g.Go(func() error {
		defer close(ready)
		return forEach(ctx, n, producers, func(ctx context.Context, i int) error {
			if err := produce(ctx, i); err != nil {
				return err
			}
			ready <- i
			return nil
		})
	})
	for range consumers {
		g.Go(func() error {
			for i := range ready {
				if err := consume(ctx, i); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// fakeToken looks like a token the simulator issues: 48 random bytes in
// URL-safe base64, then "..".
func fakeToken() string {
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b) + ".."
}

// floorSecret is the Secret the operator writes for tok: same labels,
// annotations, owner reference and keys.
func floorSecret(tok *arcgisv1alpha1.ArcGISToken, issuedAt, expires time.Time) (*corev1.Secret, error) {
	exp := expires.UTC().Format(time.RFC3339)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: tok.Name, Namespace: tok.Namespace,
			Labels: map[string]string{arcgisv1alpha1.ManagedByLabel: arcgisv1alpha1.ManagedByValue, arcgisv1alpha1.TokenLabel: tok.Name},
			Annotations: map[string]string{
				arcgisv1alpha1.ExpiresAnnotation:   exp,
				arcgisv1alpha1.IssuedAtAnnotation:  issuedAt.UTC().Format(time.RFC3339),
				arcgisv1alpha1.IssuedForAnnotation: tokenspec.SpecFingerprint(&tok.Spec) + "/" + tokenspec.SpecFingerprint(&tok.Spec),
			},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			arcgisv1alpha1.SecretKeyToken:   []byte(fakeToken()),
			arcgisv1alpha1.SecretKeyExpires: []byte(exp),
			arcgisv1alpha1.SecretKeyURL:     []byte(tok.Spec.URL),
			arcgisv1alpha1.SecretKeyReferer: []byte(referer),
		},
	}
	if err := controllerutil.SetControllerReference(tok, s, scheme); err != nil {
		return nil, err
	}
	return s, nil
}

// floorStatus sets the status the operator writes after issuing a token.
func floorStatus(tok *arcgisv1alpha1.ArcGISToken, issuedAt, expires time.Time) {
	st := &tok.Status
	lifetime := expires.Sub(issuedAt)
	at := func(t time.Time) *metav1.Time { m := metav1.NewTime(t.Truncate(time.Second)); return &m }
	renewal := expires.Add(-lifetime / 3)
	st.ObservedGeneration = tok.Generation
	st.SecretName = tok.Name
	st.IssuedAt, st.ExpiresAt, st.RenewalTime = at(issuedAt), at(expires), at(renewal)
	st.GrantedMinutes = int32(lifetime / time.Minute)
	st.Identity = tok.Spec.CredentialsRef.Name
	exp := expires.UTC().Format(time.RFC3339)
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: arcgisv1alpha1.ConditionIssuing, Status: metav1.ConditionFalse, Reason: arcgisv1alpha1.ReasonUpToDate,
		Message: "The next renewal is at " + renewal.UTC().Format(time.RFC3339), ObservedGeneration: tok.Generation,
		LastTransitionTime: *at(issuedAt),
	})
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: arcgisv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: arcgisv1alpha1.ReasonTokenIssued,
		Message: fmt.Sprintf("Secret %q holds a token valid until %s", tok.Name, exp), ObservedGeneration: tok.Generation,
		LastTransitionTime: *at(issuedAt),
	})
}

// createUnrelated creates n Secrets the operator has nothing to do with, of
// about 1 KiB each, as an application's configuration would be.
func createUnrelated(ctx context.Context, admin client.Client, ns string, n, workers int) error {
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	payload := make([]byte, 1024)
	_, _ = rand.Read(payload)
	return forEach(ctx, n, workers, func(ctx context.Context, i int) error {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-config-%05d", i), Namespace: ns,
				Labels: map[string]string{"app.kubernetes.io/name": fmt.Sprintf("app-%03d", i%500)}},
			Data: map[string][]byte{"config.bin": payload},
		}
		return admin.Create(ctx, s)
	})
}
