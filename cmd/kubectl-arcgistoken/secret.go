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
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
)

// fingerprintLen is how many hex digits of the token's SHA-256 are shown:
// enough to tell two tokens apart and to see a rotation, far too few to
// help guess a token.
const fingerprintLen = 12

// maskedToken is all the plugin ever shows of a token.
type maskedToken struct {
	// Length is the token's length in bytes.
	Length int `json:"length"`
	// SHA256 is the first 12 hex digits of the SHA-256 of the token.
	SHA256 string `json:"sha256"`
}

func mask(token []byte) *maskedToken {
	if len(token) == 0 {
		return nil
	}
	sum := sha256.Sum256(token)
	return &maskedToken{Length: len(token), SHA256: hex.EncodeToString(sum[:])[:fingerprintLen]}
}

func (m *maskedToken) String() string {
	if m == nil {
		return "(none)"
	}
	return fmt.Sprintf("******** (%d characters, sha256:%s)", m.Length, m.SHA256)
}

// secretName is the Secret that holds (or will hold) the token.
func secretName(tok *arcgisv1alpha1.ArcGISToken) string {
	switch {
	case tok.Status.SecretName != "":
		return tok.Status.SecretName
	case tok.Spec.SecretName != "":
		return tok.Spec.SecretName
	}
	return tok.Name
}

// readSecret reads the token's Secret. When it cannot, it says why in words
// (not found, forbidden), and the commands show the rest of what they know.
func readSecret(ctx context.Context, c client.Client, tok *arcgisv1alpha1.ArcGISToken) (*corev1.Secret, string) {
	var s corev1.Secret
	err := c.Get(ctx, client.ObjectKey{Namespace: tok.Namespace, Name: secretName(tok)}, &s)
	switch {
	case err == nil:
		return &s, ""
	case apierrors.IsNotFound(err):
		return nil, "not found"
	case apierrors.IsForbidden(err):
		return nil, "you may not read it (forbidden)"
	}
	return nil, "cannot be read: " + err.Error()
}

// controlledBy says whether the Secret is controlled by the ArcGISToken, as
// every Secret the operator writes is.
func controlledBy(s *corev1.Secret, tok *arcgisv1alpha1.ArcGISToken) bool {
	for _, ref := range s.OwnerReferences {
		if ref.Controller != nil && *ref.Controller && ref.UID == tok.UID {
			return true
		}
	}
	return false
}
