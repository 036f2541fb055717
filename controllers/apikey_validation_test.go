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
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// TestCRDAPIKeySpecs: what the API server accepts and refuses of type APIKey.
func TestCRDAPIKeySpecs(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	const base = "type: APIKey\nurl: https://www.arcgis.com\ncredentialsRef: {name: owner}\n"
	tests := map[string]struct {
		spec string
		want string // "" = accepted
	}{
		"minimal":                    {spec: base + "apiKey: {itemID: 0123456789abcdef0123456789ABCDEF}"},
		"all fields":                 {spec: base + "referer: https://maps.example.com\napiKey: {itemID: 0123456789abcdef0123456789abcdef, lifetime: 720h, retireAfter: 0s, takeOverSlot: 2}"},
		"a lifetime over a year":     {spec: base + "apiKey: {itemID: 0123456789abcdef0123456789abcdef, lifetime: 10000h}"},
		"no apiKey":                  {spec: base, want: "apiKey is required when type is APIKey"},
		"apiKey on a portal token":   {spec: "type: Portal\nurl: https://gis.example.com/portal\ncredentialsRef: {name: c}\nreferer: x\napiKey: {itemID: 0123456789abcdef0123456789abcdef}", want: "must not be set for other types"},
		"short item ID":              {spec: base + "apiKey: {itemID: 0123456789abcdef}", want: "spec.apiKey.itemID"},
		"item ID not hex":            {spec: base + "apiKey: {itemID: 0123456789abcdef0123456789abcdeg}", want: "itemID must be 32 hexadecimal characters"},
		"slot 3":                     {spec: base + "apiKey: {itemID: 0123456789abcdef0123456789abcdef, takeOverSlot: 3}", want: "less than or equal to 2"},
		"lifetime too short":         {spec: base + "apiKey: {itemID: 0123456789abcdef0123456789abcdef, lifetime: 30s}", want: "lifetime must be at least 1m"},
		"retireAfter not a duration": {spec: base + "apiKey: {itemID: 0123456789abcdef0123456789abcdef, retireAfter: 1d}", want: "spec.apiKey.retireAfter"},
		"unknown field in apiKey":    {spec: base + "apiKey: {itemID: 0123456789abcdef0123456789abcdef, slot: 1}", want: `unknown field "spec.apiKey.slot"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			spec := map[string]any{}
			if err := yaml.Unmarshal([]byte(tc.spec), &spec); err != nil {
				t.Fatal(err)
			}
			obj := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "arcgis.tokenoperator.dev/v1alpha1", "kind": "ArcGISToken",
				"metadata": map[string]any{"generateName": "key-", "namespace": ns}, "spec": spec,
			}}
			err := k8sClient.Create(context.Background(), obj, client.FieldValidation("Strict"))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatal("accepted")
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}
