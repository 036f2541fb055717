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

// Package chart renders the Helm chart in dist/chart with Helm's own engine
// and checks what it would install against config/, the kustomize manifests
// that `make manifests` generates and `make deploy` applies.
//
// It is a module of its own: Helm's dependencies would otherwise pin the
// operator's Kubernetes libraries. Run it with `make test-chart`.
package chart

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

const (
	root      = "../.."
	chartDir  = root + "/dist/chart"
	release   = "tokens"
	namespace = "arcgis-system"
	// fullname is the prefix of every object of release "tokens".
	fullname = "tokens-arcgis-token-operator"
	// manager names the Deployment and its ServiceAccount, as config/default does.
	manager    = fullname + "-controller-manager"
	metricsSvc = fullname + "-controller-manager-metrics-service"
	crdName    = "arcgistokens.arcgis.tokenoperator.dev"
	crdFile    = "arcgis.tokenoperator.dev_arcgistokens.yaml"
)

// object is one rendered manifest.
type object struct {
	template string
	raw      []byte
	fields   map[string]any
}

func (o object) kind() string { s, _ := o.fields["kind"].(string); return s }

func (o object) meta(key string) string {
	m, _ := o.fields["metadata"].(map[string]any)
	s, _ := m[key].(string)
	return s
}

// id is "Kind namespace/name", or "Kind name" for cluster-scoped objects.
func (o object) id() string {
	if ns := o.meta("namespace"); ns != "" {
		return o.kind() + " " + ns + "/" + o.meta("name")
	}
	return o.kind() + " " + o.meta("name")
}

// rendering is what the chart renders for a set of values.
type rendering struct {
	objects []object
	notes   string
}

func (r rendering) ids() []string {
	var ids []string
	for _, o := range r.objects {
		ids = append(ids, o.id())
	}
	sort.Strings(ids)
	return ids
}

func (r rendering) find(t *testing.T, id string) object {
	t.Helper()
	for _, o := range r.objects {
		if o.id() == id {
			return o
		}
	}
	t.Fatalf("no %s among %v", id, r.ids())
	return object{}
}

// decode converts o into out (a typed Kubernetes object), strictly.
func (o object) decode(t *testing.T, out any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(o.raw, out); err != nil {
		t.Fatalf("%s (%s): %v", o.id(), o.template, err)
	}
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// renderErr renders the chart as `helm install tokens -n arcgis-system`
// would, with values given as YAML (validated against values.schema.json).
func renderErr(t *testing.T, values string) (rendering, error) {
	t.Helper()
	return renderRelease(t, release, namespace, values)
}

// renderRelease renders the chart as `helm install NAME -n NAMESPACE` would.
func renderRelease(t *testing.T, name, ns, values string) (rendering, error) {
	t.Helper()
	ch := loadChart(t)
	vals, err := chartutil.ReadValues([]byte(values))
	if err != nil {
		t.Fatal(err)
	}
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{
		Name: name, Namespace: ns, Revision: 1, IsInstall: true,
	}, chartutil.DefaultCapabilities)
	if err != nil {
		return rendering{}, err
	}
	files, err := engine.Render(ch, rv)
	if err != nil {
		return rendering{}, err
	}
	var r rendering
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		content := files[name]
		if strings.HasSuffix(name, "NOTES.txt") {
			r.notes = content
			continue
		}
		if strings.HasPrefix(filepath.Base(name), "_") {
			continue
		}
		docs := releaseutil.SplitManifests(content)
		keys := make([]string, 0, len(docs))
		for k := range docs {
			keys = append(keys, k)
		}
		sort.Sort(releaseutil.BySplitManifestsOrder(keys))
		for _, k := range keys {
			doc := strings.TrimSpace(docs[k])
			if doc == "" || isComment(doc) {
				continue
			}
			var fields map[string]any
			if err := yaml.Unmarshal([]byte(doc), &fields); err != nil {
				t.Fatalf("%s does not render YAML: %v\n%s", name, err, doc)
			}
			if len(fields) == 0 {
				continue
			}
			r.objects = append(r.objects, object{template: name, raw: []byte(doc), fields: fields})
		}
	}
	return r, nil
}

func isComment(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

func render(t *testing.T, values string) rendering {
	t.Helper()
	r, err := renderErr(t, values)
	if err != nil {
		t.Fatalf("rendering with values %q: %v", values, err)
	}
	return r
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// configObject reads a single-object manifest from config/.
func configObject(t *testing.T, path string, out any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(readFile(t, filepath.Join(root, "config", path)), out); err != nil {
		t.Fatalf("config/%s: %v", path, err)
	}
}

// configRules returns the rules of a Role or ClusterRole in config/.
func configRules(t *testing.T, path string) []rbacv1.PolicyRule {
	t.Helper()
	var role rbacv1.ClusterRole
	configObject(t, path, &role)
	if len(role.Rules) == 0 {
		t.Fatalf("config/%s has no rules", path)
	}
	return role.Rules
}

func rulesOf(t *testing.T, o object) []rbacv1.PolicyRule {
	t.Helper()
	var role rbacv1.ClusterRole // a Role decodes the same
	o.decode(t, &role)
	return role.Rules
}

func toJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// TestChartSyncedWithConfig fails when the chart's copies of the generated
// manifests differ from config/: run dist/chart/sync.sh after make manifests.
func TestChartSyncedWithConfig(t *testing.T) {
	bases, err := filepath.Glob(filepath.Join(root, "config/crd/bases/*.yaml"))
	if err != nil || len(bases) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (%v)", err)
	}
	copies, _ := filepath.Glob(filepath.Join(chartDir, "files/crds/*.yaml"))
	var baseNames, copyNames []string
	for _, p := range bases {
		baseNames = append(baseNames, filepath.Base(p))
	}
	for _, p := range copies {
		copyNames = append(copyNames, filepath.Base(p))
	}
	if !slices.Equal(baseNames, copyNames) {
		t.Errorf("dist/chart/files/crds holds %v, config/crd/bases %v: run dist/chart/sync.sh", copyNames, baseNames)
	}
	pairs := map[string]string{
		"config/rbac/role.yaml":                 "dist/chart/files/rbac/role.yaml",
		"config/prometheus/prometheusrule.yaml": "dist/chart/files/prometheus/prometheusrule.yaml",
	}
	for _, name := range baseNames {
		pairs["config/crd/bases/"+name] = "dist/chart/files/crds/" + name
	}
	for src, dst := range pairs {
		if !bytes.Equal(readFile(t, filepath.Join(root, src)), readFile(t, filepath.Join(root, dst))) {
			t.Errorf("%s differs from %s: run dist/chart/sync.sh", dst, src)
		}
	}

	// The script itself agrees.
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash to run dist/chart/sync.sh --check")
	}
	out, err := exec.Command("bash", filepath.Join(chartDir, "sync.sh"), "--check").CombinedOutput()
	if err != nil {
		t.Errorf("dist/chart/sync.sh --check: %v\n%s", err, out)
	}
}

// TestChartLint runs what `helm lint --strict` runs: no warning or error
// (informational messages, such as the missing icon, are logged).
func TestChartLint(t *testing.T) {
	for name, values := range map[string]map[string]any{
		"defaults": nil,
		"watchNamespaces, serviceMonitor and prometheusRule": {
			"watchNamespaces": []any{"team-a", "team-b"},
			"serviceMonitor":  map[string]any{"enabled": true},
			"prometheusRule":  map[string]any{"enabled": true},
		},
	} {
		t.Run(name, func(t *testing.T) {
			res := lint.AllWithKubeVersion(chartDir, values, namespace, nil)
			for _, m := range res.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", m)
				} else {
					t.Logf("helm lint: %s", m)
				}
			}
		})
	}
}

// defaultIDs is every object the default values install.
var defaultIDs = []string{
	"ClusterRole " + fullname + "-arcgistoken-admin-role",
	"ClusterRole " + fullname + "-arcgistoken-editor-role",
	"ClusterRole " + fullname + "-arcgistoken-viewer-role",
	"ClusterRole " + fullname + "-manager-role",
	"ClusterRole " + fullname + "-metrics-auth-role",
	"ClusterRole " + fullname + "-metrics-reader",
	"ClusterRoleBinding " + fullname + "-manager-rolebinding",
	"ClusterRoleBinding " + fullname + "-metrics-auth-rolebinding",
	"CustomResourceDefinition " + crdName,
	"Deployment " + namespace + "/" + manager,
	"Role " + namespace + "/" + fullname + "-leader-election-role",
	"RoleBinding " + namespace + "/" + fullname + "-leader-election-rolebinding",
	"Service " + namespace + "/" + metricsSvc,
	"ServiceAccount " + namespace + "/" + manager,
}

// TestChartDefaults renders the default values and checks each object
// against its counterpart in config/.
func TestChartDefaults(t *testing.T) {
	r := render(t, "")
	if got := r.ids(); !slices.Equal(got, defaultIDs) {
		t.Errorf("objects:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(defaultIDs, "\n  "))
	}

	t.Run("CRD equals config/crd/bases", func(t *testing.T) {
		crd := r.find(t, "CustomResourceDefinition "+crdName)
		var base map[string]any
		if err := yaml.Unmarshal(readFile(t, filepath.Join(root, "config/crd/bases", crdFile)), &base); err != nil {
			t.Fatal(err)
		}
		got := crd.fields
		meta := got["metadata"].(map[string]any)
		annotations := meta["annotations"].(map[string]any)
		if annotations["helm.sh/resource-policy"] != "keep" || annotations["argocd.argoproj.io/sync-options"] != "Delete=false,Prune=false" {
			t.Errorf("CRD annotations %v, want helm.sh/resource-policy: keep and Argo CD's Delete=false,Prune=false (crds.keep)", annotations)
		}
		labels := meta["labels"].(map[string]any)
		if labels["app.kubernetes.io/managed-by"] != "Helm" || labels["app.kubernetes.io/instance"] != release {
			t.Errorf("CRD labels %v, want the chart's", labels)
		}
		// Everything else is exactly the generated CRD.
		delete(annotations, "helm.sh/resource-policy")
		delete(annotations, "argocd.argoproj.io/sync-options")
		delete(meta, "labels")
		if !reflect.DeepEqual(got, base) {
			t.Errorf("the rendered CRD differs from config/crd/bases/%s", crdFile)
		}
	})

	sa := r.find(t, "ServiceAccount "+namespace+"/"+manager)

	t.Run("manager ClusterRole rules equal config/rbac/role.yaml", func(t *testing.T) {
		got := rulesOf(t, r.find(t, "ClusterRole "+fullname+"-manager-role"))
		if want := configRules(t, "rbac/role.yaml"); !reflect.DeepEqual(got, want) {
			t.Errorf("rules:\n%s\nwant:\n%s", toJSON(got), toJSON(want))
		}
		var b rbacv1.ClusterRoleBinding
		r.find(t, "ClusterRoleBinding "+fullname+"-manager-rolebinding").decode(t, &b)
		checkBinding(t, b.RoleRef, b.Subjects, "ClusterRole", fullname+"-manager-role", sa)
	})

	t.Run("other roles equal config/rbac", func(t *testing.T) {
		for id, path := range map[string]string{
			"Role " + namespace + "/" + fullname + "-leader-election-role": "rbac/leader_election_role.yaml",
			"ClusterRole " + fullname + "-metrics-auth-role":               "rbac/metrics_auth_role.yaml",
			"ClusterRole " + fullname + "-metrics-reader":                  "rbac/metrics_reader_role.yaml",
			"ClusterRole " + fullname + "-arcgistoken-admin-role":          "rbac/arcgistoken_admin_role.yaml",
			"ClusterRole " + fullname + "-arcgistoken-editor-role":         "rbac/arcgistoken_editor_role.yaml",
			"ClusterRole " + fullname + "-arcgistoken-viewer-role":         "rbac/arcgistoken_viewer_role.yaml",
		} {
			o := r.find(t, id)
			if got, want := rulesOf(t, o), configRules(t, path); !reflect.DeepEqual(got, want) {
				t.Errorf("%s rules differ from config/%s:\n%s\nwant:\n%s", id, path, toJSON(got), toJSON(want))
			}
			var want rbacv1.ClusterRole
			configObject(t, path, &want)
			for k, v := range want.Labels {
				if strings.HasPrefix(k, "rbac.authorization.k8s.io/aggregate-to-") {
					labels, _ := o.fields["metadata"].(map[string]any)["labels"].(map[string]any)
					if labels[k] != v {
						t.Errorf("%s lacks the label %s: %q of config/%s", id, k, v, path)
					}
				}
			}
		}
		var le rbacv1.RoleBinding
		r.find(t, "RoleBinding "+namespace+"/"+fullname+"-leader-election-rolebinding").decode(t, &le)
		checkBinding(t, le.RoleRef, le.Subjects, "Role", fullname+"-leader-election-role", sa)
		var ma rbacv1.ClusterRoleBinding
		r.find(t, "ClusterRoleBinding "+fullname+"-metrics-auth-rolebinding").decode(t, &ma)
		checkBinding(t, ma.RoleRef, ma.Subjects, "ClusterRole", fullname+"-metrics-auth-role", sa)
	})

	t.Run("Deployment", func(t *testing.T) {
		var d appsv1.Deployment
		r.find(t, "Deployment "+namespace+"/"+manager).decode(t, &d)
		checkHardening(t, &d)
		pod := d.Spec.Template.Spec
		if pod.ServiceAccountName != sa.meta("name") {
			t.Errorf("serviceAccountName %q, want %q", pod.ServiceAccountName, sa.meta("name"))
		}
		c := pod.Containers[0]
		if c.Image != "ghcr.io/tokenoperator/arcgis-token-operator:v0.0.0-dev" || c.ImagePullPolicy != corev1.PullIfNotPresent {
			t.Errorf("image %s (%s), want ghcr.io/tokenoperator/arcgis-token-operator:v0.0.0-dev from appVersion", c.Image, c.ImagePullPolicy)
		}
		wantArgs := []string{
			"--leader-elect",
			"--health-probe-bind-address=:8081",
			"--metrics-bind-address=:8443",
			"--metrics-secure=true",
			"--max-concurrent-reconciles=8",
			"--arcgis-max-concurrent-per-host=8",
			"--arcgis-timeout=30s",
		}
		if !slices.Equal(c.Args, wantArgs) {
			t.Errorf("args %q, want %q", c.Args, wantArgs)
		}
		if *d.Spec.Replicas != 1 {
			t.Errorf("replicas %d, want 1", *d.Spec.Replicas)
		}
		for k, v := range d.Spec.Selector.MatchLabels {
			if d.Spec.Template.Labels[k] != v {
				t.Errorf("the pod template lacks the selector label %s=%s", k, v)
			}
		}
	})

	t.Run("metrics Service", func(t *testing.T) {
		var svc corev1.Service
		r.find(t, "Service "+namespace+"/"+metricsSvc).decode(t, &svc)
		var d appsv1.Deployment
		r.find(t, "Deployment "+namespace+"/"+manager).decode(t, &d)
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8443 || svc.Spec.Ports[0].Name != "https" ||
			svc.Spec.Ports[0].TargetPort.String() != "metrics" {
			t.Errorf("ports %+v, want https 8443 -> metrics", svc.Spec.Ports)
		}
		for k, v := range svc.Spec.Selector {
			if d.Spec.Template.Labels[k] != v {
				t.Errorf("the Service selects %s=%s, which the manager's pods lack", k, v)
			}
		}
		if !slices.ContainsFunc(d.Spec.Template.Spec.Containers[0].Ports, func(p corev1.ContainerPort) bool {
			return p.Name == "metrics" && p.ContainerPort == 8443
		}) {
			t.Errorf("the manager has no metrics port 8443")
		}
	})

	t.Run("namespaces", func(t *testing.T) {
		for _, o := range r.objects {
			switch o.kind() {
			case "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition":
				if o.meta("namespace") != "" {
					t.Errorf("%s is cluster-scoped but has a namespace", o.id())
				}
			default:
				if o.meta("namespace") != namespace {
					t.Errorf("%s is not in the release namespace", o.id())
				}
			}
		}
	})

	if !strings.Contains(r.notes, "rollout status deployment/"+manager) {
		t.Errorf("NOTES.txt:\n%s", r.notes)
	}
}

// checkBinding checks that a binding grants role to the chart's ServiceAccount.
func checkBinding(t *testing.T, ref rbacv1.RoleRef, subjects []rbacv1.Subject, kind, name string, sa object) {
	t.Helper()
	if ref.Kind != kind || ref.Name != name || ref.APIGroup != rbacv1.GroupName {
		t.Errorf("roleRef %+v, want %s %s", ref, kind, name)
	}
	want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.meta("name"), Namespace: sa.meta("namespace")}}
	if !reflect.DeepEqual(subjects, want) {
		t.Errorf("subjects %+v, want %+v", subjects, want)
	}
}

// checkHardening compares the Deployment's security settings, probes and
// resources with config/manager/manager.yaml's.
func checkHardening(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	var want appsv1.Deployment
	for _, doc := range strings.Split(string(readFile(t, filepath.Join(root, "config/manager/manager.yaml"))), "\n---\n") {
		if strings.Contains(doc, "kind: Deployment") {
			if err := yaml.UnmarshalStrict([]byte(doc), &want); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(want.Spec.Template.Spec.Containers) != 1 {
		t.Fatal("no manager Deployment in config/manager/manager.yaml")
	}
	pod, wantPod := d.Spec.Template.Spec, want.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want the manager only", len(pod.Containers))
	}
	c, wc := pod.Containers[0], wantPod.Containers[0]
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"pod securityContext", pod.SecurityContext, wantPod.SecurityContext},
		{"container securityContext", c.SecurityContext, wc.SecurityContext},
		{"livenessProbe", c.LivenessProbe, wc.LivenessProbe},
		{"readinessProbe", c.ReadinessProbe, wc.ReadinessProbe},
		{"resources", c.Resources, wc.Resources},
		{"command", c.Command, wc.Command},
		{"terminationGracePeriodSeconds", pod.TerminationGracePeriodSeconds, wantPod.TerminationGracePeriodSeconds},
		{"container name", c.Name, wc.Name},
		{"default-container annotation", d.Spec.Template.Annotations["kubectl.kubernetes.io/default-container"], "manager"},
	} {
		if !reflect.DeepEqual(f.got, f.want) {
			t.Errorf("%s = %s, want config/manager/manager.yaml's %s", f.name, toJSON(f.got), toJSON(f.want))
		}
	}
	// Spelled out, in case both ever lose them.
	sc, psc := c.SecurityContext, pod.SecurityContext
	if sc == nil || psc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 ||
		sc.Privileged != nil && *sc.Privileged ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("the manager is not hardened: pod %s, container %s", toJSON(psc), toJSON(sc))
	}
	if c.LivenessProbe == nil || c.ReadinessProbe == nil || c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
		t.Errorf("the manager lacks probes or resources")
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC || len(pod.Volumes) != 0 {
		t.Errorf("the manager uses host namespaces or volumes")
	}
}

// TestChartWatchNamespaces checks the namespace-scoped install: a Role and a
// RoleBinding with the manager's rules in each watched namespace, no
// ClusterRole for the manager, and the flag.
func TestChartWatchNamespaces(t *testing.T) {
	r := render(t, "watchNamespaces: [team-a, team-b]\n")
	var want []string
	for _, id := range defaultIDs {
		if !strings.HasSuffix(id, " "+fullname+"-manager-role") && !strings.HasSuffix(id, " "+fullname+"-manager-rolebinding") {
			want = append(want, id)
		}
	}
	for _, ns := range []string{"team-a", "team-b"} {
		want = append(want, "Role "+ns+"/"+fullname+"-manager-role", "RoleBinding "+ns+"/"+fullname+"-manager-rolebinding")
	}
	sort.Strings(want)
	if got := r.ids(); !slices.Equal(got, want) {
		t.Errorf("objects:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	sa := r.find(t, "ServiceAccount "+namespace+"/"+manager)
	rules := configRules(t, "rbac/role.yaml")
	for _, ns := range []string{"team-a", "team-b"} {
		if got := rulesOf(t, r.find(t, "Role "+ns+"/"+fullname+"-manager-role")); !reflect.DeepEqual(got, rules) {
			t.Errorf("Role in %s: rules\n%s\nwant config/rbac/role.yaml's\n%s", ns, toJSON(got), toJSON(rules))
		}
		var b rbacv1.RoleBinding
		r.find(t, "RoleBinding "+ns+"/"+fullname+"-manager-rolebinding").decode(t, &b)
		checkBinding(t, b.RoleRef, b.Subjects, "Role", fullname+"-manager-role", sa)
	}
	var d appsv1.Deployment
	r.find(t, "Deployment "+namespace+"/"+manager).decode(t, &d)
	if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--watch-namespaces=team-a,team-b") {
		t.Errorf("args %q lack --watch-namespaces=team-a,team-b", d.Spec.Template.Spec.Containers[0].Args)
	}
	if !strings.Contains(r.notes, "watching team-a, team-b") {
		t.Errorf("NOTES.txt does not name the watched namespaces:\n%s", r.notes)
	}
}

// TestChartServiceMonitor checks that the ServiceMonitor scrapes the metrics
// Service over HTTPS with the Prometheus ServiceAccount's token.
func TestChartServiceMonitor(t *testing.T) {
	r := render(t, "serviceMonitor:\n  enabled: true\n  labels:\n    release: prometheus\n")
	monitorID := "ServiceMonitor " + namespace + "/" + manager + "-metrics-monitor"
	want := append(slices.Clone(defaultIDs), monitorID)
	sort.Strings(want)
	if got := r.ids(); !slices.Equal(got, want) {
		t.Errorf("objects:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	sm := r.find(t, monitorID)
	if sm.fields["apiVersion"] != "monitoring.coreos.com/v1" {
		t.Errorf("apiVersion %v", sm.fields["apiVersion"])
	}
	var monitor struct {
		Metadata struct{ Labels map[string]string }
		Spec     struct {
			Endpoints []struct {
				Path, Port, Scheme, Interval, ScrapeTimeout, BearerTokenFile string
				HonorLabels                                                  bool
				TLSConfig                                                    map[string]any
			}
			Selector struct{ MatchLabels map[string]string }
		}
	}
	if err := yaml.Unmarshal(sm.raw, &monitor); err != nil {
		t.Fatal(err)
	}
	if monitor.Metadata.Labels["release"] != "prometheus" {
		t.Errorf("labels %v lack serviceMonitor.labels", monitor.Metadata.Labels)
	}
	if len(monitor.Spec.Endpoints) != 1 {
		t.Fatalf("endpoints %+v", monitor.Spec.Endpoints)
	}
	ep := monitor.Spec.Endpoints[0]
	if ep.Path != "/metrics" || ep.Port != "https" || ep.Scheme != "https" || ep.Interval != "30s" || ep.ScrapeTimeout != "10s" ||
		ep.BearerTokenFile == "" || ep.TLSConfig["insecureSkipVerify"] != true || !ep.HonorLabels {
		t.Errorf("endpoint %+v", ep)
	}
	var svc corev1.Service
	r.find(t, "Service "+namespace+"/"+metricsSvc).decode(t, &svc)
	for k, v := range monitor.Spec.Selector.MatchLabels {
		if svc.Labels[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%s, which the metrics Service lacks", k, v)
		}
	}
	if svc.Spec.Ports[0].Name != ep.Port {
		t.Errorf("the ServiceMonitor scrapes port %q, the Service has %q", ep.Port, svc.Spec.Ports[0].Name)
	}
}

// TestChartValues checks that values reach the manager's flags and decide
// which objects are installed.
func TestChartValues(t *testing.T) {
	t.Run("flags", func(t *testing.T) {
		r := render(t, `
image:
  repository: registry.example.com/arcgis-token-operator
  tag: v9.9.9
  pullPolicy: Always
replicas: 2
maxConcurrentReconciles: 3
arcgis:
  perHostLimit: 2
  timeout: 45s
metrics:
  port: 9443
extraArgs: ["--zap-log-level=debug", "--kube-api-qps=20"]
resources:
  limits: {memory: 512Mi}
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Exists}]
podLabels: {team: gis}
`)
		var d appsv1.Deployment
		r.find(t, "Deployment "+namespace+"/"+manager).decode(t, &d)
		c := d.Spec.Template.Spec.Containers[0]
		wantArgs := []string{
			"--leader-elect",
			"--health-probe-bind-address=:8081",
			"--metrics-bind-address=:9443",
			"--metrics-secure=true",
			"--max-concurrent-reconciles=3",
			"--arcgis-max-concurrent-per-host=2",
			"--arcgis-timeout=45s",
			"--zap-log-level=debug",
			"--kube-api-qps=20",
		}
		if !slices.Equal(c.Args, wantArgs) {
			t.Errorf("args %q, want %q", c.Args, wantArgs)
		}
		if c.Image != "registry.example.com/arcgis-token-operator:v9.9.9" || c.ImagePullPolicy != corev1.PullAlways {
			t.Errorf("image %s (%s)", c.Image, c.ImagePullPolicy)
		}
		if *d.Spec.Replicas != 2 {
			t.Errorf("replicas %d", *d.Spec.Replicas)
		}
		// Helm merges values into the defaults: the CPU limit and the requests stay.
		if c.Resources.Limits.Memory().String() != "512Mi" || c.Resources.Limits.Cpu().String() != "500m" ||
			c.Resources.Requests.Memory().String() != "64Mi" {
			t.Errorf("resources %s, want the default with a 512Mi memory limit", toJSON(c.Resources))
		}
		pod := d.Spec.Template.Spec
		if pod.NodeSelector["kubernetes.io/os"] != "linux" || len(pod.Tolerations) != 1 || d.Spec.Template.Labels["team"] != "gis" {
			t.Errorf("scheduling values not applied: %s", toJSON(pod))
		}
		var svc corev1.Service
		r.find(t, "Service "+namespace+"/"+metricsSvc).decode(t, &svc)
		if svc.Spec.Ports[0].Port != 9443 {
			t.Errorf("metrics Service port %d, want 9443", svc.Spec.Ports[0].Port)
		}
	})

	t.Run("image digest", func(t *testing.T) {
		r := render(t, "image:\n  digest: sha256:"+strings.Repeat("ab", 32)+"\n")
		var d appsv1.Deployment
		r.find(t, "Deployment "+namespace+"/"+manager).decode(t, &d)
		if got, want := d.Spec.Template.Spec.Containers[0].Image, "ghcr.io/tokenoperator/arcgis-token-operator@sha256:"+strings.Repeat("ab", 32); got != want {
			t.Errorf("image %s, want %s", got, want)
		}
	})

	t.Run("minimal install", func(t *testing.T) {
		r := render(t, `
leaderElection: {enabled: false}
metrics: {enabled: false}
rbac: {aggregateToDefaultRoles: false}
crds: {install: false}
serviceAccount: {create: false, name: existing}
`)
		want := []string{
			"ClusterRole " + fullname + "-manager-role",
			"ClusterRoleBinding " + fullname + "-manager-rolebinding",
			"Deployment " + namespace + "/" + manager,
		}
		if got := r.ids(); !slices.Equal(got, want) {
			t.Errorf("objects %v, want %v", got, want)
		}
		var d appsv1.Deployment
		r.find(t, "Deployment "+namespace+"/"+manager).decode(t, &d)
		c := d.Spec.Template.Spec.Containers[0]
		if slices.Contains(c.Args, "--leader-elect") || !slices.Contains(c.Args, "--metrics-bind-address=0") {
			t.Errorf("args %q: want no --leader-elect and metrics off", c.Args)
		}
		if d.Spec.Template.Spec.ServiceAccountName != "existing" {
			t.Errorf("serviceAccountName %q, want existing", d.Spec.Template.Spec.ServiceAccountName)
		}
		var b rbacv1.ClusterRoleBinding
		r.find(t, "ClusterRoleBinding "+fullname+"-manager-rolebinding").decode(t, &b)
		if b.Subjects[0].Name != "existing" {
			t.Errorf("the manager's binding names %q, want existing", b.Subjects[0].Name)
		}
	})

	t.Run("insecure metrics", func(t *testing.T) {
		r := render(t, "metrics: {secure: false}\nserviceMonitor: {enabled: true}\n")
		for _, id := range r.ids() {
			if strings.Contains(id, "metrics-auth") || strings.Contains(id, "metrics-reader") {
				t.Errorf("%s installed for plain HTTP metrics", id)
			}
		}
		var svc corev1.Service
		r.find(t, "Service "+namespace+"/"+metricsSvc).decode(t, &svc)
		if svc.Spec.Ports[0].Name != "http" {
			t.Errorf("port name %q, want http", svc.Spec.Ports[0].Name)
		}
		sm := string(r.find(t, "ServiceMonitor "+namespace+"/"+manager+"-metrics-monitor").raw)
		if !strings.Contains(sm, "scheme: http\n") || strings.Contains(sm, "bearerTokenFile") {
			t.Errorf("ServiceMonitor for plain HTTP:\n%s", sm)
		}
	})

	t.Run("CRD not kept", func(t *testing.T) {
		r := render(t, "crds: {keep: false}\n")
		crd := r.find(t, "CustomResourceDefinition "+crdName)
		if strings.Contains(string(crd.raw), "helm.sh/resource-policy") || strings.Contains(string(crd.raw), "argocd.argoproj.io") {
			t.Errorf("the CRD carries keep annotations with crds.keep false")
		}
	})

	for name, values := range map[string]string{
		"replicas without leader election": "replicas: 2\nleaderElection: {enabled: false}\n",
		"ServiceMonitor without metrics":   "metrics: {enabled: false}\nserviceMonitor: {enabled: true}\n",
		"PrometheusRule without metrics":   "metrics: {enabled: false}\nprometheusRule: {enabled: true}\n",
		"metrics on the probe port":        "metrics: {port: 8081}\n",
		"watchNamespaces as a string":      "watchNamespaces: team-a\n",
		"invalid namespace":                "watchNamespaces: [Team_A]\n",
		"timeout not a duration":           "arcgis: {timeout: soon}\n",
		"maxConcurrentReconciles zero":     "maxConcurrentReconciles: 0\n",
		"no ServiceAccount name":           "serviceAccount: {create: false}\n",
	} {
		t.Run("rejects "+name, func(t *testing.T) {
			_, err := renderErr(t, values)
			if err == nil {
				t.Fatalf("values %q rendered without an error", values)
			}
			t.Logf("rejected: %v", err)
		})
	}
}

// kustomizeIDs builds a kustomization with `kubectl kustomize` (the kubectl
// that `make envtest` builds, or $KUBECTL) and returns the ids of its objects.
func kustomizeIDs(t *testing.T, dir string) []string {
	t.Helper()
	kubectl := os.Getenv("KUBECTL")
	if kubectl == "" {
		kubectl = filepath.Join(root, "bin/k8s/kubectl")
	}
	if _, err := os.Stat(kubectl); err != nil {
		t.Fatalf("no kubectl to build %s with (%v): run make envtest, or set KUBECTL", dir, err)
	}
	out, err := exec.Command(kubectl, "kustomize", "--load-restrictor=LoadRestrictionsNone", dir).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr)
	}
	var ids []string
	for _, doc := range strings.Split(string(out), "\n---\n") {
		var fields map[string]any
		if err := yaml.Unmarshal([]byte(doc), &fields); err != nil {
			t.Fatal(err)
		}
		if len(fields) == 0 {
			continue
		}
		ids = append(ids, object{fields: fields}.id())
	}
	sort.Strings(ids)
	return ids
}

// TestChartNamesMatchKustomize installs the chart as the docs say
// (`helm install arcgis-token-operator dist/chart -n
// arcgis-token-operator-system`) and checks that every object has the kind,
// name and namespace that `kubectl apply -k config/default` gives it, so that
// the docs' commands, the RBAC examples and the alerts' job label hold for
// both. The chart creates no Namespace, config/default does. With the
// ServiceMonitor and the PrometheusRule, the comparison is with the overlay
// docs/metrics.md shows.
func TestChartNamesMatchKustomize(t *testing.T) {
	const (
		docsRelease   = "arcgis-token-operator"
		docsNamespace = "arcgis-token-operator-system"
	)
	monitoring := t.TempDir()
	abs, err := filepath.Abs(filepath.Join(root, "config"))
	if err != nil {
		t.Fatal(err)
	}
	// docs/metrics.md, "Without editing config/default".
	// Kustomize takes only relative paths to directories.
	rel, err := filepath.Rel(monitoring, filepath.Join(abs, "prometheus"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(monitoring, "kustomization.yaml"), []byte(
		"namespace: "+docsNamespace+"\nnamePrefix: arcgis-token-operator-\nresources:\n- "+rel+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		values string
		dirs   []string
	}{
		"defaults": {"", []string{filepath.Join(abs, "default")}},
		"with monitoring": {
			"serviceMonitor: {enabled: true}\nprometheusRule: {enabled: true}\n",
			[]string{filepath.Join(abs, "default"), monitoring},
		},
	} {
		t.Run(name, func(t *testing.T) {
			var want []string
			for _, dir := range tc.dirs {
				for _, id := range kustomizeIDs(t, dir) {
					if !strings.HasPrefix(id, "Namespace ") {
						want = append(want, id)
					}
				}
			}
			sort.Strings(want)
			r, err := renderRelease(t, docsRelease, docsNamespace, tc.values)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.ids(); !slices.Equal(got, want) {
				t.Errorf("the chart installs:\n  %s\nconfig/ installs:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

// TestChartPrometheusRule checks that the chart's PrometheusRule carries the
// alerts of config/prometheus, with the job label of the chart's own metrics
// Service (else ArcGISTokenOperatorDown fires for ever) and the release's
// namespace in its hint; for the release the docs install, it is
// config/prometheus's rule exactly.
func TestChartPrometheusRule(t *testing.T) {
	var source struct {
		Spec map[string]any `json:"spec"`
	}
	if err := yaml.Unmarshal(readFile(t, filepath.Join(root, "config/prometheus/prometheusrule.yaml")), &source); err != nil {
		t.Fatal(err)
	}
	spec := func(t *testing.T, r rendering, id string) (map[string]any, string) {
		t.Helper()
		o := r.find(t, id)
		if o.fields["apiVersion"] != "monitoring.coreos.com/v1" {
			t.Errorf("apiVersion %v", o.fields["apiVersion"])
		}
		s, _ := o.fields["spec"].(map[string]any)
		return s, string(o.raw)
	}

	t.Run("the docs' release", func(t *testing.T) {
		r, err := renderRelease(t, "arcgis-token-operator", "arcgis-token-operator-system", "prometheusRule: {enabled: true}\n")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := spec(t, r, "PrometheusRule arcgis-token-operator-system/arcgis-token-operator-alerts")
		if !reflect.DeepEqual(got, source.Spec) {
			t.Errorf("the rule differs from config/prometheus/prometheusrule.yaml:\n%s\nwant:\n%s", toJSON(got), toJSON(source.Spec))
		}
	})

	t.Run("another release", func(t *testing.T) {
		r := render(t, "prometheusRule:\n  enabled: true\n  labels:\n    release: prometheus\n")
		want := append(slices.Clone(defaultIDs), "PrometheusRule "+namespace+"/"+fullname+"-alerts")
		sort.Strings(want)
		if got := r.ids(); !slices.Equal(got, want) {
			t.Errorf("objects:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		o := r.find(t, "PrometheusRule "+namespace+"/"+fullname+"-alerts")
		if labels, _ := o.fields["metadata"].(map[string]any)["labels"].(map[string]any); labels["release"] != "prometheus" {
			t.Errorf("labels %v lack prometheusRule.labels", labels)
		}
		got, _ := spec(t, r, "PrometheusRule "+namespace+"/"+fullname+"-alerts")
		raw := strings.Join(stringsIn(got), "\n")
		job := `job="` + metricsSvc + `"`
		if !strings.Contains(raw, job) || strings.Contains(raw, `job="arcgis-token-operator-controller-manager-metrics-service"`) {
			t.Errorf("the rule does not scrape-check the chart's metrics Service (%s):\n%s", job, raw)
		}
		if !strings.Contains(raw, "kubectl -n "+namespace+" get pods") || strings.Contains(raw, "arcgis-token-operator-system") {
			t.Errorf("the rule's hint does not name the release namespace:\n%s", raw)
		}
		// Prometheus' own templates pass through Helm untouched.
		if !strings.Contains(raw, "{{ $labels.namespace }}/{{ $labels.name }}") {
			t.Errorf("Prometheus templates were altered:\n%s", raw)
		}
		// Apart from those two strings, the alerts are config/prometheus's.
		normalise := func(v any) string {
			s := toJSON(v)
			s = strings.ReplaceAll(s, metricsSvc, "SERVICE")
			s = strings.ReplaceAll(s, "arcgis-token-operator-controller-manager-metrics-service", "SERVICE")
			s = strings.ReplaceAll(s, "kubectl -n "+namespace+" get pods", "kubectl -n NS get pods")
			return strings.ReplaceAll(s, "kubectl -n arcgis-token-operator-system get pods", "kubectl -n NS get pods")
		}
		if normalise(got) != normalise(source.Spec) {
			t.Errorf("the rule differs from config/prometheus/prometheusrule.yaml beyond the job and namespace:\n%s", toJSON(got))
		}
		var svc corev1.Service
		r.find(t, "Service "+namespace+"/"+metricsSvc).decode(t, &svc)
	})
}

// stringsIn returns every string in a decoded YAML or JSON value.
func stringsIn(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case map[string]any:
		var out []string
		for _, e := range v {
			out = append(out, stringsIn(e)...)
		}
		return out
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, stringsIn(e)...)
		}
		return out
	}
	return nil
}

// TestChartValuesDocumented fails when a value of values.yaml has no "# --"
// comment: helm-docs (make docs) would list it in README.md without a word.
func TestChartValuesDocumented(t *testing.T) {
	readme := string(readFile(t, filepath.Join(chartDir, "README.md")))
	rows := 0
	for _, line := range strings.Split(readme, "\n") {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| ") || len(cells) < 4 || strings.HasPrefix(line, "| Key ") {
			continue
		}
		if _, known := map[string]bool{"string": true, "int": true, "bool": true, "list": true, "object": true}[cells[1]]; !known {
			continue
		}
		rows++
		if desc := strings.TrimSuffix(strings.TrimSpace(cells[len(cells)-1]), "|"); strings.TrimSpace(desc) == "" {
			t.Errorf("value %s has no description: add a \"# --\" comment in values.yaml and run make docs", strings.TrimPrefix(cells[0], "| "))
		}
	}
	if rows < 20 {
		t.Errorf("README.md's values table has %d rows: run make docs", rows)
	}
}
