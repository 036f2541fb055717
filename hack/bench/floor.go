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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
)

// floorResult is how long a plain client took to do the operator's writes.
type floorResult struct {
	issue, rotate time.Duration
	rejected      float64 // 429s the API server answered meanwhile
}

// runFloor measures the floor no implementation can beat, with no manager
// running: the benchmark creates n ArcGISTokens exactly as it does for the
// operator (createWorkers at once), and, as each create returns, a plain
// controller-runtime client without a client-side limit, on as many workers
// as the manager has, creates its Secret and patches its status. Then the
// benchmark changes spec.expirationMinutes of all n as in the forced wave,
// and the client patches each Secret and status again. Everything is deleted
// afterwards, so that the manager never sees it.
func runFloor(ctx context.Context, admin client.Client, cfg *rest.Config, rc rest.Interface, o *options, spec tokenSpec, n int) (floorResult, error) {
	var res floorResult
	c, err := newClient(cfg)
	if err != nil {
		return res, err
	}
	// A fresh API server is slow at its first writes of a kind (the CRD's
	// handlers, etcd); the operator's run finds it warm. A smaller round of
	// the same work, untimed, warms it up for the floor too.
	if _, err := floorRound(ctx, admin, c, o, spec, warmNS, min(n, 200)); err != nil {
		return res, err
	}
	before, err := apiServerCounts(ctx, rc)
	if err != nil {
		return res, err
	}
	if res, err = floorRound(ctx, admin, c, o, spec, floorNS, n); err != nil {
		return res, err
	}
	after, err := apiServerCounts(ctx, rc)
	if err != nil {
		return res, err
	}
	res.rejected = after.sub(before).rejected
	return res, nil
}

// floorRound is one round of the floor in namespace ns, deleted afterwards.
func floorRound(ctx context.Context, admin, c client.Client, o *options, spec tokenSpec, ns string, n int) (floorResult, error) {
	var res floorResult
	if err := setupNamespace(ctx, admin, ns, spec.accounts, nil); err != nil {
		return res, err
	}
	toks := make([]*arcgisv1alpha1.ArcGISToken, n)
	secrets := make([]*corev1.Secret, n)
	lifetime := time.Duration(spec.lifetime) * time.Minute
	start := time.Now()
	err := pipeline(ctx, n, o.createWorkers, o.workers,
		func(ctx context.Context, i int) error {
			t := spec.tokenObject(i, ns)
			if err := admin.Create(ctx, t); err != nil {
				return fmt.Errorf("floor: creating ArcGISToken %s: %w", t.Name, err)
			}
			toks[i] = t
			return nil
		},
		func(ctx context.Context, i int) error {
			tok := toks[i]
			issued := time.Now()
			s, err := floorSecret(tok, issued, issued.Add(lifetime))
			if err != nil {
				return err
			}
			if err := c.Create(ctx, s); err != nil {
				return fmt.Errorf("floor: creating Secret %s: %w", s.Name, err)
			}
			secrets[i] = s
			orig := tok.DeepCopy()
			floorStatus(tok, issued, issued.Add(lifetime))
			if err := c.Status().Patch(ctx, tok, client.MergeFrom(orig)); err != nil {
				return fmt.Errorf("floor: patching the status of %s: %w", tok.Name, err)
			}
			return nil
		})
	res.issue = time.Since(start)
	if err != nil {
		return res, err
	}

	forced := time.Duration(o.forcedLifetime) * time.Minute
	patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"expirationMinutes":%d}}`, o.forcedLifetime))
	start = time.Now()
	err = pipeline(ctx, n, o.createWorkers, o.workers,
		func(ctx context.Context, i int) error {
			return admin.Patch(ctx, toks[i], patch)
		},
		func(ctx context.Context, i int) error {
			tok, old := toks[i], secrets[i]
			issued := time.Now()
			s, err := floorSecret(tok, issued, issued.Add(forced))
			if err != nil {
				return err
			}
			upd := old.DeepCopy()
			upd.Data, upd.Annotations = s.Data, s.Annotations
			if err := c.Patch(ctx, upd, client.MergeFrom(old)); err != nil {
				return fmt.Errorf("floor: patching Secret %s: %w", s.Name, err)
			}
			orig := tok.DeepCopy()
			floorStatus(tok, issued, issued.Add(forced))
			if err := c.Status().Patch(ctx, tok, client.MergeFrom(orig)); err != nil {
				return fmt.Errorf("floor: patching the status of %s: %w", tok.Name, err)
			}
			return nil
		})
	res.rotate = time.Since(start)
	if err != nil {
		return res, err
	}
	// No controller-manager runs here, so neither the garbage collector nor
	// the namespace controller would clean up.
	for _, obj := range []client.Object{&corev1.Secret{}, &arcgisv1alpha1.ArcGISToken{}, &corev1.ConfigMap{}} {
		if err := admin.DeleteAllOf(ctx, obj, client.InNamespace(ns)); err != nil {
			return res, err
		}
	}
	return res, nil
}
