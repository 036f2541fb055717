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
	"unique"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
)

// The manager's cache holds every ArcGISToken and every Secret the operator
// owns: at 10,000 tokens that is most of its memory. The transforms below run
// once per object as it enters the cache, and keep in it only what the
// operator reads, with one copy of the strings that objects repeat (keys,
// namespaces, kinds, condition types and reasons, a portal's URL, a
// credentials Secret's name): a decoder
// allocates each string anew for every object.

// CacheOptions narrows the manager's cache to what the operator reads: only
// the Secrets it owns (by label), no managedFields on anything, and no copy of
// an ArcGISToken's spec in kubectl's last-applied-configuration annotation.
// Secrets it merely references are read directly and watched by metadata, per
// namespace of ArcGISTokens (see refReader and referenceWatches), so memory
// does not grow with the Secrets elsewhere in the cluster. namespaces limits
// every watch, when set.
func CacheOptions(namespaces []string) cache.Options {
	opts := cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&arcgisv1alpha1.ArcGISToken{}: {Transform: stripTokenForCache},
			&corev1.Secret{}: {
				Label:     labels.SelectorFromSet(labels.Set{arcgisv1alpha1.ManagedByLabel: arcgisv1alpha1.ManagedByValue}),
				Transform: compactSecretForCache,
			},
		},
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}

// stripTokenForCache drops from a cached ArcGISToken what the operator never
// reads: managedFields, and the last-applied-configuration annotation that
// kubectl apply (and Argo CD) add, a second copy of the spec as JSON. The
// operator writes ArcGISTokens only by status patches, never by an Update
// from the cache, so nothing is lost from the API server's copy. The strings
// it keeps are interned.
func stripTokenForCache(obj any) (any, error) {
	t, ok := obj.(*arcgisv1alpha1.ArcGISToken)
	if !ok {
		return obj, nil
	}
	t.ManagedFields = nil
	delete(t.Annotations, corev1.LastAppliedConfigAnnotation)
	internMeta(&t.ObjectMeta)
	s := &t.Spec
	s.Type = arcgisv1alpha1.ServiceType(intern(string(s.Type)))
	s.URL, s.ServerURL, s.Referer, s.IP = intern(s.URL), intern(s.ServerURL), intern(s.Referer), intern(s.IP)
	s.Client = arcgisv1alpha1.ClientBinding(intern(string(s.Client)))
	c := &s.CredentialsRef
	c.Name, c.UsernameKey, c.PasswordKey = intern(c.Name), intern(c.UsernameKey), intern(c.PasswordKey)
	c.ClientIDKey, c.ClientSecretKey = intern(c.ClientIDKey), intern(c.ClientSecretKey)
	st := &t.Status
	st.Identity, st.LastFailureReason = intern(st.Identity), intern(st.LastFailureReason)
	for i := range st.Conditions {
		cond := &st.Conditions[i]
		cond.Type, cond.Status = intern(cond.Type), metav1.ConditionStatus(intern(string(cond.Status)))
		cond.Reason = intern(cond.Reason) // messages name the token: interning them would cost more
	}
	return t, nil
}

// compactSecretForCache interns the strings of a Secret the operator owns:
// its label and annotation keys, the operator's labels, the owner's kind.
func compactSecretForCache(obj any) (any, error) {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return obj, nil
	}
	s.ManagedFields = nil
	internMeta(&s.ObjectMeta)
	s.Type = corev1.SecretType(intern(string(s.Type)))
	return s, nil
}

// internMeta interns the metadata strings that objects repeat, and drops an
// emptied annotation map.
func internMeta(m *metav1.ObjectMeta) {
	m.Namespace = intern(m.Namespace)
	m.Labels = internMap(m.Labels, true)
	m.Annotations = internMap(m.Annotations, false)
	for i := range m.OwnerReferences {
		o := &m.OwnerReferences[i]
		o.APIVersion, o.Kind = intern(o.APIVersion), intern(o.Kind)
	}
	for i := range m.Finalizers {
		m.Finalizers[i] = intern(m.Finalizers[i])
	}
}

// internMap rebuilds a map with interned keys (and values, for labels, which
// repeat: annotation values mostly do not). It returns nil for an empty map.
func internMap(in map[string]string, values bool) map[string]string {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		if values {
			v = intern(v)
		}
		out[intern(k)] = v
	}
	return out
}

// intern returns the one copy of s kept for the whole process (unique keeps
// it while any object refers to it).
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// stripToIdentity keeps what the reference watches need to notice a change.
func stripToIdentity(obj any) (any, error) {
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
		m.ObjectMeta = metav1.ObjectMeta{
			Name: m.Name, Namespace: intern(m.Namespace), UID: m.UID, ResourceVersion: m.ResourceVersion,
		}
	}
	return obj, nil
}
