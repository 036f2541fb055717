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

package node

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
)

// buildImages builds the pause and consumer images as docker-archive
// tarballs in work, and returns their paths with the manager image's from
// `make image` (imageDir/manager-ARCH.tar) and the manager's reference.
func buildImages(here, work, imageDir string) ([]string, string, error) {
	type spec struct {
		ref, pkg, bin string
	}
	var tars []string
	for _, s := range []spec{{PauseImage, "./images/pause", "pause"}, {ConsumerImage, "./images/consumer", "consumer"}} {
		bin, err := goBinary(here, s.pkg, filepath.Join(work, s.bin))
		if err != nil {
			return nil, "", err
		}
		files := append(passwd(), imageFile{path: "/" + s.bin, mode: 0o755, data: bin})
		tar := filepath.Join(work, s.bin+".tar")
		if err := writeImage(tar, s.ref, files, []string{"/" + s.bin}); err != nil {
			return nil, "", fmt.Errorf("writing image %s: %w", s.ref, err)
		}
		tars = append(tars, tar)
	}
	manager := filepath.Join(imageDir, "manager-"+runtime.GOARCH+".tar")
	ref, err := archiveTag(manager)
	if err != nil {
		return nil, "", fmt.Errorf("the manager image from make image: %w", err)
	}
	return append(tars, manager), ref, nil
}

// archiveTag returns the tag a docker archive names in its manifest.json.
func archiveTag(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			return "", fmt.Errorf("%s: no manifest.json: %w", path, err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var m []struct{ RepoTags []string }
		if err := json.NewDecoder(tr).Decode(&m); err != nil {
			return "", fmt.Errorf("%s: manifest.json: %w", path, err)
		}
		if len(m) != 1 || len(m[0].RepoTags) != 1 {
			return "", fmt.Errorf("%s: want one image with one tag, got %+v", path, m)
		}
		return m[0].RepoTags[0], nil
	}
}

// writeOverlay writes a kustomization over config/default, as a user would to
// deploy it, and returns its folder. What it changes, all because the node has
// no pod network (no CNI) and no registry:
//   - the image's tag: the one `make image` built and the test imported (its
//     name is the published one's; the pull policy IfNotPresent finds it);
//   - hostNetwork: true on the manager's pod, and KUBERNETES_SERVICE_HOST/PORT
//     set to the API server's loopback address (the kubernetes Service's
//     ClusterIP would need kube-proxy);
//   - the probe and metrics ports: free ones, since in the host's network
//     8081 and 8443 may be taken by other programs;
//   - the operator namespace's Pod Security label: enforce privileged (host
//     network is not allowed by restricted), warn restricted. checkRestricted
//     checks the unchanged template against restricted instead.
//
// drop ("GROUP/RESOURCE:VERB", e.g. "apps/deployments:patch", "" for the core
// group: "/secrets:create") removes one verb from the manager's ClusterRole,
// to show that a missing permission fails the test.
func writeOverlay(k kubectl, repo, work, image, apiHost, apiPort, drop string) (string, error) {
	rendered, err := k.run(nil, "kustomize", filepath.Join(repo, "config", "default"))
	if err != nil {
		return "", err
	}
	var args []string
	var role *rbacv1.ClusterRole
	for _, doc := range strings.Split(rendered, "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			return "", err
		}
		switch meta.Kind {
		case "Deployment":
			var d appsv1.Deployment
			if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
				return "", err
			}
			args = d.Spec.Template.Spec.Containers[0].Args
		case "ClusterRole":
			var r rbacv1.ClusterRole
			if err := yaml.Unmarshal([]byte(doc), &r); err != nil {
				return "", err
			}
			if r.Name == managerRole {
				role = &r
			}
		}
	}
	if args == nil || role == nil {
		return "", fmt.Errorf("kubectl kustomize config/default has no manager Deployment or ClusterRole %s", managerRole)
	}
	probe, err := freePort()
	if err != nil {
		return "", err
	}
	metrics, err := freePort()
	if err != nil {
		return "", err
	}
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "--health-probe-bind-address="):
			args[i] = fmt.Sprintf("--health-probe-bind-address=:%d", probe)
		case strings.HasPrefix(a, "--metrics-bind-address="):
			args[i] = fmt.Sprintf("--metrics-bind-address=:%d", metrics)
		}
	}
	argsJSON, err := yaml.Marshal(args)
	if err != nil {
		return "", err
	}
	i := strings.LastIndex(image, ":")
	name, tag := image[:i], image[i+1:]
	base, err := filepath.Rel(filepath.Join(work, "overlay"), filepath.Join(repo, "config", "default"))
	if err != nil {
		return "", err
	}
	kust := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- %s
images:
- name: %s
  newName: %s
  newTag: %s
patches:
- target: {kind: Namespace, name: %s}
  patch: |-
    - {op: replace, path: /metadata/labels/pod-security.kubernetes.io~1enforce, value: privileged}
    - {op: add, path: /metadata/labels/pod-security.kubernetes.io~1warn, value: restricted}
- target: {kind: Deployment, name: %s}
  patch: |-
    - {op: add, path: /spec/template/spec/hostNetwork, value: true}
    - op: add
      path: /spec/template/spec/containers/0/env
      value:
      - {name: KUBERNETES_SERVICE_HOST, value: "%s"}
      - {name: KUBERNETES_SERVICE_PORT, value: "%s"}
    - op: replace
      path: /spec/template/spec/containers/0/args
      value:
%s
    - {op: replace, path: /spec/template/spec/containers/0/ports, value: [{name: metrics, containerPort: %d, protocol: TCP}]}
    - {op: replace, path: /spec/template/spec/containers/0/livenessProbe/httpGet/port, value: %d}
    - {op: replace, path: /spec/template/spec/containers/0/readinessProbe/httpGet/port, value: %d}
`, base, upstreamImage, name, tag, systemNamespace, managerName, apiHost, apiPort,
		indent(string(argsJSON), "      "), metrics, probe, probe)

	if drop != "" {
		patch, err := dropVerb(role, drop)
		if err != nil {
			return "", err
		}
		kust += fmt.Sprintf("- target: {kind: ClusterRole, name: %s}\n  patch: |-\n    %s\n", managerRole, patch)
	}
	dir := filepath.Join(work, "overlay")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kust), 0o644)
}

// dropVerb returns a JSON patch removing one verb ("GROUP/RESOURCE:VERB")
// from the rule of role that grants it.
func dropVerb(role *rbacv1.ClusterRole, drop string) (string, error) {
	gr, verb, ok := strings.Cut(drop, ":")
	group, resource, ok2 := strings.Cut(gr, "/")
	if !ok || !ok2 {
		return "", fmt.Errorf("NODE_RBAC_DROP=%q: want GROUP/RESOURCE:VERB, e.g. apps/deployments:patch", drop)
	}
	for i, r := range role.Rules {
		if !contains(r.APIGroups, group) || !contains(r.Resources, resource) {
			continue
		}
		for j, v := range r.Verbs {
			if v == verb {
				if len(r.Verbs) == 1 {
					// A rule without verbs is invalid: the rule goes.
					return fmt.Sprintf("- {op: remove, path: /rules/%d}", i), nil
				}
				return fmt.Sprintf("- {op: remove, path: /rules/%d/verbs/%d}", i, j), nil
			}
		}
	}
	return "", fmt.Errorf("NODE_RBAC_DROP=%q: ClusterRole %s grants no such verb", drop, role.Name)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}

// appObjects is what the GIS team applies: the simulator's CA, the
// credentials and an ArcGISToken for 2-minute portal tokens that restarts the
// env-var consumer after each rotation.
func appObjects(sim *arcgissim.Simulator) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: arcgis-ca
  namespace: %[1]s
data:
  ca.crt: |
%[2]s
---
apiVersion: v1
kind: Secret
metadata:
  name: portal-credentials
  namespace: %[1]s
stringData:
  username: %[3]s
  password: %[4]s
---
apiVersion: arcgis.tokenoperator.dev/v1alpha1
kind: ArcGISToken
metadata:
  name: %[5]s
  namespace: %[1]s
spec:
  type: Portal
  url: %[6]s
  credentialsRef:
    name: portal-credentials
  referer: https://maps.example.com
  expirationMinutes: 2
  caBundleRef:
    name: arcgis-ca
  rolloutRestartTargets:
  - kind: Deployment
    name: %[7]s
`, appNamespace, indent(string(sim.CAPEM()), "    "), simUser, simPassword, tokenName, sim.PortalURL(), envConsumer)
}

// consumerObjects are the two consumers, in the host's network (the node has
// no pod network): one mounts the Secret and re-reads the file, one reads the
// token from an environment variable.
func consumerObjects() string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  namespace: %[3]s
spec:
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      hostNetwork: true
      terminationGracePeriodSeconds: 1
      containers:
      - name: consumer
        image: %[4]s
        args: [-dir, /var/run/arcgis]
        volumeMounts:
        - {name: arcgis-token, mountPath: /var/run/arcgis, readOnly: true}
        securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
      volumes:
      - name: arcgis-token
        secret:
          secretName: %[5]s
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[2]s
  namespace: %[3]s
spec:
  selector:
    matchLabels: {app: %[2]s}
  template:
    metadata:
      labels: {app: %[2]s}
    spec:
      hostNetwork: true
      terminationGracePeriodSeconds: 1
      containers:
      - name: consumer
        image: %[4]s
        args: [-env]
        env:
        - name: ARCGIS_TOKEN
          valueFrom: {secretKeyRef: {name: %[5]s, key: token}}
        - name: ARCGIS_EXPIRES
          valueFrom: {secretKeyRef: {name: %[5]s, key: expires}}
        securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
`, fileConsumer, envConsumer, appNamespace, ConsumerImage, tokenName)
}
