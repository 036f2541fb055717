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
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

// TestNamespaceScopedMode runs the manager as a user that holds the
// generated manager role in one namespace only (a RoleBinding, no
// ClusterRoleBinding), as teams without cluster-wide Secret access install it
// with --watch-namespaces.
func TestNamespaceScopedMode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withoutManager())

	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(raw, role); err != nil {
		t.Fatal(err)
	}
	role.Name = "scoped-" + h.ns
	h.create(role)
	t.Cleanup(func() { _ = k8sClient.Delete(h.ctx, role) })
	user, err := env.ControlPlane.AddUser(envtest.User{Name: "operator-" + h.ns}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.create(&rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "arcgis-token-operator", Namespace: h.ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "operator-" + h.ns}},
	})

	// The user really has no cluster-wide access to Secrets.
	userClient, err := client.New(user.Config(), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := userClient.List(h.ctx, &corev1.SecretList{}); !apierrors.IsForbidden(err) {
		t.Fatalf("listing Secrets cluster-wide as the scoped user: %v, want forbidden", err)
	}

	h.startManager(managerOptions{restConfig: user.Config()})
	h.create(h.token("scoped", arcgisv1alpha1.ServiceTypePortal))
	h.waitReady("scoped")
	renew(h, "scoped", "1")
	h.waitEvent("scoped", "Renewed")
}
