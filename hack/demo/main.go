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

// Command demo runs the operator on an embedded default: a local control
// plane (the envtest binaries), the CRDs, and the manager, until Ctrl-C.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir, err := os.MkdirTemp("", "arcgis-token-operator-demo-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()

	fmt.Println("Starting a local control plane (kube-apiserver + etcd) with the ArcGISToken CRD installed...")
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()

	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		return err
	}

	manager := exec.CommandContext(ctx, filepath.Join(testenv.RepoRoot(), "bin", "manager"),
		"--kubeconfig", kubeconfig, "--health-probe-bind-address", "127.0.0.1:0")
	manager.Stdout, manager.Stderr = os.Stdout, os.Stderr
	if err := manager.Start(); err != nil {
		return fmt.Errorf("starting the manager (run `make build` first): %w", err)
	}
	fmt.Printf("\nThe manager is running. In another terminal:\n\n  KUBECONFIG=%s %s get arcgistokens -A\n\nCtrl-C stops everything.\n\n",
		kubeconfig, filepath.Join(testenv.RepoRoot(), "bin", "k8s", "kubectl"))
	<-ctx.Done()
	_ = manager.Wait()
	fmt.Println("\nStopped the manager and the control plane; removed", dir)
	return nil
}
