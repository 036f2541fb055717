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

package testenv

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DefaultControllers are the kube-controller-manager controllers a test
// control plane needs to behave like a cluster for our objects: the garbage
// collector (owner references), the namespace controller (namespace
// deletion), and the ServiceAccounts with their tokens.
var DefaultControllers = []string{
	"garbage-collector-controller",
	"namespace-controller",
	"serviceaccount-controller",
	"serviceaccount-token-controller",
}

// ControllerManager is a kube-controller-manager (built by `make envtest`
// into bin/k8s) running against an Env's API server.
type ControllerManager struct {
	cmd     *exec.Cmd
	dir     string
	logPath string
	done    chan struct{}
	waitErr error
}

// StartControllerManager starts kube-controller-manager with controllers
// (DefaultControllers when none are given) and waits until it is healthy.
// It signs ServiceAccount tokens with the API server's service-account key.
// Call Stop when done, before stopping the Env.
func (e *Env) StartControllerManager(controllers ...string) (*ControllerManager, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(assets, "kube-controller-manager")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("kube-controller-manager not found in %s: run `make envtest` first", assets)
	}
	if len(controllers) == 0 {
		controllers = DefaultControllers
	}
	certDir := e.ControlPlane.APIServer.CertDir
	if certDir == "" {
		return nil, errors.New("the API server has no certificate folder: start the Env first")
	}
	dir, err := os.MkdirTemp("", "testenv-kcm-")
	if err != nil {
		return nil, err
	}
	m := &ControllerManager{dir: dir, logPath: filepath.Join(dir, "kube-controller-manager.log"), done: make(chan struct{})}
	fail := func(err error) (*ControllerManager, error) {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := e.WriteKubeconfig(kubeconfig); err != nil {
		return fail(err)
	}
	rootCA := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(rootCA, e.Config.CAData, 0o600); err != nil {
		return fail(err)
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	logFile, err := os.Create(m.logPath)
	if err != nil {
		return fail(err)
	}
	defer func() { _ = logFile.Close() }()

	m.cmd = exec.Command(bin,
		"--kubeconfig="+kubeconfig,
		"--controllers="+strings.Join(controllers, ","),
		"--leader-elect=false",
		"--service-account-private-key-file="+filepath.Join(certDir, "sa-signer.key"),
		"--root-ca-file="+rootCA,
		"--use-service-account-credentials=false",
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir="+filepath.Join(dir, "serving"),
	)
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	// Its own process group, so that a test's Ctrl-C reaches us first and
	// Stop decides how it ends.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		return fail(fmt.Errorf("starting kube-controller-manager: %w", err))
	}
	go func() { m.waitErr = m.cmd.Wait(); close(m.done) }()

	if err := m.waitHealthy(fmt.Sprintf("https://127.0.0.1:%d/healthz", port), time.Minute); err != nil {
		_ = m.Stop()
		return nil, err
	}
	return m, nil
}

func (m *ControllerManager) waitHealthy(url string, timeout time.Duration) error {
	// Its serving certificate is self-signed, made at start in cert-dir.
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a local health check
	}}
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case <-m.done:
			return fmt.Errorf("kube-controller-manager exited (%v):\n%s", m.waitErr, m.Log())
		default:
		}
		resp, err := c.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("kube-controller-manager not healthy within %s (last: %s):\n%s", timeout, last, m.Log())
}

// Log returns what kube-controller-manager has logged so far.
func (m *ControllerManager) Log() string {
	b, _ := os.ReadFile(m.logPath)
	return string(b)
}

// Stop stops kube-controller-manager (SIGTERM, then SIGKILL after 10 s) and
// removes its files.
func (m *ControllerManager) Stop() error {
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	return os.RemoveAll(m.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}
