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
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

// NodeName is the name the kubelet registers.
const NodeName = "arcgis-node"

// Node is a one-node cluster: the envtest control plane (kube-apiserver and
// etcd) with kube-controller-manager and kube-scheduler, and a node made of
// containerd and a kubelet, all under one temporary folder and one cgroup.
type Node struct {
	Dir        string // everything the node writes lives below it
	Cgroup     string // the kubelet's cgroup root, in every hierarchy
	Kubeconfig string // cluster admin
	PodLogs    string // the kubelet's pod log folder
	Env        *testenv.Env
	Client     kubernetes.Interface
	APIHost    string // the API server's loopback address and port
	APIPort    string

	logf     func(format string, args ...any)
	bins     Binaries
	socket   string
	procs    []*proc // in start order
	runSocks map[string]bool
}

// Binaries are the programs the node runs.
type Binaries struct {
	Kubelet, Scheduler, ControllerManager string
}

// shimSockets is where containerd 1.6 puts its shims' sockets whatever its
// state folder (fixed in containerd).
const shimSockets = "/run/containerd/s"

// StartNode starts the control plane and the node, and waits until the node
// is Ready. On error, what was started is stopped again.
func StartNode(ctx context.Context, bins Binaries, images []string, logf func(string, ...any)) (n *Node, err error) {
	if err := checkHost(); err != nil {
		return nil, err
	}
	cleanLeftovers(logf)
	dir, err := os.MkdirTemp("", "arcgis-node-")
	if err != nil {
		return nil, err
	}
	n = &Node{
		Dir:      dir,
		Cgroup:   "/" + filepath.Base(dir),
		PodLogs:  filepath.Join(dir, "pod-logs"),
		logf:     logf,
		bins:     bins,
		socket:   filepath.Join(dir, "containerd", "containerd.sock"),
		runSocks: listDir(shimSockets),
	}
	// The owner file lets a later run clean up after a run that was killed
	// before it could (SIGKILL, a timeout of go test).
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			n.Stop()
			n = nil
		}
	}()
	for _, d := range []string{"logs", "containerd", "kubelet", "pod-logs", "cni/conf", "cni/bin", "volume-plugins"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return n, err
		}
	}
	if err := n.startControlPlane(); err != nil {
		return n, err
	}
	if err := n.startContainerd(ctx, images); err != nil {
		return n, err
	}
	if err := n.startControllers(ctx); err != nil {
		return n, err
	}
	if err := n.startKubelet(ctx); err != nil {
		return n, err
	}
	return n, nil
}

func (n *Node) logDir() string { return filepath.Join(n.Dir, "logs") }

// startControlPlane starts kube-apiserver and etcd with the CRDs. Unlike the
// other suites' envtest, the ServiceAccount admission plugin is on, as in a
// real cluster: pods get their ServiceAccount's token mounted, and the manager
// authenticates with it.
func (n *Node) startControlPlane() error {
	assets, err := testenv.AssetsDir()
	if err != nil {
		return err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(testenv.RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	env.ControlPlane.GetAPIServer().Configure().Disable("disable-admission-plugins")
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	n.Env = &testenv.Env{Environment: env, Config: cfg}
	n.Kubeconfig = filepath.Join(n.Dir, "admin.kubeconfig")
	if err := n.Env.WriteKubeconfig(n.Kubeconfig); err != nil {
		return err
	}
	api := env.ControlPlane.APIServer.SecureServing
	n.APIHost, n.APIPort = api.Address, api.Port
	if err := os.WriteFile(filepath.Join(n.Dir, "ca.crt"), api.CA, 0o644); err != nil {
		return err
	}
	n.Client, err = kubernetes.NewForConfig(cfg)
	return err
}

// containerdConfig is containerd 1.6's configuration for the node: its own
// root, state, sockets and runc state under the node's folder, the CRI plugin
// with the overlayfs snapshotter, cgroupfs (the kubelet's driver), the pause
// image built here, and no registry mirrors (every image is imported).
const containerdConfig = `version = 2
root = "{{dir}}/containerd/root"
state = "{{dir}}/containerd/state"
temp = "{{dir}}/containerd/tmp"

[grpc]
  address = "{{dir}}/containerd/containerd.sock"
[ttrpc]
  address = "{{dir}}/containerd/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{{dir}}/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{{pause}}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # The kubelet asks for oom_score_adj -998 for pod sandboxes and -997 for
  # Guaranteed pods. Lowering a score needs CAP_SYS_RESOURCE, which root lacks
  # on these machines, and runc then fails ("failed to update
  # /proc/self/oom_score_adj: Permission denied", reported by the CRI as
  # "can't get final child's PID from pipe: EOF"). This clamps requests to
  # containerd's own score instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{{dir}}/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{{dir}}/cni/bin"
    conf_dir = "{{dir}}/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{{dir}}/containerd/certs.d"
`

// cniConfig is a network configuration that no pod uses. Every pod of the test
// runs in the host's network, which needs no CNI plugin; but containerd's CRI
// plugin reports NetworkReady=false ("cni plugin not initialized") until it has
// loaded a configuration, and the kubelet then keeps the node NotReady, so the
// scheduler places nothing on it. The plugin named here does not exist (bin_dir
// is empty): a pod outside the host network fails to start, saying so.
const cniConfig = `{
  "cniVersion": "1.0.0",
  "name": "host-network-only",
  "plugins": [{"type": "no-pod-network-use-hostNetwork"}]
}
`

func (n *Node) ctr(args ...string) (string, error) {
	return run("ctr", append([]string{"--address", n.socket, "--namespace", "k8s.io"}, args...)...)
}

func (n *Node) startContainerd(ctx context.Context, images []string) error {
	cfg := strings.NewReplacer("{{dir}}", n.Dir, "{{pause}}", PauseImage).Replace(containerdConfig)
	cfgPath := filepath.Join(n.Dir, "containerd", "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(n.Dir, "cni", "conf", "10-host-network-only.conflist"), []byte(cniConfig), 0o644); err != nil {
		return err
	}
	p, err := start(n.logDir(), "containerd", "containerd", "--config", cfgPath)
	if err != nil {
		return err
	}
	n.procs = append(n.procs, p)
	err = poll(ctx, "containerd answering on "+n.socket, 200*time.Millisecond, 30*time.Second, func() (bool, string, error) {
		if done, err := p.exited(); done {
			return false, "", fmt.Errorf("containerd exited: %v (see %s)", err, filepath.Join(n.logDir(), "containerd.log"))
		}
		_, err := n.ctr("version")
		if err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	})
	if err != nil {
		return err
	}
	for _, img := range images {
		out, err := n.ctr("images", "import", "--no-unpack=false", img)
		if err != nil {
			return fmt.Errorf("importing %s into containerd: %w", img, err)
		}
		n.logf("imported %s: %s", filepath.Base(img), strings.TrimSpace(out))
	}
	return nil
}

// startControllers starts kube-controller-manager (garbage collection,
// namespace deletion, Deployments and ReplicaSets, ServiceAccounts and the
// kube-root-ca.crt ConfigMap that ServiceAccount tokens are verified with) and
// kube-scheduler, both as cluster admins, without leader election and without
// serving (port 0), and waits for the default ServiceAccount and the CA.
func (n *Node) startControllers(ctx context.Context) error {
	certDir := n.Env.ControlPlane.APIServer.CertDir
	kcm, err := start(n.logDir(), "kube-controller-manager", n.bins.ControllerManager,
		"--kubeconfig="+n.Kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--use-service-account-credentials=false",
		"--root-ca-file="+filepath.Join(n.Dir, "ca.crt"),
		"--service-account-private-key-file="+filepath.Join(certDir, "sa-signer.key"),
		"--controllers=*",
		"--v=1",
	)
	if err != nil {
		return err
	}
	n.procs = append(n.procs, kcm)
	sched, err := start(n.logDir(), "kube-scheduler", n.bins.Scheduler,
		"--kubeconfig="+n.Kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--v=1",
	)
	if err != nil {
		return err
	}
	n.procs = append(n.procs, sched)
	return poll(ctx, "kube-controller-manager creating ServiceAccount default/default and ConfigMap default/kube-root-ca.crt", 250*time.Millisecond, 60*time.Second, func() (bool, string, error) {
		for _, p := range []*proc{kcm, sched} {
			if done, err := p.exited(); done {
				return false, "", fmt.Errorf("%s exited: %v (see %s)", p.name, err, filepath.Join(n.logDir(), p.name+".log"))
			}
		}
		if _, err := n.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return false, err.Error(), nil
		}
		if _, err := n.Client.CoreV1().ConfigMaps("default").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{}); err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	})
}

// kubeletConfig is the kubelet's configuration. What the host needs:
//   - failCgroupV1: false. The hosts run cgroup v1 (hybrid mode); since 1.35
//     the kubelet refuses to start there unless told otherwise.
//   - cgroupDriver cgroupfs, as containerd (SystemdCgroup = false); there is
//     no systemd. The cgroup root is the node's own cgroup, so removing it
//     removes everything the kubelet created.
//   - failSwapOn: false with swapBehavior NoSwap: a machine with swap must
//     not stop the test (pods get no swap either way).
//   - eviction thresholds low and image garbage collection off: a full shared
//     disk would otherwise taint the node and evict the imported images,
//     which cannot be pulled again.
//   - no static pods, no read-only port, healthz and the API on loopback on
//     free ports; authentication and authorization of the kubelet's own API
//     are off (only the test reaches it).
//
// The kubelet registers with a cluster admin's kubeconfig, not a node
// identity (bootstrap tokens, a client certificate for system:node:NAME and
// the Node authorizer): fine for a test node, never for a real one.
const kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: {{cgroup}}
cgroupsPerQOS: true
containerRuntimeEndpoint: unix://{{socket}}
imageServiceEndpoint: unix://{{socket}}
failSwapOn: false
memorySwap:
  swapBehavior: NoSwap
podLogsDir: {{dir}}/pod-logs
volumePluginDir: {{dir}}/volume-plugins
address: 127.0.0.1
port: {{port}}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: {{healthz}}
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
`

func (n *Node) startKubelet(ctx context.Context) error {
	if err := makeCgroup(n.Cgroup); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	healthz, err := freePort()
	if err != nil {
		return err
	}
	cfg := strings.NewReplacer("{{cgroup}}", n.Cgroup, "{{socket}}", n.socket, "{{dir}}", n.Dir,
		"{{port}}", itoa(port), "{{healthz}}", itoa(healthz)).Replace(kubeletConfig)
	cfgPath := filepath.Join(n.Dir, "kubelet", "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	p, err := start(n.logDir(), "kubelet", n.bins.Kubelet,
		"--config="+cfgPath,
		"--kubeconfig="+n.Kubeconfig,
		"--root-dir="+filepath.Join(n.Dir, "kubelet"),
		"--cert-dir="+filepath.Join(n.Dir, "kubelet", "pki"),
		"--hostname-override="+NodeName,
		"--v=2",
	)
	if err != nil {
		return err
	}
	n.procs = append(n.procs, p)
	return poll(ctx, "node "+NodeName+" Ready", 500*time.Millisecond, 2*time.Minute, func() (bool, string, error) {
		if done, err := p.exited(); done {
			return false, "", fmt.Errorf("kubelet exited: %v; its last lines:\n%s", err, tail(filepath.Join(n.logDir(), "kubelet.log"), 15))
		}
		node, err := n.Client.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, c.Reason + ": " + c.Message, nil
			}
		}
		return false, "no Ready condition yet", nil
	})
}

// Stop stops everything and removes what the node left: containers, shims,
// mounts, cgroups, log links and the folder. It is safe to call more than once
// and after a partial start. Problems are logged; anything left is reported
// as an error.
func (n *Node) Stop() error {
	var errs []error
	// The controllers and the scheduler first, then the kubelet, so that
	// nothing starts containers again while they are removed.
	for i := len(n.procs) - 1; i >= 0; i-- {
		if p := n.procs[i]; p.name != "containerd" {
			p.stop(15 * time.Second)
		}
	}
	if n.containerdRunning() {
		errs = append(errs, n.removeContainers())
	}
	for _, p := range n.procs {
		if p.name == "containerd" {
			p.stop(15 * time.Second)
		}
	}
	n.procs = nil
	if n.Cgroup != "" {
		errs = append(errs, killAll(cgroupPIDs(n.Cgroup)))
	}
	if n.Dir != "" {
		errs = append(errs, killAll(pidsMentioning(n.Dir)))
		errs = append(errs, unmountAll(n.Dir))
	}
	if n.Cgroup != "" {
		errs = append(errs, removeCgroup(n.Cgroup))
	}
	if n.Dir != "" {
		errs = append(errs, removeLogLinks(n.Dir))
		for s := range listDir(shimSockets) {
			if !n.runSocks[s] {
				// A shim killed above could not remove its socket.
				_ = os.Remove(filepath.Join(shimSockets, s))
			}
		}
	}
	if n.Env != nil {
		if err := n.Env.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping kube-apiserver and etcd: %w", err))
		}
		n.Env = nil
	}
	if n.Dir != "" {
		if err := os.RemoveAll(n.Dir); err != nil {
			errs = append(errs, err)
		}
		n.Dir = ""
	}
	return errors.Join(errs...)
}

func (n *Node) containerdRunning() bool {
	for _, p := range n.procs {
		if p.name == "containerd" {
			done, _ := p.exited()
			return !done
		}
	}
	return false
}

// removeContainers kills and deletes every task and container of the CRI
// namespace, so that the shims exit and remove their sockets and containerd
// unmounts the root filesystems.
func (n *Node) removeContainers() error {
	out, err := n.ctr("tasks", "list", "--quiet")
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range strings.Fields(out) {
		_, _ = n.ctr("tasks", "kill", "--signal", "SIGKILL", id)
	}
	for _, id := range strings.Fields(out) {
		var err error
		for range 50 {
			// The CRI plugin deletes the task of a container that exited by
			// itself: "not found" is done.
			if _, err = n.ctr("tasks", "delete", id); err == nil || strings.Contains(err.Error(), "not found") {
				err = nil
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	out, err = n.ctr("containers", "list", "--quiet")
	if err != nil {
		return err
	}
	for _, id := range strings.Fields(out) {
		if _, err := n.ctr("containers", "delete", id); err != nil && !strings.Contains(err.Error(), "not found") {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cleanLeftovers cleans up after earlier runs that were killed before they
// could: folders /tmp/arcgis-node-* whose owner process is gone.
func cleanLeftovers(logf func(string, ...any)) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "arcgis-node-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue
		}
		pid := strings.TrimSpace(string(b))
		if _, err := os.Stat(filepath.Join("/proc", pid)); err == nil {
			continue // still running
		}
		logf("cleaning up after an earlier run that did not finish: %s", dir)
		n := &Node{Dir: dir, Cgroup: "/" + filepath.Base(dir), runSocks: listDir(shimSockets)}
		if err := n.Stop(); err != nil {
			logf("cleaning up %s: %v", dir, err)
		}
	}
}

func listDir(dir string) map[string]bool {
	entries, _ := os.ReadDir(dir)
	m := map[string]bool{}
	for _, e := range entries {
		m[e.Name()] = true
	}
	return m
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
