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

// Package compat finds the oldest Kubernetes release whose API server accepts
// the CRD's CEL validation rules, with the API server's own CEL compiler and
// environments, and checks that docs/install.md says the same.
//
// An API server compiles the rules of a CRD being created or changed in its
// "NewExpressions" environment, which holds only the CEL libraries introduced
// at or before its compatibility version: one minor release back, so that a
// rollback does not meet rules it cannot compile. A rule using the IP library
// (introduced in 1.30) is therefore accepted from 1.31 on.
package compat

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/model"
	"k8s.io/apimachinery/pkg/util/version"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	"sigs.k8s.io/yaml"
)

const root = "../.."

// Before 1.25, CRD validation rules were off by default (alpha).
const firstReleaseWithRules = 25

// rule is one x-kubernetes-validations rule and where it is.
type rule struct {
	path string
	root bool // the node is the object's root schema
	node *schema.Structural
	rule apiextensionsv1.ValidationRule
}

// rulesOf loads every CRD in config/crd/bases and returns its rules.
func rulesOf(t *testing.T) []rule {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "config/crd/bases/*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (%v)", err)
	}
	var rules []rule
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(b, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, v := range crd.Spec.Versions {
			var internal apiextensions.JSONSchemaProps
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
				t.Fatal(err)
			}
			s, err := schema.NewStructural(&internal)
			if err != nil {
				t.Fatal(err)
			}
			walk(crd.Name+"/"+v.Name, true, s, &rules)
		}
	}
	if len(rules) == 0 {
		t.Fatal("the CRDs hold no CEL rule")
	}
	return rules
}

func walk(path string, root bool, s *schema.Structural, out *[]rule) {
	for _, r := range s.XValidations {
		*out = append(*out, rule{path: path, root: root, node: s, rule: r})
	}
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := s.Properties[name]
		walk(path+"."+name, false, &p, out)
	}
	if s.Items != nil {
		walk(path+"[*]", false, s.Items, out)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Structural != nil {
		walk(path+"{*}", false, s.AdditionalProperties.Structural, out)
	}
}

// compiles reports whether r compiles for new expressions at compatibility
// version 1.minor, and the compiler's error if not.
func compiles(r rule, minor uint) (bool, string) {
	node := *r.node
	node.XValidations = apiextensionsv1.ValidationRules{r.rule}
	declType := model.SchemaDeclType(&node, r.root)
	res, err := cel.Compile(&node, declType, celconfig.PerCallLimit,
		environment.MustBaseEnvSet(version.MajorMinor(1, minor)), cel.NewExpressionsEnvLoader())
	if err != nil {
		return false, err.Error()
	}
	for _, c := range res {
		if c.Error != nil {
			return false, c.Error.Error()
		}
	}
	return true, ""
}

// TestOldestKubernetes computes, for each rule, the oldest release whose API
// server accepts it, and fails unless docs/install.md names the oldest
// release that accepts them all.
func TestOldestKubernetes(t *testing.T) {
	current := version.MustParseGeneric(environment.DefaultCompatibilityVersion().String()).Minor() + 1
	oldest := uint(firstReleaseWithRules)
	for _, r := range rulesOf(t) {
		release := uint(0)
		var lastErr string
		// Compatibility version c is that of release c+1.
		for c := uint(firstReleaseWithRules - 1); c < current; c++ {
			ok, msg := compiles(r, c)
			if ok {
				release = max(c+1, firstReleaseWithRules)
				break
			}
			lastErr = msg
		}
		if release == 0 {
			t.Errorf("%s: %q compiles at no compatibility version up to 1.%d: %s", r.path, r.rule.Rule, current-1, lastErr)
			continue
		}
		t.Logf("1.%d  %s  %s", release, r.path, r.rule.Rule)
		oldest = max(oldest, release)
	}

	b, err := os.ReadFile(filepath.Join(root, "docs/install.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("**Kubernetes 1.%d**", oldest)
	m := regexp.MustCompile(`The oldest Kubernetes whose API server accepts the CRD is (\*\*Kubernetes 1\.\d+\*\*)`).FindSubmatch(b)
	switch {
	case m == nil:
		t.Errorf("docs/install.md does not say \"The oldest Kubernetes whose API server accepts the CRD is %s\"", want)
	case string(m[1]) != want:
		t.Errorf("docs/install.md says the oldest Kubernetes is %s; the CRD's CEL rules need %s: update its compatibility table", m[1], want)
	}
}
