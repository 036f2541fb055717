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

// Package deploy tests the installation manifests in config/ against a real
// API server: they build, they apply, and the RBAC they grant is least
// privilege.
package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

// objects splits a multi-document YAML stream.
func objects(t *testing.T, stream string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(stream), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			break
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
	return out
}

func kustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	stdout, stderr, err := env.Kubectl(nil, "kustomize", filepath.Join(testenv.RepoRoot(), dir))
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr)
	}
	return objects(t, stdout)
}

func TestDefaultInstallBuilds(t *testing.T) {
	objs := kustomize(t, "config/default")
	kinds := map[string]int{}
	var deployment *appsv1.Deployment
	for _, u := range objs {
		kinds[u.GetKind()]++
		if u.GetNamespace() != "" && u.GetNamespace() != "arcgis-token-operator-system" {
			t.Errorf("%s %s lands in namespace %q", u.GetKind(), u.GetName(), u.GetNamespace())
		}
		if u.GetKind() == "Deployment" {
			deployment = &appsv1.Deployment{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, deployment); err != nil {
				t.Fatal(err)
			}
		}
	}
	for kind, n := range map[string]int{
		"Namespace": 1, "CustomResourceDefinition": 1, "ServiceAccount": 1, "Deployment": 1, "Service": 1,
		"Role": 1, "RoleBinding": 1, "ClusterRole": 6, "ClusterRoleBinding": 2,
	} {
		if kinds[kind] != n {
			t.Errorf("%d %s objects, want %d (all kinds: %v)", kinds[kind], kind, n, kinds)
		}
	}
	if deployment == nil {
		t.Fatal("no Deployment")
	}
	pod := deployment.Spec.Template.Spec
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot ||
		pod.SecurityContext.SeccompProfile == nil || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context = %+v, want non-root with seccomp RuntimeDefault", pod.SecurityContext)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil ||
		!*sc.ReadOnlyRootFilesystem || sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context = %+v, want no privilege escalation, read-only root, all capabilities dropped", sc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() ||
		c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources = %+v, want requests and limits", c.Resources)
	}
	if c.LivenessProbe == nil || c.ReadinessProbe == nil {
		t.Errorf("probes missing")
	}
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"--leader-elect", "--metrics-bind-address=:8443", "--health-probe-bind-address=:8081"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %s", args, want)
		}
	}
}

func TestDefaultInstallAppliesServerSide(t *testing.T) {
	// A server-side dry run creates nothing, so the namespaced objects need
	// their namespace to exist for real.
	if _, stderr, err := env.Kubectl(nil, "create", "namespace", "arcgis-token-operator-system"); err != nil {
		t.Fatalf("creating the namespace: %v\n%s", err, stderr)
	}
	dir := filepath.Join(testenv.RepoRoot(), "config", "default")
	stdout, stderr, err := env.Kubectl(nil, "apply", "--dry-run=server", "-k", dir)
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server -k config/default: %v\n%s%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout, "deployment.apps/arcgis-token-operator-controller-manager") {
		t.Errorf("the dry run did not create the Deployment:\n%s", stdout)
	}
}

func TestPrometheusManifestsApply(t *testing.T) {
	dir := filepath.Join(testenv.RepoRoot(), "config", "prometheus")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("config/prometheus not present")
	}
	// The ServiceMonitor and PrometheusRule CRDs are not installed here:
	// building is what can be checked.
	if objs := kustomize(t, "config/prometheus"); len(objs) == 0 {
		t.Errorf("config/prometheus builds to nothing")
	}
}

// TestManagerRBACIsLeastPrivilege pins the manager's permissions: what the
// reconciler reads and writes, nothing more. A new permission must be added
// here on purpose.
func TestManagerRBACIsLeastPrivilege(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(raw, role); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, r := range role.Rules {
		if len(r.NonResourceURLs) > 0 || len(r.ResourceNames) > 0 {
			t.Errorf("unexpected rule %+v", r)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				verbs := append([]string(nil), r.Verbs...)
				sort.Strings(verbs)
				got[g+"/"+res] = verbs
			}
		}
	}
	want := map[string][]string{
		// The reconciler's own objects: read, and status patched.
		"arcgis.tokenoperator.dev/arcgistokens":        {"get", "list", "watch"},
		"arcgis.tokenoperator.dev/arcgistokens/status": {"get", "patch"},
		// Output Secrets (created, patched, the old one deleted after a
		// rename) and credentials (read); watched by label or metadata only.
		"/secrets": {"create", "delete", "get", "list", "patch", "watch"},
		// CA bundles: read and watched (metadata only).
		"/configmaps": {"get", "list", "watch"},
		// Events about ArcGISTokens.
		"events.k8s.io/events": {"create", "patch"},
		// Whether the namespace of a missing Secret is being deleted (one
		// get, so that no token is issued into a terminating namespace).
		"/namespaces": {"get"},
		// Rollout restarts: one annotation on the pod template.
		"apps/deployments":  {"patch"},
		"apps/statefulsets": {"patch"},
		"apps/daemonsets":   {"patch"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("manager ClusterRole rules:\n got  %v\n want %v", got, want)
	}
	for _, r := range role.Rules {
		for _, v := range r.Verbs {
			if v == "*" || v == "escalate" || v == "bind" || v == "impersonate" {
				t.Errorf("rule %+v grants %q", r, v)
			}
		}
	}
}
