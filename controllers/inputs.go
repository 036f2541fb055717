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
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
	"github.com/tokenoperator/arcgis-token-operator/internal/policies"
	"github.com/tokenoperator/arcgis-token-operator/internal/tokenspec"
)

// inputs is everything one reconcile gathered before deciding.
type inputs struct {
	// secret is the output Secret when it exists and belongs to this
	// ArcGISToken; conflict is set when a Secret of that name belongs to
	// someone else.
	secret   *corev1.Secret
	conflict bool
	stored   policies.Stored
	// terminating is set when the namespace turned out to be being deleted.
	terminating bool

	// inputErr says why no request can be built (a *tokenspec.InputError);
	// the fields below are then unset.
	inputErr error
	request  arcgis.TokenRequest
	caBundle []byte
	// specFP and inputsFP fingerprint what a token issued now is issued for.
	specFP, inputsFP string
	// generation is the spec's generation, for failedFor.
	generation int64
	// accountKey and credentialsFP identify the account and (in memory only)
	// its credentials, for the account guard. accountKey is resolved (see
	// arcgis.Client.Account) only when a login is about to be made.
	accountKey, credentialsFP string
}

// issuedFor is the value of the Secret's issued-for annotation.
func (in *inputs) issuedFor() string { return in.specFP + "/" + in.inputsFP }

// failedFor is what a failure is recorded for: the inputs and the spec's
// generation, so that any edit of the spec (a fixed secretTemplate too)
// ends the backoff of the failures before it.
func (in *inputs) failedFor() string {
	return policies.FailedFor(in.specFP, in.inputsFP, in.generation)
}

// gather reads the output Secret, the credentials and the CA bundle. Problems
// with the user's inputs land in in.inputErr; the error return is for API
// failures, which the workqueue retries.
func (r *ArcGISTokenReconciler) gather(ctx context.Context, tok *arcgisv1alpha1.ArcGISToken) (*inputs, error) {
	in := &inputs{specFP: tokenspec.SpecFingerprint(&tok.Spec), generation: tok.Generation}
	var err error
	if in.secret, in.conflict, err = r.outputSecret(ctx, tok); err != nil {
		return nil, err
	}
	in.stored = parseStored(in.secret)

	if in.inputErr = checkRefNames(tok); in.inputErr != nil {
		return in, nil
	}
	creds, err := r.refs.get(ctx, "Secret", types.NamespacedName{Namespace: tok.Namespace, Name: tok.Spec.CredentialsRef.Name})
	if err != nil {
		if in.inputErr = refError(err, "Secret", tok.Spec.CredentialsRef.Name, arcgisv1alpha1.ReasonCredentialsNotFound); in.inputErr != nil {
			return in, nil
		}
		return nil, err
	}
	credentials, err := tokenspec.Credentials(&tok.Spec, creds.data)
	if err != nil {
		in.inputErr = err
		return in, nil
	}
	if ref := tok.Spec.CABundleRef; ref != nil {
		kind, key := tokenspec.CABundleKindKey(ref)
		ca, err := r.refs.get(ctx, string(kind), types.NamespacedName{Namespace: tok.Namespace, Name: ref.Name})
		if err != nil {
			if in.inputErr = refError(err, string(kind), ref.Name, arcgisv1alpha1.ReasonInvalidSpec); in.inputErr != nil {
				return in, nil
			}
			return nil, err
		}
		value, found := ca.data[key]
		if in.caBundle, in.inputErr = tokenspec.CABundle(ref, value, found); in.inputErr != nil {
			return in, nil
		}
	}
	if in.request, in.inputErr = tokenspec.TokenRequest(&tok.Spec, credentials, in.caBundle); in.inputErr != nil {
		return in, nil
	}
	in.inputsFP = tokenspec.InputsFingerprint(string(creds.uid), creds.resourceVersion, in.caBundle)
	in.credentialsFP = r.refs.fingerprint(credentials)
	return in, nil
}

// checkRefNames refuses referenced names that cannot name an object: the
// client would refuse the read with an error that is neither NotFound nor
// Forbidden, and the object would retry for ever without a condition. The CRD
// refuses them too; this covers objects stored before it did.
func checkRefNames(tok *arcgisv1alpha1.ArcGISToken) error {
	check := func(field, name, reason string) error {
		if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
			return &tokenspec.InputError{Reason: reason,
				Message: fmt.Sprintf("%s %q is not a valid object name: %s", field, name, strings.Join(msgs, "; "))}
		}
		return nil
	}
	if err := check("spec.credentialsRef.name", tok.Spec.CredentialsRef.Name, arcgisv1alpha1.ReasonInvalidSpec); err != nil {
		return err
	}
	if ref := tok.Spec.CABundleRef; ref != nil {
		return check("spec.caBundleRef.name", ref.Name, arcgisv1alpha1.ReasonInvalidSpec)
	}
	return nil
}

// inputCause is an input error as a condition reason and message.
func inputCause(err error) *policies.Cause {
	var ie *tokenspec.InputError
	if errors.As(err, &ie) {
		return &policies.Cause{Reason: ie.Reason, Message: ie.Message}
	}
	return &policies.Cause{Reason: arcgisv1alpha1.ReasonInvalidSpec, Message: err.Error()}
}

// refError turns a failed read of a referenced object into an input error
// (missing, or not readable by the operator), or nil when the API call itself
// failed and should be retried.
func refError(err error, kind, name, reason string) error {
	switch {
	case apierrors.IsNotFound(err):
		return &tokenspec.InputError{Reason: reason, Message: fmt.Sprintf("%s %q not found", kind, name)}
	case apierrors.IsForbidden(err):
		return &tokenspec.InputError{Reason: reason,
			Message: fmt.Sprintf("The operator may not read %s %q (forbidden); check its RBAC and --watch-namespaces", kind, name)}
	}
	return nil
}

// outputSecret finds the Secret the token is written to. Secrets the operator
// owns are in its (label-selected) cache; one that is not may still exist and
// belong to someone else, which is checked with a direct read only when the
// cache misses for an object that should have a Secret by now.
func (r *ArcGISTokenReconciler) outputSecret(ctx context.Context, tok *arcgisv1alpha1.ArcGISToken) (*corev1.Secret, bool, error) {
	key := types.NamespacedName{Namespace: tok.Namespace, Name: tokenspec.SecretName(tok)}
	now := r.Clock.Now()
	s := &corev1.Secret{}
	err := r.Get(ctx, key, s)
	switch {
	case err == nil:
		s = r.memory.freshest(tok.UID, key.Name, s, now)
	case apierrors.IsNotFound(err):
		s = r.memory.freshest(tok.UID, key.Name, nil, now)
		if s == nil && (tok.Status.IssuedAt != nil || tok.Status.LastFailureReason == arcgisv1alpha1.ReasonSecretConflict) {
			// A Secret that should be there is missing from the cache: it was
			// deleted, or it lost the operator's label. Ask the API server.
			direct := &corev1.Secret{}
			if err := r.APIReader.Get(ctx, key, direct); err == nil {
				s = direct
			} else if !apierrors.IsNotFound(err) {
				return nil, false, err
			}
		}
	default:
		return nil, false, err
	}
	if s == nil {
		return nil, false, nil
	}
	if !metav1.IsControlledBy(s, tok) {
		return nil, true, nil
	}
	return s, false, nil
}

// refReader reads the Secrets and ConfigMaps that ArcGISTokens reference
// (credentials and CA bundles) straight from the API server, so that the
// operator never caches the data of every Secret in the cluster. It keeps the
// data of the objects it read, keyed by resourceVersion, and a metadata-only
// informer tells when they change; an unchanged object costs no read.
type refReader struct {
	api client.Reader
	// meta returns the metadata-only informer cache of a namespace, or nil:
	// then the object is always read.
	meta func(namespace string) client.Reader
	// hmacKey is random per process: credentials are fingerprinted in memory
	// only, and never with a bare hash.
	hmacKey [32]byte

	mu      sync.Mutex
	objects map[refKey]refObject
}

type refKey struct {
	kind string
	types.NamespacedName
}

type refObject struct {
	uid             types.UID
	resourceVersion string
	data            map[string][]byte
}

func newRefReader(api client.Reader, meta func(namespace string) client.Reader) *refReader {
	r := &refReader{api: api, meta: meta, objects: map[refKey]refObject{}}
	if _, err := rand.Read(r.hmacKey[:]); err != nil {
		panic(fmt.Sprintf("reading random bytes: %v", err))
	}
	return r
}

func (r *refReader) get(ctx context.Context, kind string, key types.NamespacedName) (refObject, error) {
	k := refKey{kind: kind, NamespacedName: key}
	if meta := r.meta(key.Namespace); meta != nil {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
		if err := meta.Get(ctx, key, m); err == nil {
			r.mu.Lock()
			o, ok := r.objects[k]
			r.mu.Unlock()
			if ok && o.resourceVersion == m.ResourceVersion && o.uid == m.UID {
				return o, nil
			}
		}
	}
	var o refObject
	switch kind {
	case "Secret":
		s := &corev1.Secret{}
		if err := r.api.Get(ctx, key, s); err != nil {
			r.evict(kind, key)
			return refObject{}, err
		}
		o = refObject{uid: s.UID, resourceVersion: s.ResourceVersion, data: s.Data}
	case "ConfigMap":
		cm := &corev1.ConfigMap{}
		if err := r.api.Get(ctx, key, cm); err != nil {
			r.evict(kind, key)
			return refObject{}, err
		}
		data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
		for k, v := range cm.BinaryData {
			data[k] = v
		}
		for k, v := range cm.Data {
			data[k] = []byte(v)
		}
		o = refObject{uid: cm.UID, resourceVersion: cm.ResourceVersion, data: data}
	default:
		return refObject{}, fmt.Errorf("cannot read referenced objects of kind %q", kind)
	}
	r.mu.Lock()
	r.objects[k] = o
	r.mu.Unlock()
	return o, nil
}

// evict forgets an object, for example when the informer reports it deleted.
func (r *refReader) evict(kind string, key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.objects, refKey{kind: kind, NamespacedName: key})
}

// fingerprint identifies credentials for the account guard: an HMAC with a
// per-process key, kept in memory only.
func (r *refReader) fingerprint(c arcgis.Credentials) string {
	m := hmac.New(sha256.New, r.hmacKey[:])
	for _, v := range []string{c.Username, c.Password, c.ClientID, c.ClientSecret} {
		_, _ = m.Write([]byte(v))
		_, _ = m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil)[:16])
}
