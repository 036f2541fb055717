//go:build image

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

// Package image boots the manager image that `make image` built, with runc,
// the way a kubelet would run it from config/default: as the image's user
// (65532), with a read-only root filesystem, no capabilities and
// no_new_privs, the kubeconfig mounted read-only. It must become healthy
// and ready, and issue a token from the ArcGIS simulator over HTTPS. A probe
// run inside the same container checks what the manager cannot show by
// working: the CA roots, the user's name, the read-only root, no shell.
//
// `make test-image` runs it as root (runc needs root here). Without root,
// runc or umoci the test fails and says which; it never skips.
//
// BOOT_TEST_BREAK=no-ca|root-user|writable-root|shell breaks the unpacked
// image on purpose, to show that the test catches each: it must then fail.
package image

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

const (
	imageUID = 65532
	imageGID = 65532
	// Where the kubeconfig is mounted, as a Secret volume would be.
	kubeconfigDir = "/var/run/arcgis-token-operator"
	probePath     = "/probe"
)

// started logs a step with the time since the test began, for the report.
type clock struct {
	t     *testing.T
	start time.Time
}

func (c clock) step(format string, args ...any) {
	c.t.Helper()
	c.t.Logf("[%5.1fs] %s", time.Since(c.start).Seconds(), fmt.Sprintf(format, args...))
}

func TestBootImage(t *testing.T) {
	clk := clock{t: t, start: time.Now()}
	requireRuntime(t)
	layoutDir := os.Getenv("IMAGE_LAYOUT")
	if layoutDir == "" {
		layoutDir = filepath.Join(testenv.RepoRoot(), "dist", "image", "oci")
	}
	if _, err := os.Stat(filepath.Join(layoutDir, "index.json")); err != nil {
		t.Fatalf("no image at %s (run make image; make test-image does): %v", layoutDir, err)
	}
	work := t.TempDir()

	// The image, unpacked into a runc bundle by umoci, for this machine's
	// platform (a runtime picks it from the index the same way).
	single := filepath.Join(work, "layout")
	digest := selectPlatform(t, layoutDir, single, runtime.GOARCH)
	bundle := filepath.Join(work, "bundle")
	run(t, "umoci", "unpack", "--image", single+":boot", bundle)
	clk.step("unpacked linux/%s %s with umoci", runtime.GOARCH, digest)

	spec := readSpec(t, bundle)
	user, _ := spec["process"].(map[string]any)["user"].(map[string]any)
	if uid, gid := user["uid"], user["gid"]; uid != float64(imageUID) || gid != float64(imageGID) {
		t.Fatalf("the image runs as %v:%v, want %d:%d (config.json from the image's USER)", uid, gid, imageUID, imageGID)
	}

	// The control plane, the simulator and what a user creates.
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	sim, err := arcgissim.New(arcgissim.Config{Users: map[string]string{"gisadmin": "a-long-password"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	clk.step("control plane and simulator (%s) up", sim.PortalURL())

	// The kubeconfig, readable by the image's group only, mounted read-only.
	secretDir := filepath.Join(work, "kubeconfig")
	if err := os.Mkdir(secretDir, 0o750); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(secretDir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{secretDir, kubeconfig} {
		if err := os.Chown(p, 0, imageGID); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(kubeconfig, 0o440); err != nil {
		t.Fatal(err)
	}
	probe := buildProbe(t, work)

	health, metrics := freePort(t), freePort(t)
	configure(t, spec, []string{
		"/manager",
		"--kubeconfig=" + kubeconfigDir + "/kubeconfig",
		"--leader-elect",
		"--leader-election-namespace=arcgis-token-operator-system",
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", health),
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metrics),
	}, []mount{
		{dest: kubeconfigDir, src: secretDir},
		{dest: probePath, src: probe},
	})
	breakOnPurpose(t, bundle, spec)
	writeSpec(t, bundle, spec)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := newClient(t, env)
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "arcgis-token-operator-system"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gis"}},
	} {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}

	ctr := startContainer(t, bundle, work)
	clk.step("runc run: container %s started", ctr.id)

	// Healthy and ready, as the kubelet's probes would see it.
	for _, path := range []string{"/healthz", "/readyz"} {
		waitHTTP(t, ctr, fmt.Sprintf("http://127.0.0.1:%d%s", health, path))
		clk.step("%s answers 200", path)
	}

	// What the image looks like from inside, as the manager's user.
	report := ctr.probe(t)
	clk.step("probe: %+v", report)
	if report.UID != imageUID || report.GID != imageGID || report.UserName != "nonroot" {
		t.Errorf("inside the container: uid %d gid %d user %q, want %d %d nonroot", report.UID, report.GID, report.UserName, imageUID, imageGID)
	}
	if report.SystemRoots < 100 {
		t.Errorf("inside the container crypto/x509 loads %d system roots (%s): the image's CA bundle is missing or broken", report.SystemRoots, report.SystemRootsErr)
	}
	if !report.RootReadOnly {
		t.Errorf("the root filesystem is writable (creating /probe-write-test: %q), want read-only", report.RootWriteErr)
	}
	if len(report.Shells) > 0 {
		t.Errorf("the image has a shell: %v", report.Shells)
	}

	// A token, as a user would ask for one: the ArcGIS CA from a ConfigMap.
	for _, obj := range []client.Object{
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "arcgis-ca", Namespace: "gis"},
			Data:       map[string]string{"ca.crt": string(sim.CAPEM())},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "portal-credentials", Namespace: "gis"},
			StringData: map[string]string{"username": "gisadmin", "password": "a-long-password"},
		},
		&arcgisv1alpha1.ArcGISToken{
			ObjectMeta: metav1.ObjectMeta{Name: "portal-token", Namespace: "gis"},
			Spec: arcgisv1alpha1.ArcGISTokenSpec{
				Type: arcgisv1alpha1.ServiceTypePortal, URL: sim.PortalURL(),
				CredentialsRef:    arcgisv1alpha1.CredentialsReference{Name: "portal-credentials"},
				Referer:           "https://maps.example.com",
				ExpirationMinutes: 60,
				CABundleRef:       &arcgisv1alpha1.CABundleReference{Name: "arcgis-ca"},
			},
		},
	} {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	tok := waitReady(t, ctx, c, ctr, client.ObjectKey{Namespace: "gis", Name: "portal-token"})
	clk.step("ArcGISToken gis/portal-token Ready (secret %s)", tok.Status.SecretName)
	var secret corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: "gis", Name: tok.Status.SecretName}, &secret); err != nil {
		t.Fatal(err)
	}
	if len(secret.Data["token"]) == 0 {
		t.Errorf("Secret %s has no token (keys: %v)", secret.Name, keys(secret.Data))
	}

	ctr.stop(t)
	clk.step("manager stopped on SIGTERM; container deleted")
	if logs := ctr.logs(); strings.Contains(logs, "read-only file system") || strings.Contains(logs, "permission denied") {
		t.Errorf("the manager's log reports a write or permission failure:\n%s", logs)
	}
}

// requireRuntime fails (never skips) when this machine cannot run the test.
func requireRuntime(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("the boot test needs root: runc creates namespaces and mounts (euid %d); run make test-image as root", os.Geteuid())
	}
	for _, tool := range []string{"runc", "umoci"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (%v): install Debian's package (apt-get install -y runc umoci; .ci/run does)", tool, err)
		}
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform,omitempty"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Manifests     []descriptor `json:"manifests"`
}

func blobPath(layout, digest string) string {
	algo, hex, _ := strings.Cut(digest, ":")
	return filepath.Join(layout, "blobs", algo, hex)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// selectPlatform writes a layout holding only the image for arch, tagged
// "boot", from the multi-platform layout src: umoci unpacks one manifest.
func selectPlatform(t *testing.T, src, dst, arch string) string {
	t.Helper()
	var top, idx index
	readJSON(t, filepath.Join(src, "index.json"), &top)
	if len(top.Manifests) != 1 {
		t.Fatalf("%s/index.json holds %d entries, want the one image index", src, len(top.Manifests))
	}
	readJSON(t, blobPath(src, top.Manifests[0].Digest), &idx)
	var img *descriptor
	for i, d := range idx.Manifests {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == arch {
			img = &idx.Manifests[i]
		}
	}
	if img == nil {
		t.Fatalf("the image index has no linux/%s image", arch)
	}
	var manifest struct {
		Config descriptor   `json:"config"`
		Layers []descriptor `json:"layers"`
	}
	readJSON(t, blobPath(src, img.Digest), &manifest)
	blobs := append([]descriptor{*img, manifest.Config}, manifest.Layers...)
	if err := os.MkdirAll(filepath.Join(dst, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		if err := os.Link(blobPath(src, b.Digest), blobPath(dst, b.Digest)); err != nil {
			data, rerr := os.ReadFile(blobPath(src, b.Digest))
			if rerr != nil {
				t.Fatal(rerr)
			}
			if err := os.WriteFile(blobPath(dst, b.Digest), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	one := *img
	one.Platform = nil
	one.Annotations = map[string]string{"org.opencontainers.image.ref.name": "boot"}
	out, _ := json.Marshal(index{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json", Manifests: []descriptor{one}})
	if err := os.WriteFile(filepath.Join(dst, "index.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return img.Digest
}

func readSpec(t *testing.T, bundle string) map[string]any {
	t.Helper()
	spec := map[string]any{}
	readJSON(t, filepath.Join(bundle, "config.json"), &spec)
	return spec
}

func writeSpec(t *testing.T, bundle string, spec map[string]any) {
	t.Helper()
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

type mount struct{ dest, src string }

// configure turns umoci's runtime spec into what config/default asks of a
// kubelet: the manager's arguments, a read-only root, no capabilities,
// no_new_privs, the host's network (the API server and the simulator listen
// on its loopback), and read-only bind mounts.
func configure(t *testing.T, spec map[string]any, args []string, mounts []mount) {
	t.Helper()
	proc := spec["process"].(map[string]any)
	proc["args"] = args
	proc["terminal"] = false
	proc["noNewPrivileges"] = true
	proc["capabilities"] = map[string]any{"bounding": []string{}, "effective": []string{}, "permitted": []string{}, "inheritable": []string{}, "ambient": []string{}}
	spec["root"].(map[string]any)["readonly"] = true

	linux := spec["linux"].(map[string]any)
	var namespaces []any
	for _, ns := range linux["namespaces"].([]any) {
		if ns.(map[string]any)["type"] != "network" {
			namespaces = append(namespaces, ns)
		}
	}
	linux["namespaces"] = namespaces

	list, _ := spec["mounts"].([]any)
	for _, m := range mounts {
		list = append(list, map[string]any{
			"destination": m.dest, "type": "bind", "source": m.src,
			"options": []string{"rbind", "ro", "nosuid", "nodev"},
		})
	}
	spec["mounts"] = list
}

// breakOnPurpose applies BOOT_TEST_BREAK, to show that the test fails on an
// image or a runtime setup that would fail in a cluster.
func breakOnPurpose(t *testing.T, bundle string, spec map[string]any) {
	t.Helper()
	what := os.Getenv("BOOT_TEST_BREAK")
	if what == "" {
		return
	}
	t.Logf("BOOT_TEST_BREAK=%s: breaking the image on purpose; this test must fail", what)
	rootfs := filepath.Join(bundle, "rootfs")
	switch what {
	case "no-ca":
		if err := os.Remove(filepath.Join(rootfs, "etc/ssl/certs/ca-certificates.crt")); err != nil {
			t.Fatal(err)
		}
	case "root-user":
		user := spec["process"].(map[string]any)["user"].(map[string]any)
		user["uid"], user["gid"] = 0, 0
	case "writable-root":
		spec["root"].(map[string]any)["readonly"] = false
	case "shell":
		if err := os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rootfs, "bin/sh"), []byte("#!/x\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("BOOT_TEST_BREAK=%s: want no-ca, root-user, writable-root or shell", what)
	}
}

func buildProbe(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "probe")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./probe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the probe: %v\n%s", err, b)
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

func newClient(t *testing.T, env *testenv.Env) client.Client {
	t.Helper()
	scheme := clientgoscheme.Scheme
	if err := arcgisv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// container is the manager running under runc, in the foreground of a runc
// process of ours, with runc's state in a folder of its own.
type container struct {
	id, root, bundle string
	cmd              *exec.Cmd
	out              *lockedBuffer
	exited           chan struct{}
	waitErr          error
	pid              int // the manager's, on the host
}

func startContainer(t *testing.T, bundle, work string) *container {
	t.Helper()
	c := &container{
		id:     fmt.Sprintf("arcgis-token-operator-boot-%d", os.Getpid()),
		root:   filepath.Join(work, "runc"),
		bundle: bundle,
		out:    &lockedBuffer{},
		exited: make(chan struct{}),
	}
	c.cmd = exec.Command("runc", "--root", c.root, "run", "--bundle", bundle, c.id)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("runc run: %v", err)
	}
	go func() { c.waitErr = c.cmd.Wait(); close(c.exited) }()
	// Registered after the control plane's Stop, so it runs before it.
	t.Cleanup(func() { c.cleanup(t) })
	deadline := time.Now().Add(30 * time.Second)
	for c.pid == 0 && time.Now().Before(deadline) {
		c.failIfExited(t)
		var state struct {
			Pid    int    `json:"pid"`
			Status string `json:"status"`
		}
		if out, err := exec.Command("runc", "--root", c.root, "state", c.id).Output(); err == nil &&
			json.Unmarshal(out, &state) == nil && state.Status == "running" {
			c.pid = state.Pid
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if c.pid == 0 {
		t.Fatalf("runc state %s: the container is not running after 30 s:\n%s", c.id, c.logs())
	}
	return c
}

func (c *container) logs() string { return c.out.String() }

func (c *container) running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// failIfExited stops the test when the manager has exited, with its log.
func (c *container) failIfExited(t *testing.T) {
	t.Helper()
	if !c.running() {
		t.Fatalf("the container exited (%v); runc and the manager said:\n%s", c.waitErr, c.logs())
	}
}

func (c *container) probe(t *testing.T) probeReport {
	t.Helper()
	c.failIfExited(t)
	out, err := exec.Command("runc", "--root", c.root, "exec", c.id, probePath).Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("runc exec %s %s: %v\n%s%s", c.id, probePath, err, out, stderr)
	}
	var r probeReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("probe output %q: %v", out, err)
	}
	return r
}

// stop sends SIGTERM, as a kubelet would, and expects the manager to exit
// within the Deployment's grace period (10 s).
func (c *container) stop(t *testing.T) {
	t.Helper()
	c.failIfExited(t)
	if out, err := exec.Command("runc", "--root", c.root, "kill", c.id, "TERM").CombinedOutput(); err != nil {
		t.Fatalf("runc kill %s TERM: %v\n%s", c.id, err, out)
	}
	select {
	case <-c.exited:
		if c.waitErr != nil {
			t.Errorf("the manager exited on SIGTERM with %v; its log:\n%s", c.waitErr, c.logs())
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the manager did not exit within 10 s of SIGTERM")
	}
	c.cleanup(t)
}

// cleanup kills and deletes the container, and fails the test when it
// leaves a process, a mount or runc state behind. It runs on every path.
func (c *container) cleanup(t *testing.T) {
	t.Helper()
	if c.running() {
		_ = exec.Command("runc", "--root", c.root, "kill", c.id, "KILL").Run()
		select {
		case <-c.exited:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	}
	if out, err := exec.Command("runc", "--root", c.root, "delete", "--force", c.id).CombinedOutput(); err != nil &&
		!strings.Contains(string(out), "does not exist") {
		t.Errorf("runc delete %s: %v\n%s", c.id, err, out)
	}
	if out, _ := exec.Command("runc", "--root", c.root, "list", "-q").Output(); strings.TrimSpace(string(out)) != "" {
		t.Errorf("runc still lists containers: %s", out)
	}
	if mounts, err := os.ReadFile("/proc/self/mountinfo"); err == nil && strings.Contains(string(mounts), c.bundle) {
		t.Errorf("mounts under %s are left behind:\n%s", c.bundle, grepLines(string(mounts), c.bundle))
	}
	if c.pid != 0 {
		if err := syscall.Kill(c.pid, 0); err == nil {
			t.Errorf("the manager (pid %d) is still running", c.pid)
		}
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/pids", c.id)); err == nil {
		t.Errorf("the container's cgroup /sys/fs/cgroup/pids/%s is left behind", c.id)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

type probeReport struct {
	UID, GID       int
	UserName       string
	SystemRoots    int
	SystemRootsErr string
	RootWriteErr   string
	RootReadOnly   bool
	Shells         []string
}

func waitHTTP(t *testing.T, c *container, url string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		c.failIfExited(t)
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%s: %s", resp.Status, body)
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 within 60 s (last: %s); the manager's log:\n%s", url, last, c.logs())
}

func waitReady(t *testing.T, ctx context.Context, c client.Client, ctr *container, key client.ObjectKey) *arcgisv1alpha1.ArcGISToken {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	tok := &arcgisv1alpha1.ArcGISToken{}
	for time.Now().Before(deadline) {
		ctr.failIfExited(t)
		if err := c.Get(ctx, key, tok); err == nil {
			if cond := meta.FindStatusCondition(tok.Status.Conditions, arcgisv1alpha1.ConditionReady); cond != nil &&
				cond.Status == metav1.ConditionTrue {
				return tok
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("ArcGISToken %s not Ready within 90 s: %+v; the manager's log:\n%s", key, tok.Status.Conditions, ctr.logs())
	return nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// lockedBuffer collects runc's and the manager's output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
