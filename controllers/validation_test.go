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
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

// validSpec is a minimal valid spec; each bad case changes one thing.
const validSpec = `
type: Portal
url: https://gis.example.com/portal
credentialsRef:
  name: creds
referer: https://apps.example.com
`

func TestCRDRefusesBadSpecs(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	tests := map[string]struct {
		// spec replaces validSpec when set; patch is merged into validSpec.
		spec  string
		patch string
		want  string
	}{
		"unknown type":                {patch: `type: Enterprise`, want: `supported values: "Portal", "Server", "ServerAdmin", "Federated", "OAuth"`},
		"http url":                    {patch: `url: http://gis.example.com/portal`, want: "url must be an absolute https:// URL"},
		"relative url":                {patch: `url: /portal`, want: "url must be an absolute https:// URL"},
		"url with a query":            {patch: `url: https://gis.example.com/portal?token=abc`, want: "url must not carry a query or fragment"},
		"url with a fragment":         {patch: `url: https://gis.example.com/portal#x`, want: "url must not carry a query or fragment"},
		"serverURL without Federated": {patch: `serverURL: https://gis.example.com/server`, want: "serverURL is required when type is Federated and must not be set for other types"},
		"Federated without serverURL": {patch: `type: Federated`, want: "serverURL is required when type is Federated"},
		"http serverURL": {spec: `
type: Federated
url: https://gis.example.com/portal
serverURL: http://gis.example.com/server
credentialsRef: {name: creds}
referer: https://apps.example.com`, want: "serverURL must be an absolute https:// URL"},
		"referer binding without referer": {spec: `
type: Portal
url: https://gis.example.com/portal
credentialsRef: {name: creds}`, want: "referer is required when client is Referer"},
		"IP binding without ip":            {patch: `client: IP`, want: "ip is required when client is IP"},
		"bad ip":                           {patch: "client: IP\nip: 300.1.2.3", want: "ip must be an IPv4 or IPv6 address"},
		"unknown binding":                  {patch: `client: Cookie`, want: `supported values: "Referer", "IP", "RequestIP"`},
		"both renewal settings":            {patch: "renewBefore: 10m\nrenewBeforePercentage: 20", want: "set at most one of renewBefore and renewBeforePercentage"},
		"renewBefore not a duration":       {patch: `renewBefore: ten minutes`, want: "spec.renewBefore"},
		"negative renewBefore":             {patch: `renewBefore: 0s`, want: "renewBefore must be positive"},
		"percentage too high":              {patch: `renewBeforePercentage: 100`, want: "should be less than or equal to 99"},
		"percentage too low":               {patch: `renewBeforePercentage: 0`, want: "should be greater than or equal to 1"},
		"expiration too long":              {patch: `expirationMinutes: 20161`, want: "should be less than or equal to 20160"},
		"expiration zero":                  {patch: `expirationMinutes: 0`, want: "should be greater than or equal to 1"},
		"validation interval too short":    {patch: `validationInterval: 30s`, want: "validationInterval must be 0s (off) or at least 1m"},
		"bad secretName":                   {patch: `secretName: Not_A_Name`, want: "secretName must be a valid Secret name"},
		"empty credentials name":           {patch: "credentialsRef: {name: \"\"}", want: "spec.credentialsRef.name"},
		"credentials in another namespace": {patch: "credentialsRef: {name: creds, namespace: other}", want: `unknown field "spec.credentialsRef.namespace"`},
		"CA bundle of an unknown kind":     {patch: "caBundleRef: {kind: Pod, name: ca}", want: `supported values: "ConfigMap", "Secret"`},
		"template label of the operator's domain": {patch: "secretTemplate: {labels: {arcgis.tokenoperator.dev/token: x}}",
			want: "labels of the arcgis.tokenoperator.dev/ domain and app.kubernetes.io/managed-by are set by the operator"},
		"template managed-by label": {patch: "secretTemplate: {labels: {app.kubernetes.io/managed-by: helm}}",
			want: "are set by the operator"},
		"template annotation of the operator's domain": {patch: "secretTemplate: {annotations: {arcgis.tokenoperator.dev/expires: x}}",
			want: "annotations of the arcgis.tokenoperator.dev/ domain are set by the operator"},
		"credentials name with a slash": {patch: "credentialsRef: {name: a/b}", want: "credentialsRef.name must be a valid object name"},
		"credentials name with percent": {patch: "credentialsRef: {name: \"a%2Fb\"}", want: "credentialsRef.name must be a valid object name"},
		"credentials name of dots":      {patch: "credentialsRef: {name: \"..\"}", want: "credentialsRef.name must be a valid object name"},
		"CA bundle name with a slash":   {patch: "caBundleRef: {name: x/y}", want: "caBundleRef.name must be a valid object name"},
		"unknown rollout restart kind":  {patch: "rolloutRestartTargets: [{kind: Job, name: x}]", want: `supported values: "Deployment", "StatefulSet", "DaemonSet"`},
		"no credentials":                {spec: "type: Portal\nurl: https://gis.example.com/portal\nreferer: x", want: "spec.credentialsRef: Required value"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			spec := map[string]any{}
			src := tc.spec
			if src == "" {
				src = validSpec
			}
			if err := yaml.Unmarshal([]byte(src), &spec); err != nil {
				t.Fatal(err)
			}
			if tc.patch != "" {
				patch := map[string]any{}
				if err := yaml.Unmarshal([]byte(tc.patch), &patch); err != nil {
					t.Fatal(err)
				}
				for k, v := range patch {
					spec[k] = v
				}
			}
			obj := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "arcgis.tokenoperator.dev/v1alpha1",
				"kind":       "ArcGISToken",
				"metadata":   map[string]any{"generateName": "bad-", "namespace": ns},
				"spec":       spec,
			}}
			// Strict, as kubectl is: unknown fields are refused.
			err := k8sClient.Create(context.Background(), obj, client.FieldValidation("Strict"))
			if err == nil {
				t.Fatalf("the API server accepted %s", name)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}

	t.Run("the valid spec is accepted", func(t *testing.T) {
		spec := map[string]any{}
		if err := yaml.Unmarshal([]byte(validSpec), &spec); err != nil {
			t.Fatal(err)
		}
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "arcgis.tokenoperator.dev/v1alpha1", "kind": "ArcGISToken",
			"metadata": map[string]any{"generateName": "good-", "namespace": ns}, "spec": spec,
		}}
		if err := k8sClient.Create(context.Background(), obj); err != nil {
			t.Fatalf("the valid spec was refused: %v", err)
		}
	})
}

func TestSamplesApply(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	dir := filepath.Join(testenv.RepoRoot(), "config", "samples")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	applied := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "arcgis_v1alpha1_") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		stdout, stderr, err := env.Kubectl(nil, "apply", "-n", ns, "-f", path)
		if err != nil {
			t.Errorf("kubectl apply -f %s: %v\n%s%s", e.Name(), err, stdout, stderr)
			continue
		}
		applied++
	}
	if applied < 5 {
		t.Errorf("applied %d samples, want one per service type (5)", applied)
	}
	// A bad spec is refused by kubectl with the CRD's own message.
	bad := "apiVersion: arcgis.tokenoperator.dev/v1alpha1\nkind: ArcGISToken\nmetadata: {name: bad}\n" +
		"spec: {type: Portal, url: 'http://gis.example.com/portal', credentialsRef: {name: c}, referer: r}\n"
	_, stderr, err := env.Kubectl(strings.NewReader(bad), "apply", "-n", ns, "-f", "-")
	if err == nil || !strings.Contains(stderr, "url must be an absolute https:// URL") {
		t.Errorf("kubectl apply of an http:// url: err=%v stderr=%q", err, stderr)
	}
}
