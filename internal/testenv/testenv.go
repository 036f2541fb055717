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

// Package testenv starts a real control plane (kube-apiserver and etcd, built
// by `make envtest` into bin/k8s) with the project's CRDs installed, for the
// integration tests, the end-to-end tests, the demo and the benchmark.
package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
)

// RepoRoot is the root of the source tree, found from this file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// AssetsDir returns the folder holding kube-apiserver, etcd and kubectl:
// $KUBEBUILDER_ASSETS when set, else bin/k8s in the source tree.
func AssetsDir() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), "bin", "k8s")
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("envtest binary %s not found in %s: run `make envtest` first", name, dir)
		}
	}
	return dir, nil
}

// Env is a running control plane.
type Env struct {
	*envtest.Environment
	Config *rest.Config

	adminOnce       sync.Once
	adminKubeconfig []byte
	adminErr        error
}

// Start starts kube-apiserver and etcd and installs the CRDs from
// config/crd/bases. Call Stop when done.
func Start() (*Env, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	if len(env.CRDs) == 0 {
		_ = env.Stop()
		return nil, errors.New("no CRD was installed from config/crd/bases")
	}
	return &Env{Environment: env, Config: cfg}, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error { return e.Environment.Stop() }

// ArcGISTokenGVR is the resource the CRD serves.
var ArcGISTokenGVR = schema.GroupVersionResource{
	Group:    arcgisv1alpha1.GroupVersion.Group,
	Version:  arcgisv1alpha1.GroupVersion.Version,
	Resource: "arcgistokens",
}

// WriteKubeconfig writes a kubeconfig for a cluster admin of this control
// plane to path, for kubectl and for processes such as a separately run manager.
func (e *Env) WriteKubeconfig(path string) error {
	e.adminOnce.Do(func() {
		user, err := e.ControlPlane.AddUser(envtest.User{Name: "envtest-admin", Groups: []string{"system:masters"}}, nil)
		if err != nil {
			e.adminErr = err
			return
		}
		e.adminKubeconfig, e.adminErr = user.KubeConfig()
	})
	if e.adminErr != nil {
		return e.adminErr
	}
	return os.WriteFile(path, e.adminKubeconfig, 0o600)
}

// Kubectl runs the kubectl from the assets folder as a cluster admin, with
// stdin as its standard input (may be nil), and returns stdout and stderr.
func (e *Env) Kubectl(stdin io.Reader, args ...string) (string, string, error) {
	assets, err := AssetsDir()
	if err != nil {
		return "", "", err
	}
	dir, err := os.MkdirTemp("", "testenv-kubectl-")
	if err != nil {
		return "", "", err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := e.WriteKubeconfig(kubeconfig); err != nil {
		return "", "", err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(assets, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = stdin
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err = cmd.Run()
	return stdout.String(), stderr.String(), err
}
