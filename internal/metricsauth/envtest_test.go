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

package metricsauth_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/tokenoperator/arcgis-token-operator/internal/metricsauth"
	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

// TestAgainstTheAPIServer runs the filter as the manager's ServiceAccount,
// with the shipped RBAC (config/rbac), against a real kube-apiserver that
// issues and authenticates ServiceAccount tokens (envtest starts it with a
// service-account issuer and signing key).
func TestAgainstTheAPIServer(t *testing.T) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx := t.Context()
	admin := kubernetes.NewForConfigOrDie(env.Config)

	// The manager's ServiceAccount (config/rbac binds system/controller-manager)
	// and two scrapers, one of them bound to the metrics-reader role.
	for _, ns := range []string{"system", "monitoring"} {
		mustCreate(t, func() error {
			_, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
			return err
		})
	}
	for _, sa := range []struct{ ns, name string }{{"system", "controller-manager"}, {"monitoring", "prometheus"}, {"monitoring", "stranger"}} {
		mustCreate(t, func() error {
			_, err := admin.CoreV1().ServiceAccounts(sa.ns).Create(ctx,
				&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa.name}}, metav1.CreateOptions{})
			return err
		})
	}
	for _, file := range []string{"metrics_auth_role.yaml", "metrics_reader_role.yaml"} {
		role := &rbacv1.ClusterRole{}
		readYAML(t, file, role)
		mustCreate(t, func() error {
			_, err := admin.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
			return err
		})
	}
	binding := &rbacv1.ClusterRoleBinding{}
	readYAML(t, "metrics_auth_role_binding.yaml", binding)
	reader := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader-prometheus"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "prometheus", Namespace: "monitoring"}},
	}
	for _, b := range []*rbacv1.ClusterRoleBinding{binding, reader} {
		mustCreate(t, func() error {
			_, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{})
			return err
		})
	}
	// The API server's RBAC authorizer reads bindings from an informer: wait
	// until both are in effect, so that no early denial gets cached.
	waitAllowed(t, admin, "system:serviceaccount:system:controller-manager",
		&authorizationv1.ResourceAttributes{Group: "authentication.k8s.io", Resource: "tokenreviews", Verb: "create"}, nil)
	waitAllowed(t, admin, "system:serviceaccount:system:controller-manager",
		&authorizationv1.ResourceAttributes{Group: "authorization.k8s.io", Resource: "subjectaccessreviews", Verb: "create"}, nil)
	waitAllowed(t, admin, "system:serviceaccount:monitoring:prometheus",
		nil, &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"})

	managerToken := createToken(t, admin, "system", "controller-manager")
	promToken := createToken(t, admin, "monitoring", "prometheus")
	strangerToken := createToken(t, admin, "monitoring", "stranger")
	tokens := []string{managerToken, promToken, strangerToken}

	// The filter, as the manager: its own token, the control plane's CA.
	managerConfig := rest.AnonymousClientConfig(env.Config)
	managerConfig.BearerToken = managerToken
	httpClient, err := rest.HTTPClientFor(managerConfig)
	if err != nil {
		t.Fatal(err)
	}
	filter, err := metricsauth.WithAuthenticationAndAuthorization(managerConfig, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	var logMu sync.Mutex
	var logs strings.Builder
	log := funcr.New(func(prefix, args string) {
		logMu.Lock()
		defer logMu.Unlock()
		logs.WriteString(prefix + " " + args + "\n")
	}, funcr.Options{Verbosity: 10})
	handler, err := filter(log, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, allowedAnswer)
	}))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, auth string
		want       int
	}{
		{"bound to metrics-reader", bearer(promToken), http.StatusOK},
		{"bound to metrics-reader, cached", bearer(promToken), http.StatusOK},
		{"a ServiceAccount without the binding", bearer(strangerToken), http.StatusForbidden},
		{"a made-up token", bearer("not-a-real-token-0123456789"), http.StatusUnauthorized},
		{"no token", "", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			// The body is safe to show: it is checked for tokens below.
			t.Errorf("%s: status %d, want %d", tc.name, rec.Code, tc.want)
		}
		assertNoneOf(t, tc.name+": the response", rec.Body.String(), tokens)
	}
	logMu.Lock()
	defer logMu.Unlock()
	assertNoneOf(t, "the logs", logs.String(), tokens)
}

func mustCreate(t *testing.T, create func() error) {
	t.Helper()
	if err := create(); err != nil {
		t.Fatal(err)
	}
}

// readYAML reads a manifest of config/rbac.
func readYAML(t *testing.T, name string, into any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, into); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func waitAllowed(t *testing.T, admin kubernetes.Interface, user string,
	res *authorizationv1.ResourceAttributes, nonRes *authorizationv1.NonResourceAttributes) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		review, err := admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: user, Groups: []string{"system:serviceaccounts", "system:authenticated"},
				ResourceAttributes: res, NonResourceAttributes: nonRes},
		}, metav1.CreateOptions{})
		return err == nil && review.Status.Allowed, nil
	})
	if err != nil {
		t.Fatalf("%s was not allowed %+v %+v in time: %v", user, res, nonRes, err)
	}
}

// createToken asks the TokenRequest API for a token of the ServiceAccount, as
// `kubectl create token` does. Tests must never print it.
func createToken(t *testing.T, admin kubernetes.Interface, ns, name string) string {
	t.Helper()
	ten := int64(600) // the shortest the API server accepts
	tr, err := admin.CoreV1().ServiceAccounts(ns).CreateToken(t.Context(), name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &ten},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", ns, name, err)
	}
	if tr.Status.Token == "" {
		t.Fatalf("no token for %s/%s", ns, name)
	}
	return tr.Status.Token
}
