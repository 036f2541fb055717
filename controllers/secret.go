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
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
	"github.com/tokenoperator/arcgis-token-operator/internal/policies"
	"github.com/tokenoperator/arcgis-token-operator/internal/tokenspec"
)

// The Secret is the record of the token: its data holds what consumers need,
// its annotations what the operator needs to decide (issue and expiry times,
// what the token was issued for). The Secret is written before the status, so
// a failed status write or a crash in between never makes a stored token look
// different from what it is.

// errSecretConflict: a Secret of that name exists and is not this ArcGISToken's.
var errSecretConflict = errors.New("secret exists and is not owned by this ArcGISToken")

// parseStored reads what the output Secret says about its token.
func parseStored(s *corev1.Secret) policies.Stored {
	if s == nil {
		return policies.Stored{}
	}
	st := policies.Stored{
		Exists:       true,
		HasToken:     len(s.Data[arcgisv1alpha1.SecretKeyToken]) > 0,
		RenewRequest: s.Annotations[arcgisv1alpha1.RenewRequestAnnotation],
	}
	st.Expires, _ = time.Parse(time.RFC3339, s.Annotations[arcgisv1alpha1.ExpiresAnnotation])
	st.IssuedAt, _ = time.Parse(time.RFC3339, s.Annotations[arcgisv1alpha1.IssuedAtAnnotation])
	if st.IssuedAt.IsZero() || st.IssuedAt.After(st.Expires) {
		st.IssuedAt = st.Expires
	}
	// Secrets written before the lifetime was recorded: the lifetime on our
	// clock, no known skew.
	st.Lifetime = st.Expires.Sub(st.IssuedAt)
	if d, err := time.ParseDuration(s.Annotations[arcgisv1alpha1.LifetimeAnnotation]); err == nil && d > 0 {
		st.Lifetime = d
	}
	st.ClockSkew, _ = time.ParseDuration(s.Annotations[arcgisv1alpha1.ClockSkewAnnotation])
	if spec, inputs, ok := strings.Cut(s.Annotations[arcgisv1alpha1.IssuedForAnnotation], "/"); ok {
		st.SpecFingerprint, st.InputsFingerprint = spec, inputs
	}
	return st
}

// storedToken is a token ready to be written, with what it was issued for.
type storedToken struct {
	token        *arcgis.Token
	issuedAt     time.Time
	issuedFor    string
	renewRequest string
}

// tokenLabelValue is the ArcGISToken's name as a label value: names may be
// longer than the 63 characters a label value allows.
func tokenLabelValue(name string) string {
	if len(validation.IsValidLabelValue(name)) == 0 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return strings.TrimRight(name[:min(len(name), 54)], "-_.") + "-" + hex.EncodeToString(sum[:4])
}

// secretMetadata sets the labels and annotations the Secret must carry,
// besides the ones that record a token: the template's, then the operator's.
// Template keys of the operator's own domain are ignored (the CRD refuses
// them too), and keys the template no longer has are removed.
func secretMetadata(tok *arcgisv1alpha1.ArcGISToken, s *corev1.Secret) {
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	var labels, annotations map[string]string
	if t := tok.Spec.SecretTemplate; t != nil {
		labels, annotations = t.Labels, t.Annotations
	}
	prevLabels, prevAnnotations := parseTemplateKeys(s.Annotations[arcgisv1alpha1.TemplateKeysAnnotation])
	for _, k := range prevLabels {
		if _, keep := labels[k]; !keep && !reservedKey(k) {
			delete(s.Labels, k)
		}
	}
	for _, k := range prevAnnotations {
		if _, keep := annotations[k]; !keep && !reservedKey(k) {
			delete(s.Annotations, k)
		}
	}
	var labelKeys, annotationKeys []string
	for k, v := range labels {
		if !reservedKey(k) {
			s.Labels[k] = v
			labelKeys = append(labelKeys, k)
		}
	}
	for k, v := range annotations {
		if !reservedKey(k) {
			s.Annotations[k] = v
			annotationKeys = append(annotationKeys, k)
		}
	}
	if len(labelKeys)+len(annotationKeys) > 0 {
		s.Annotations[arcgisv1alpha1.TemplateKeysAnnotation] = formatTemplateKeys(labelKeys, annotationKeys)
	} else {
		delete(s.Annotations, arcgisv1alpha1.TemplateKeysAnnotation)
	}
	s.Labels[arcgisv1alpha1.ManagedByLabel] = arcgisv1alpha1.ManagedByValue
	s.Labels[arcgisv1alpha1.TokenLabel] = tokenLabelValue(tok.Name)
}

// reservedKey says whether a label or annotation key is the operator's.
func reservedKey(k string) bool {
	return strings.HasPrefix(k, "arcgis.tokenoperator.dev/") || k == arcgisv1alpha1.ManagedByLabel
}

// formatTemplateKeys writes "labels=a,b;annotations=c" (keys hold neither
// ',' nor ';' nor '=').
func formatTemplateKeys(labels, annotations []string) string {
	sort.Strings(labels)
	sort.Strings(annotations)
	return "labels=" + strings.Join(labels, ",") + ";annotations=" + strings.Join(annotations, ",")
}

func parseTemplateKeys(v string) (labels, annotations []string) {
	for _, part := range strings.Split(v, ";") {
		name, keys, _ := strings.Cut(part, "=")
		var list []string
		for _, k := range strings.Split(keys, ",") {
			if k != "" {
				list = append(list, k)
			}
		}
		switch name {
		case "labels":
			labels = list
		case "annotations":
			annotations = list
		}
	}
	return labels, annotations
}

// setToken puts a token and its record into the Secret.
func setToken(tok *arcgisv1alpha1.ArcGISToken, s *corev1.Secret, t storedToken) {
	expires := t.token.Expires.UTC().Format(time.RFC3339)
	s.Type = corev1.SecretTypeOpaque
	s.Data = map[string][]byte{
		arcgisv1alpha1.SecretKeyToken:   []byte(t.token.Token),
		arcgisv1alpha1.SecretKeyExpires: []byte(expires),
		arcgisv1alpha1.SecretKeyURL:     []byte(urlFor(tok, t.token)),
	}
	if b := tokenspec.Binding(&tok.Spec); b.Client == arcgis.ClientReferer {
		s.Data[arcgisv1alpha1.SecretKeyReferer] = []byte(b.Referer)
	}
	s.Annotations[arcgisv1alpha1.ExpiresAnnotation] = expires
	s.Annotations[arcgisv1alpha1.IssuedAtAnnotation] = t.issuedAt.UTC().Format(time.RFC3339)
	s.Annotations[arcgisv1alpha1.IssuedForAnnotation] = t.issuedFor
	s.Annotations[arcgisv1alpha1.LifetimeAnnotation] = t.token.Lifetime.Round(time.Second).String()
	s.Annotations[arcgisv1alpha1.ClockSkewAnnotation] = t.token.ClockSkew.Round(time.Second).String()
	if t.renewRequest != "" {
		s.Annotations[arcgisv1alpha1.RenewRequestAnnotation] = t.renewRequest
	} else {
		delete(s.Annotations, arcgisv1alpha1.RenewRequestAnnotation)
	}
}

// specFingerprint is the spec fingerprint the token was issued for.
func (t *storedToken) specFingerprint() string {
	spec, _, _ := strings.Cut(t.issuedFor, "/")
	return spec
}

func urlFor(tok *arcgisv1alpha1.ArcGISToken, t *arcgis.Token) string {
	if t.ServiceURL != "" {
		return t.ServiceURL
	}
	return tokenspec.ServiceURL(&tok.Spec)
}

// writeToken stores a new token: it creates the Secret, or patches the one the
// ArcGISToken owns. It returns the Secret as written.
func (r *ArcGISTokenReconciler) writeToken(ctx context.Context, tok *arcgisv1alpha1.ArcGISToken, current *corev1.Secret, t storedToken) (*corev1.Secret, error) {
	return r.writeSecret(ctx, tok, current, func(s *corev1.Secret) { setToken(tok, s, t) })
}

// writeSecret creates the Secret, or patches the one the ArcGISToken owns,
// with the template's metadata and the data fill puts in. It returns the
// Secret as written.
func (r *ArcGISTokenReconciler) writeSecret(ctx context.Context, tok *arcgisv1alpha1.ArcGISToken, current *corev1.Secret, fill func(*corev1.Secret)) (*corev1.Secret, error) {
	if current == nil {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: tokenspec.SecretName(tok), Namespace: tok.Namespace}}
		secretMetadata(tok, s)
		fill(s)
		if err := controllerutil.SetControllerReference(tok, s, r.Scheme()); err != nil {
			return nil, err
		}
		err := r.Create(ctx, s)
		if err == nil {
			return s, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
		// The cache did not have it: someone else's Secret, or ours with the
		// label removed. Only ours may be written.
		existing := &corev1.Secret{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(s), existing); err != nil {
			return nil, err
		}
		if !metav1.IsControlledBy(existing, tok) {
			return nil, errSecretConflict
		}
		current = existing
	}
	s := current.DeepCopy()
	secretMetadata(tok, s)
	fill(s)
	// The patch carries the resourceVersion it was computed from: a Secret
	// changed, or deleted and re-created by someone else, since it was read is
	// refused with a conflict rather than written into.
	if err := r.Patch(ctx, s, client.MergeFromWithOptions(current, client.MergeFromWithOptimisticLock{})); err != nil {
		return nil, err
	}
	return s, nil
}

// syncMetadata brings the Secret's labels and annotations in line with the
// spec's template without touching the token. It writes only when something
// differs.
func (r *ArcGISTokenReconciler) syncMetadata(ctx context.Context, tok *arcgisv1alpha1.ArcGISToken, current *corev1.Secret) (*corev1.Secret, error) {
	s := current.DeepCopy()
	secretMetadata(tok, s)
	if !metadataStale(tok, current) {
		return current, nil
	}
	if err := r.Patch(ctx, s, client.MergeFromWithOptions(current, client.MergeFromWithOptimisticLock{})); err != nil {
		return nil, err
	}
	return s, nil
}

// deleteOldSecret deletes the Secret a token used to be written to, after
// spec.secretName changed, so that no live token is left behind in it. Only a
// Secret this ArcGISToken controls is deleted.
func (r *ArcGISTokenReconciler) deleteOldSecret(ctx context.Context, tok *arcgisv1alpha1.ArcGISToken, oldName string) error {
	if oldName == "" || oldName == tokenspec.SecretName(tok) {
		return nil
	}
	old := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: tok.Namespace, Name: oldName}, old); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(old, tok) {
		return nil
	}
	err := r.Delete(ctx, old, client.Preconditions{UID: &old.UID, ResourceVersion: &old.ResourceVersion})
	return client.IgnoreNotFound(err)
}

// metadataStale says whether the Secret's labels or annotations differ from
// what the spec's template makes them.
func metadataStale(tok *arcgisv1alpha1.ArcGISToken, current *corev1.Secret) bool {
	if current == nil {
		return false
	}
	s := current.DeepCopy()
	secretMetadata(tok, s)
	return !equality.Semantic.DeepEqual(s.Labels, current.Labels) || !equality.Semantic.DeepEqual(s.Annotations, current.Annotations)
}
