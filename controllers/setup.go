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
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/accountguard"
	"github.com/tokenoperator/arcgis-token-operator/internal/tokenspec"
)

// refIndex indexes ArcGISTokens by the objects they reference, as
// "Secret/<name>" or "ConfigMap/<name>", so that a change to one of them
// reaches every ArcGISToken that uses it.
const refIndex = "arcgis.tokenoperator.dev/references"

// SetupWithManager registers the reconciler, its watches and its index.
func (r *ArcGISTokenReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Accounts == nil {
		r.Accounts = accountguard.New(accountguard.Options{Clock: r.Clock})
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Issuer == nil {
		return fmt.Errorf("ArcGISTokenReconciler needs an Issuer")
	}
	r.memory = newMemory()
	r.recoveries = make(chan event.GenericEvent)
	r.releases = workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[string]{Name: "service-recovery"})
	if err := mgr.Add(manager.RunnableFunc(r.releaseRecovered)); err != nil {
		return err
	}
	refs := &referenceWatches{
		newCache: func(namespace string) (cache.Cache, error) {
			return cache.New(mgr.GetConfig(), cache.Options{
				Scheme:            mgr.GetScheme(),
				Mapper:            mgr.GetRESTMapper(),
				HTTPClient:        mgr.GetHTTPClient(),
				DefaultTransform:  stripToIdentity,
				DefaultNamespaces: map[string]cache.Config{namespace: {}},
			})
		},
		handler: r.referenceHandler,
	}
	r.refs = newRefReader(r.APIReader, refs.reader)
	r.watches = refs

	if err := mgr.GetFieldIndexer().IndexField(ctx, &arcgisv1alpha1.ArcGISToken{}, refIndex, references); err != nil {
		return err
	}
	if r.Restarter != nil {
		if err := mgr.Add(r.Restarter); err != nil {
			return err
		}
	}

	b := ctrl.NewControllerManagedBy(mgr).
		Named("arcgistoken").
		// Status writes (the reconciler's own) change neither generation nor
		// annotations, so they do not come back as reconciles.
		For(&arcgisv1alpha1.ArcGISToken{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&corev1.Secret{}, builder.WithPredicates(predicate.NewPredicateFuncs(r.notOwnWrite))).
		// The ArcGISTokens a service's recovery releases (see serviceHealth).
		WatchesRawSource(source.Channel(r.recoveries, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: r.MaxConcurrentReconciles,
			RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](
				// API errors: retry soon, back off to 5 minutes.
				minRequeue, maxAPIBackoff),
		})
	ctl, err := b.Build(r)
	if err != nil {
		return err
	}
	// Referenced Secrets and ConfigMaps are watched per namespace, from the
	// first reconcile of an ArcGISToken there (see referenceWatches).
	refs.watch = ctl.Watch
	return mgr.Add(refs)
}

// maxAPIBackoff caps the workqueue backoff of reconciles that fail on API
// errors.
const maxAPIBackoff = 5 * time.Minute

// references is the index function for refIndex.
func references(obj client.Object) []string {
	t, ok := obj.(*arcgisv1alpha1.ArcGISToken)
	if !ok {
		return nil
	}
	refs := []string{"Secret/" + t.Spec.CredentialsRef.Name}
	if ref := t.Spec.CABundleRef; ref != nil {
		kind, _ := tokenspec.CABundleKindKey(ref)
		refs = append(refs, string(kind)+"/"+ref.Name)
	}
	return refs
}

// referenceHandler maps a change of a Secret or ConfigMap to the ArcGISTokens
// that reference it, and forgets the data kept of a deleted one.
func (r *ArcGISTokenReconciler) referenceHandler(kind string) handler.TypedEventHandler[*metav1.PartialObjectMetadata, reconcile.Request] {
	enqueue := func(ctx context.Context, obj *metav1.PartialObjectMetadata, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		list := &arcgisv1alpha1.ArcGISTokenList{}
		if err := r.List(ctx, list, client.InNamespace(obj.Namespace), client.MatchingFields{refIndex: kind + "/" + obj.Name}); err != nil {
			return
		}
		for i := range list.Items {
			q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: list.Items[i].Namespace, Name: list.Items[i].Name}})
		}
	}
	return handler.TypedFuncs[*metav1.PartialObjectMetadata, reconcile.Request]{
		CreateFunc: func(ctx context.Context, e event.TypedCreateEvent[*metav1.PartialObjectMetadata], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, e.Object, q)
		},
		UpdateFunc: func(ctx context.Context, e event.TypedUpdateEvent[*metav1.PartialObjectMetadata], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if e.ObjectOld.ResourceVersion != e.ObjectNew.ResourceVersion {
				enqueue(ctx, e.ObjectNew, q)
			}
		},
		DeleteFunc: func(ctx context.Context, e event.TypedDeleteEvent[*metav1.PartialObjectMetadata], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			r.refs.evict(kind, types.NamespacedName{Namespace: e.Object.Namespace, Name: e.Object.Name})
			enqueue(ctx, e.Object, q)
		},
	}
}

// notOwnWrite filters out the events of the reconciler's own Secret writes:
// it already knows what it wrote, and reconciling again from a cache that may
// still hold the ArcGISToken's previous status would only cost work.
func (r *ArcGISTokenReconciler) notOwnWrite(obj client.Object) bool {
	owner := metav1.GetControllerOf(obj)
	s, ok := obj.(*corev1.Secret)
	if owner == nil || !ok {
		return true
	}
	return !r.memory.isOwnWrite(owner.UID, s)
}
