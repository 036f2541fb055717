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

// Command demo runs the operator on an embedded default, on one machine and
// without a cluster or an ArcGIS: a local control plane (the envtest
// binaries), the ArcGIS simulator over HTTPS, the CRDs, a namespace with
// credentials and a CA bundle, four ArcGISTokens (a portal token, a federated
// server token, an OAuth app token, and one with a wrong password), and the
// manager. It then shows, live, what a user wants to see: each token's state,
// expiry and renewal, the Secret's keys (the token masked), a rotation within
// the first two minutes, and the failing token's condition. Ctrl-C stops
// everything it started and removes its temporary files.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

// Demo accounts. They exist only in the simulator this program starts.
const (
	demoUser     = "gisadmin"
	demoPassword = "demo-password-4-sim-only"
	demoAppID    = "demoApp0001"
	demoAppKey   = "demo-app-secret-4-sim-only"
	// The API key credentials item gisadmin owns.
	demoKeyItem   = "dea1a11ce0ffee000000000000000001"
	demoKeyClient = "demoKeys0001"
	demoKeySecret = "demo-key-app-secret-4-sim-only"
)

type options struct {
	duration      time.Duration
	untilRotation bool
	plain         bool
	refresh       time.Duration
	lifetime      int
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 0, "Stop after this long (0: run until Ctrl-C).")
	flag.BoolVar(&o.untilRotation, "until-rotation", false, "Stop once a token was rotated and the failing token reported its failure.")
	flag.BoolVar(&o.plain, "plain", false, "Print snapshots one after the other instead of redrawing the screen.")
	flag.DurationVar(&o.refresh, "refresh", 2*time.Second, "How often the view is refreshed.")
	flag.IntVar(&o.lifetime, "lifetime-minutes", 2, "The most the simulated portal and server grant, so that rotations come quickly.")
	flag.Parse()
	if !term.IsTerminal(int(os.Stdout.Fd())) {
		o.plain = true
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}

	dir, err := os.MkdirTemp("", "arcgis-token-operator-demo-")
	if err != nil {
		return err
	}
	defer func() {
		_ = os.RemoveAll(dir)
		fmt.Println("Removed", dir)
	}()

	step("Starting a local control plane (kube-apiserver + etcd) with the ArcGISToken CRD")
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	defer func() {
		_ = env.Stop()
		fmt.Println("Stopped the control plane")
	}()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		return err
	}

	step(fmt.Sprintf("Starting the ArcGIS simulator over HTTPS (tokens live at most %d minutes)", o.lifetime))
	sim, err := arcgissim.New(arcgissim.Config{
		Users:                map[string]string{demoUser: demoPassword},
		Apps:                 map[string]string{demoAppID: demoAppKey},
		PortalDefaultMinutes: o.lifetime,
		PortalMaxMinutes:     o.lifetime,
		ServerShortMinutes:   o.lifetime,
		ServerLongMinutes:    o.lifetime,
		APIKeys: []arcgissim.APIKeyItem{{
			ItemID: demoKeyItem, Owner: demoUser, Title: "Demo API key credentials",
			ClientID: demoKeyClient, ClientSecret: demoKeySecret,
		}},
	})
	if err != nil {
		return err
	}
	if err := sim.Start(); err != nil {
		return err
	}
	defer func() {
		_ = sim.Close()
		fmt.Println("Stopped the ArcGIS simulator")
	}()
	fmt.Printf("    portal  %s\n    server  %s\n", sim.PortalURL(), sim.ServerURL())

	step("Creating namespace " + namespace + ": credentials, the simulator's CA, and five ArcGISTokens")
	c, err := newClient(env)
	if err != nil {
		return err
	}
	if err := createObjects(ctx, c, sim, o.lifetime); err != nil {
		return err
	}

	step("Starting the manager")
	logPath := filepath.Join(dir, "manager.log")
	manager, err := startManager(kubeconfig, logPath)
	if err != nil {
		return err
	}
	defer func() {
		manager.stop()
		fmt.Println("Stopped the manager")
	}()

	kubectl := filepath.Join(testenv.RepoRoot(), "bin", "k8s", "kubectl")
	fmt.Printf("\nIn another terminal:\n\n    export KUBECONFIG=%s\n    %s get arcgistokens -A\n\nThe manager's log: %s\nCtrl-C stops everything.\n\n",
		kubeconfig, kubectl, logPath)
	if !o.plain {
		time.Sleep(3 * time.Second)
	}

	v := newView(c, os.Stdout, o.plain)
	err = v.loop(ctx, o.refresh, o.untilRotation, manager)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		err = nil
	}
	fmt.Println()
	return err
}

func step(s string) { fmt.Println("==>", s) }

// managerProcess is the manager running as a child process.
type managerProcess struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it exited
	err  error
}

func (m *managerProcess) stop() {
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(15 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

// startManager runs bin/manager against the local control plane, with its
// log in a file so that the terminal shows the live view.
func startManager(kubeconfig, logPath string) (*managerProcess, error) {
	bin := filepath.Join(testenv.RepoRoot(), "bin", "manager")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s not found: run `make build` (make demo does)", bin)
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--kubeconfig", kubeconfig,
		"--metrics-bind-address", "127.0.0.1:0",
		"--metrics-secure=false",
		"--health-probe-bind-address", "127.0.0.1:0",
		"--zap-devel",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group: Ctrl-C reaches the demo, which stops the manager
	// in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, err
	}
	m := &managerProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		m.err = cmd.Wait()
		_ = logFile.Close()
		close(m.done)
	}()
	return m, nil
}
