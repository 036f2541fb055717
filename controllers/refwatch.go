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
	"maps"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// refKinds are the kinds an ArcGISToken references: credentials in Secrets,
// CA bundles in ConfigMaps or Secrets.
var refKinds = []string{"Secret", "ConfigMap"}

// referenceWatches tells when a referenced Secret or ConfigMap changes. It
// keeps one metadata-only informer per namespace that holds ArcGISTokens,
// started the first time an ArcGISToken of that namespace is reconciled, with
// objects cut down to name, UID and resourceVersion. Memory therefore grows
// with the Secrets of those namespaces only, not with every Secret in the
// cluster, and no Secret's data is ever cached.
type referenceWatches struct {
	// newCache makes the cache of one namespace.
	newCache func(namespace string) (cache.Cache, error)
	// watch starts a source feeding the controller's queue.
	watch func(src source.TypedSource[reconcile.Request]) error
	// handler maps events of a kind to the ArcGISTokens that reference them.
	handler func(kind string) handler.TypedEventHandler[*metav1.PartialObjectMetadata, reconcile.Request]

	mu     sync.Mutex
	ctx    context.Context
	caches map[string]namespaceCache
}

// namespaceCache is the informer cache of one namespace, and how to stop it.
type namespaceCache struct {
	cache.Cache
	stop context.CancelFunc
}

// Start keeps the context the namespace informers run with. The watches run
// with the controller, on the leader.
func (w *referenceWatches) Start(ctx context.Context) error {
	w.mu.Lock()
	w.ctx = ctx
	w.mu.Unlock()
	<-ctx.Done()
	return nil
}

// NeedLeaderElection makes the watches run with the controller.
func (w *referenceWatches) NeedLeaderElection() bool { return true }

// reader returns the metadata reader of a namespace, starting its informers
// on first use. It returns nil (read directly) until the watches started, or
// when the namespace's cache could not be made.
func (w *referenceWatches) reader(namespace string) client.Reader {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.caches[namespace]; ok {
		return c
	}
	if w.ctx == nil || w.ctx.Err() != nil {
		return nil
	}
	c, err := w.newCache(namespace)
	if err != nil {
		return nil
	}
	ctx, stop := context.WithCancel(w.ctx)
	go func() { _ = c.Start(ctx) }()
	for _, kind := range refKinds {
		if err := w.watch(w.source(c, kind)); err != nil {
			stop()
			return nil
		}
	}
	if w.caches == nil {
		w.caches = map[string]namespaceCache{}
	}
	w.caches[namespace] = namespaceCache{Cache: c, stop: stop}
	return c
}

// drop stops the informers of a namespace that holds no ArcGISToken any
// more (the last one was deleted, or the namespace is going away): its
// Secrets' metadata is no longer kept. A later ArcGISToken starts them again.
func (w *referenceWatches) drop(namespace string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.caches[namespace]; ok {
		c.stop()
		delete(w.caches, namespace)
	}
}

// Namespaces lists the namespaces whose informers run, sorted.
func (w *referenceWatches) Namespaces() []string {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Sorted(maps.Keys(w.caches))
}

func (w *referenceWatches) source(c cache.Cache, kind string) source.TypedSource[reconcile.Request] {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
	return source.Kind[*metav1.PartialObjectMetadata](c, m, w.handler(kind))
}
