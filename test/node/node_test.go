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
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

// What `kubectl apply -k config/default` creates.
const (
	systemNamespace = "arcgis-token-operator-system"
	managerName     = "arcgis-token-operator-controller-manager"
	managerRole     = "arcgis-token-operator-manager-role"
	upstreamImage   = "ghcr.io/tokenoperator/arcgis-token-operator"
)

// The application side of the scenario.
const (
	appNamespace = "gis-apps"
	tokenName    = "portal-token"
	fileConsumer = "file-consumer" // mounts the Secret, re-reads the file
	envConsumer  = "env-consumer"  // reads the token from an environment variable
	simUser      = "gis-robot"
	simPassword  = "node-test-password" // the simulator's, never a real one
)

// maxMountDelay bounds how long after a Secret changes its mounted files do:
// the kubelet's pod resync of 60 to 90 s, its one-second work queue, the
// consumer's half-second polling, and a few seconds of slack for a busy host.
const maxMountDelay = 95 * time.Second

// TestNode deploys the operator as a user would, on a real node, and follows
// a token from issue through rotation to garbage collection. See doc.go for
// what it runs and what it changes on a node without a pod network.
func TestNode(t *testing.T) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 25*time.Minute)
	defer cancel()
	began := time.Now()
	step := func(format string, args ...any) {
		t.Logf("[%5.1fs] %s", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
	}

	repo := testenv.RepoRoot()
	here := filepath.Join(repo, "test", "node")
	work := t.TempDir()

	step("building the pause and consumer images")
	imageDir := os.Getenv("IMAGE_DIR")
	if imageDir == "" {
		imageDir = filepath.Join(repo, "dist", "image")
	}
	images, managerRef, err := buildImages(here, work, imageDir)
	if err != nil {
		t.Fatal(err)
	}

	step("starting kube-apiserver, etcd, kube-controller-manager, kube-scheduler, containerd and the kubelet")
	nodeAssets := os.Getenv("NODE_ASSETS")
	if nodeAssets == "" {
		nodeAssets = filepath.Join(repo, "bin", "node")
	}
	bins := Binaries{
		Kubelet:           filepath.Join(nodeAssets, "kubelet"),
		Scheduler:         filepath.Join(nodeAssets, "kube-scheduler"),
		ControllerManager: filepath.Join(testenvAssets(t), "kube-controller-manager"),
	}
	for _, b := range []string{bins.Kubelet, bins.Scheduler, bins.ControllerManager} {
		if _, err := os.Stat(b); err != nil {
			t.Fatalf("%v: run `make envtest node-binaries` first", err)
		}
	}
	n, err := StartNode(ctx, bins, images, step)
	if n != nil {
		t.Cleanup(func() {
			step("stopping everything and cleaning up")
			if err := n.Stop(); err != nil {
				t.Errorf("clean-up: %v", err)
			}
			step("stopped")
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	step("node %s is Ready (logs in %s)", NodeName, n.logDir())
	failed := true
	t.Cleanup(func() {
		if failed || t.Failed() {
			dumpLogs(t, n)
		}
	})

	sim, err := arcgissim.New(arcgissim.Config{
		Users:                map[string]string{simUser: simPassword},
		PortalDefaultMinutes: 2,
		PortalMaxMinutes:     2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	step("ArcGIS simulator on the host at %s (tokens live 2 minutes)", sim.PortalURL())

	k := kubectl{path: filepath.Join(testenvAssets(t), "kubectl"), kubeconfig: n.Kubeconfig}

	step("kubectl apply -k (config/default with the image built here, host network, the API server's loopback address)")
	overlay, err := writeOverlay(k, repo, work, managerRef, n.APIHost, n.APIPort, os.Getenv("NODE_RBAC_DROP"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := k.run(nil, "apply", "--server-side", "-k", overlay); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("%s", out)
	}
	if err := checkRestricted(ctx, k, repo); err != nil {
		t.Fatal(err)
	}
	step("the manager's unchanged pod template passes the restricted Pod Security Standard (server-side dry run)")

	manager, err := waitReady(ctx, n, systemNamespace, "control-plane=controller-manager", 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if manager.Spec.ServiceAccountName != "arcgis-token-operator-controller-manager" {
		t.Fatalf("manager pod runs as ServiceAccount %q", manager.Spec.ServiceAccountName)
	}
	if err := checkManagerProcess(n, manager); err != nil {
		t.Fatal(err)
	}
	step("manager pod %s Ready under ServiceAccount %s, as uid 65532 with a read-only root", manager.Name, manager.Spec.ServiceAccountName)

	step("creating namespace %s: credentials, the simulator's CA, ArcGISToken %s (2-minute tokens)", appNamespace, tokenName)
	if _, err := k.run(strings.NewReader(appObjects(sim)), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	first, err := waitSecretToken(ctx, n, "", 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	step("Secret %s holds token %s (expires %s)", tokenName, first.fp, first.expires)

	if _, err := k.run(strings.NewReader(consumerObjects()), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	filePod, err := waitReady(ctx, n, appNamespace, "app="+fileConsumer, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	envPod, err := waitReady(ctx, n, appNamespace, "app="+envConsumer, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*corev1.Pod{filePod, envPod} {
		if _, err := waitLogLine(ctx, n, p, func(text string) bool { return fpOf(text) == first.fp }, time.Time{}, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	step("both consumers print token %s", first.fp)
	// Early too, so that a missing permission fails in seconds, not after
	// the rotations.
	if err := checkManagerLog(n, manager); err != nil {
		t.Fatal(err)
	}

	// The Secret's tokens in the order it held them, each with the time the
	// test first saw it (polled every 100 ms).
	hist := watchTokens(ctx, n, first)
	const fileChanges = 2 // measured changes of the mounted file
	shown := 0            // the index in hist of the token the mounted file shows
	envShown := 0         // the index in hist of the token the env-var consumer prints
	var delays []time.Duration
	for i := 1; len(delays) < fileChanges; i++ {
		step("waiting for rotation %d (renewal when a third of the 2 minutes is left)", i)
		rot, err := hist.wait(ctx, i, 3*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		step("rotation %d: Secret now holds %s (expires %s); the old token is valid until %s", i, rot.fp, rot.expires, hist.get(i-1).expires)

		// The env-var consumer first: its restart comes about 11 s after a
		// rotation, the file's change up to 90 s after it, by when the next
		// rotation may have restarted the consumer again. A restart may still
		// carry a later token (this loop came late); then it is measured from
		// that token's write.
		if envShown < i {
			newEnv, err := waitNewPod(ctx, n, envPod, 2*time.Minute)
			if err != nil {
				t.Fatal(fmt.Errorf("rolloutRestartTargets did not restart %s: %w", envConsumer, err))
			}
			envLine, err := waitLogLine(ctx, n, newEnv, func(text string) bool { return hist.index(fpOf(text)) > envShown }, time.Time{}, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			k := hist.index(fpOf(envLine.text))
			if k > envShown+1 {
				step("the env-var consumer's new pod already has a later token: the restart for token %s was not seen", hist.get(envShown+1).fp)
			}
			step("MEASURED: the env-var consumer was restarted by rolloutRestartTargets: pod %s prints %s, %.1fs after the Secret changed",
				newEnv.Name, hist.get(k).fp, envLine.at.Sub(hist.get(k).seen).Seconds())
			envPod, envShown = newEnv, k
		}

		// The file is stale from the moment the Secret stopped holding the
		// token it shows (token shown+1 was written) until it shows a later
		// one. That later one may not be the next: when the kubelet's delay
		// is longer than the time to the next rotation, the file goes
		// straight to a later token. The bound holds either way, measured
		// from the change the file missed, not from the token it went to.
		if shown < i {
			changed := hist.get(shown + 1)
			line, err := waitLogLine(ctx, n, filePod, func(text string) bool {
				return strings.Contains(text, "event=changed") && hist.index(fpOf(text)) > shown
			}, changed.seen.Add(-time.Second), maxMountDelay+30*time.Second)
			if err != nil {
				t.Fatal(fmt.Errorf("the mounted file still showed token %s, which the Secret stopped holding at %s: %w",
					hist.get(shown).fp, changed.seen.Format(time.RFC3339), err))
			}
			k, delay, err := checkFileUpdate(hist, shown, line)
			delays = append(delays, delay)
			if err != nil {
				t.Fatal(err)
			}
			if k > shown+1 {
				step("the mounted file skipped %d token(s): the kubelet took longer than the time to the next rotation", k-shown-1)
			}
			oldExpiry, _ := time.Parse(time.RFC3339, hist.get(shown).expires)
			step("MEASURED: the mounted file showed token %s %.1fs after the Secret changed (the token it showed before was then still valid for %.0fs)",
				hist.get(k).fp, delay.Seconds(), oldExpiry.Sub(line.at).Seconds())
			shown = k
		}
		same, err := n.Client.CoreV1().Pods(appNamespace).Get(ctx, filePod.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if same.UID != filePod.UID || restarts(same) != 0 {
			t.Fatalf("the file consumer was restarted (uid %s → %s, %d restarts); it should pick up the file in place", filePod.UID, same.UID, restarts(same))
		}
	}
	if lines, err := podLog(n, filePod); err != nil {
		t.Fatal(err)
	} else if err := checkInOrder(lines, hist, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}

	if err := checkManagerLog(n, manager); err != nil {
		t.Fatal(err)
	}

	step("deleting ArcGISToken %s: the garbage collector deletes its Secret", tokenName)
	if _, err := k.run(nil, "-n", appNamespace, "delete", "arcgistoken", tokenName); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, "Secret "+tokenName+" garbage-collected", 250*time.Millisecond, time.Minute, func() (bool, string, error) {
		_, err := n.Client.CoreV1().Secrets(appNamespace).Get(ctx, tokenName, metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err), nil
	}); err != nil {
		t.Fatal(err)
	}
	step("Secret %s is gone", tokenName)

	step("deleting namespace %s", appNamespace)
	if _, err := k.run(nil, "delete", "namespace", appNamespace, "--wait=false"); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, "namespace "+appNamespace+" deleted", time.Second, 3*time.Minute, func() (bool, string, error) {
		ns, err := n.Client.CoreV1().Namespaces().Get(ctx, appNamespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, err.Error(), nil
		}
		return false, fmt.Sprintf("phase %s, conditions %v", ns.Status.Phase, ns.Status.Conditions), nil
	}); err != nil {
		t.Fatal(err)
	}
	step("namespace %s is gone", appNamespace)
	if err := checkManagerLog(n, manager); err != nil {
		t.Fatal(err)
	}

	var parts []string
	for _, d := range delays {
		parts = append(parts, fmt.Sprintf("%.1fs", d.Seconds()))
	}
	step("SUMMARY mounted-file delay after a rotation: %s", strings.Join(parts, ", "))
	failed = false
}

func testenvAssets(t *testing.T) string {
	dir, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// kubectl runs the envtest kubectl as a cluster admin.
type kubectl struct{ path, kubeconfig string }

func (k kubectl) run(stdin *strings.Reader, args ...string) (string, error) {
	cmd := exec.Command(k.path, append([]string{"--kubeconfig", k.kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// tokenState is what the token Secret held when the test saw it.
type tokenState struct {
	fp, expires string
	seen        time.Time // when the test saw this token in the Secret
}

func fingerprint(token []byte) string {
	sum := sha256.Sum256(token)
	return hex.EncodeToString(sum[:6])
}

// waitSecretToken polls the token Secret (every 100 ms, so that the time it
// is seen is the time it was written to within about that) until it holds a
// token other than notFP.
func waitSecretToken(ctx context.Context, n *Node, notFP string, timeout time.Duration) (tokenState, error) {
	var st tokenState
	err := poll(ctx, "a new token in Secret "+tokenName, 100*time.Millisecond, timeout, func() (bool, string, error) {
		s, err := n.Client.CoreV1().Secrets(appNamespace).Get(ctx, tokenName, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		tok := s.Data["token"]
		if len(tok) == 0 {
			return false, "no token key", nil
		}
		if fp := fingerprint(tok); fp != notFP {
			st = tokenState{fp: fp, expires: string(s.Data["expires"]), seen: time.Now()}
			return true, "", nil
		}
		return false, "still " + notFP, nil
	})
	return st, err
}

// waitReady waits for one Ready pod matching selector.
func waitReady(ctx context.Context, n *Node, ns, selector string, timeout time.Duration) (*corev1.Pod, error) {
	var ready *corev1.Pod
	err := poll(ctx, "a Ready pod "+selector+" in "+ns, 500*time.Millisecond, timeout, func() (bool, string, error) {
		pods, err := n.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err.Error(), nil
		}
		var notes []string
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.DeletionTimestamp == nil && isReady(p) {
				ready = p
				return true, "", nil
			}
			notes = append(notes, podNote(p))
		}
		return false, strings.Join(notes, "; "), nil
	})
	return ready, err
}

// waitNewPod waits for a Ready pod of old's workload other than old, and for
// old to be gone.
func waitNewPod(ctx context.Context, n *Node, old *corev1.Pod, timeout time.Duration) (*corev1.Pod, error) {
	var fresh *corev1.Pod
	err := poll(ctx, "a new pod replacing "+old.Name, 500*time.Millisecond, timeout, func() (bool, string, error) {
		pods, err := n.Client.CoreV1().Pods(old.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + old.Labels["app"]})
		if err != nil {
			return false, err.Error(), nil
		}
		var notes []string
		oldGone := true
		fresh = nil
		for i := range pods.Items {
			p := &pods.Items[i]
			switch {
			case p.UID == old.UID:
				oldGone = false
				notes = append(notes, "old "+podNote(p))
			case p.DeletionTimestamp == nil && isReady(p):
				fresh = p
			default:
				notes = append(notes, podNote(p))
			}
		}
		return fresh != nil && oldGone, strings.Join(notes, "; "), nil
	})
	return fresh, err
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func restarts(p *corev1.Pod) int32 {
	var r int32
	for _, c := range p.Status.ContainerStatuses {
		r += c.RestartCount
	}
	return r
}

func podNote(p *corev1.Pod) string {
	note := p.Name + " " + string(p.Status.Phase)
	for _, c := range p.Status.ContainerStatuses {
		if w := c.State.Waiting; w != nil {
			note += " " + w.Reason + ": " + w.Message
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			note += " " + string(c.Type) + ": " + c.Message
		}
	}
	return note
}

// logLine is a consumer's line with the time the consumer wrote in it.
type logLine struct {
	at   time.Time
	text string
}

// podLog reads the first container's log file from the kubelet's pod log
// folder (<ns>_<pod>_<uid>/<container>/<restarts>.log, CRI format). Reading
// the file on the node needs neither the kubelet's API nor its credentials.
func podLog(n *Node, p *corev1.Pod) ([]logLine, error) {
	files, err := filepath.Glob(filepath.Join(n.PodLogs, fmt.Sprintf("%s_%s_%s", p.Namespace, p.Name, p.UID), "*", "*.log"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no log file for pod %s yet", p.Name)
	}
	var out []logLine
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		s := bufio.NewScanner(fh)
		for s.Scan() {
			// TIMESTAMP STREAM TAG MESSAGE
			fields := strings.SplitN(s.Text(), " ", 4)
			if len(fields) < 4 {
				continue
			}
			l := logLine{text: fields[3]}
			l.at, _ = time.Parse(time.RFC3339Nano, fields[0])
			if at, ok := strings.CutPrefix(fields[3], "at="); ok {
				if t, err := time.Parse(time.RFC3339Nano, strings.Fields(at)[0]); err == nil {
					l.at = t
				}
			}
			out = append(out, l)
		}
		_ = fh.Close()
	}
	return out, nil
}

// waitLogLine waits for a line of pod's log that match accepts, written
// after since.
func waitLogLine(ctx context.Context, n *Node, p *corev1.Pod, match func(string) bool, since time.Time, timeout time.Duration) (logLine, error) {
	var found logLine
	err := poll(ctx, "pod "+p.Name+" printing the expected token", 250*time.Millisecond, timeout, func() (bool, string, error) {
		lines, err := podLog(n, p)
		if err != nil {
			return false, err.Error(), nil
		}
		for _, l := range lines {
			if match(l.text) && !l.at.Before(since) {
				found = l
				return true, "", nil
			}
		}
		if len(lines) > 0 {
			return false, "last line: " + lines[len(lines)-1].text, nil
		}
		return false, "no line yet", nil
	})
	return found, err
}

// fpOf returns the fp= field of a consumer's line.
func fpOf(text string) string {
	for _, f := range strings.Fields(text) {
		if v, ok := strings.CutPrefix(f, "fp="); ok {
			return v
		}
	}
	return ""
}

// tokenHistory is every token the Secret held, in order.
type tokenHistory struct {
	mu     sync.Mutex
	tokens []tokenState
}

// watchTokens polls the token Secret every 100 ms until ctx ends, so that
// the time a token is first seen is the time it was written to within about
// that.
func watchTokens(ctx context.Context, n *Node, first tokenState) *tokenHistory {
	h := &tokenHistory{tokens: []tokenState{first}}
	go func() {
		for ctx.Err() == nil {
			if s, err := n.Client.CoreV1().Secrets(appNamespace).Get(ctx, tokenName, metav1.GetOptions{}); err == nil && len(s.Data["token"]) > 0 {
				fp := fingerprint(s.Data["token"])
				h.mu.Lock()
				if h.tokens[len(h.tokens)-1].fp != fp {
					h.tokens = append(h.tokens, tokenState{fp: fp, expires: string(s.Data["expires"]), seen: time.Now()})
				}
				h.mu.Unlock()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return h
}

func (h *tokenHistory) get(i int) tokenState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tokens[i]
}

// index returns the position of the token with fingerprint fp, or -1.
func (h *tokenHistory) index(fp string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, t := range h.tokens {
		if t.fp == fp {
			return i
		}
	}
	return -1
}

// wait waits until the Secret has held token i (0 is the first).
func (h *tokenHistory) wait(ctx context.Context, i int, timeout time.Duration) (tokenState, error) {
	err := poll(ctx, fmt.Sprintf("rotation %d of the token in Secret %s", i, tokenName), 100*time.Millisecond, timeout, func() (bool, string, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.tokens) > i, "", nil
	})
	if err != nil {
		return tokenState{}, err
	}
	return h.get(i), nil
}

// checkManagerLog fails on any request the API server refused the manager: a
// permission missing from the RBAC we ship.
func checkManagerLog(n *Node, manager *corev1.Pod) error {
	lines, err := podLog(n, manager)
	if err != nil {
		return err
	}
	var bad []string
	for _, l := range lines {
		if strings.Contains(l.text, "forbidden") || strings.Contains(l.text, "Forbidden") {
			bad = append(bad, l.text)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("the manager was refused requests (a permission missing from config/rbac?):\n%s", strings.Join(bad, "\n"))
	}
	return nil
}

// checkManagerProcess checks, on the node, that the manager's process runs as
// uid 65532 with a read-only root filesystem.
func checkManagerProcess(n *Node, pod *corev1.Pod) error {
	if len(pod.Status.ContainerStatuses) == 0 {
		return fmt.Errorf("pod %s has no container status", pod.Name)
	}
	id := strings.TrimPrefix(pod.Status.ContainerStatuses[0].ContainerID, "containerd://")
	out, err := n.ctr("tasks", "list")
	if err != nil {
		return err
	}
	var pid string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == id {
			pid = f[1]
		}
	}
	if pid == "" {
		return fmt.Errorf("no containerd task for container %s:\n%s", id, out)
	}
	status, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "Uid:" && f[1] != "65532" {
			return fmt.Errorf("the manager runs as uid %s, want 65532", f[1])
		}
	}
	mounts, err := os.ReadFile(filepath.Join("/proc", pid, "mounts"))
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(l); len(f) >= 4 && f[1] == "/" {
			if !strings.HasPrefix(f[3], "ro,") && f[3] != "ro" {
				return fmt.Errorf("the manager's root filesystem is mounted %s, want read-only", f[3])
			}
			return nil
		}
	}
	return fmt.Errorf("no root mount in /proc/%s/mounts", pid)
}

// checkRestricted creates, as a server-side dry run, a pod from the manager's
// pod template exactly as config/default ships it in a namespace that enforces
// the restricted Pod Security Standard. The test runs the manager in the host
// network, which that standard forbids, so it relaxes the standard on the
// operator's namespace; this check keeps the shipped template honest.
func checkRestricted(ctx context.Context, k kubectl, repo string) error {
	out, err := k.run(nil, "kustomize", filepath.Join(repo, "config", "default"))
	if err != nil {
		return err
	}
	var tmpl *corev1.PodTemplateSpec
	for _, doc := range strings.Split(out, "\n---\n") {
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err == nil && d.Kind == "Deployment" && d.Name == managerName {
			tmpl = &d.Spec.Template
		}
	}
	if tmpl == nil {
		return fmt.Errorf("no Deployment %s in kubectl kustomize config/default", managerName)
	}
	ns := "psa-restricted-check"
	if _, err := k.run(nil, "create", "namespace", ns); err != nil {
		return err
	}
	if _, err := k.run(nil, "label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted"); err != nil {
		return err
	}
	pod := corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "manager-template", Namespace: ns},
		Spec:       tmpl.Spec,
	}
	pod.Spec.ServiceAccountName = "default"
	b, err := json.Marshal(pod)
	if err != nil {
		return err
	}
	if _, err := k.run(strings.NewReader(string(b)), "create", "--dry-run=server", "-f", "-"); err != nil {
		return fmt.Errorf("the manager's pod template from config/default is refused under the restricted Pod Security Standard: %w", err)
	}
	_, err = k.run(nil, "delete", "namespace", ns, "--wait=false")
	return err
}

// dumpLogs prints the ends of the node's logs, for a failed run.
func dumpLogs(t *testing.T, n *Node) {
	if n == nil || n.Dir == "" {
		return
	}
	for _, name := range []string{"kubelet", "containerd", "kube-controller-manager", "kube-scheduler"} {
		t.Logf("--- last lines of %s.log:\n%s", name, tail(filepath.Join(n.logDir(), name+".log"), 25))
	}
	logs, _ := filepath.Glob(filepath.Join(n.PodLogs, "*", "*", "*.log"))
	for _, l := range logs {
		t.Logf("--- last lines of pod log %s:\n%s", strings.TrimPrefix(l, n.PodLogs+"/"), tail(l, 15))
	}
}

// checkInOrder checks that the mounted file only ever showed tokens the
// Secret held, in the order it held them: never an older token again after a
// newer one. Lines after recent are left out: they may show a token the
// history has not polled yet.
func checkInOrder(lines []logLine, hist *tokenHistory, recent time.Time) error {
	last := 0
	for _, l := range lines {
		fp := fpOf(l.text)
		if fp == "" || l.at.After(recent) {
			continue
		}
		k := hist.index(fp)
		switch {
		case k < 0:
			return fmt.Errorf("the mounted file showed a token the Secret never held: %s", l.text)
		case k < last:
			return fmt.Errorf("the mounted file went back from token %s to the older %s: %s", hist.get(last).fp, fp, l.text)
		}
		last = k
	}
	return nil
}

// checkFileUpdate checks the line in which the mounted file first showed a
// token newer than hist's token shown: it must come at most maxMountDelay
// after the Secret stopped holding token shown, and show a token that has not
// expired. It returns the new token's index and that delay.
func checkFileUpdate(hist *tokenHistory, shown int, line logLine) (int, time.Duration, error) {
	k := hist.index(fpOf(line.text))
	if k <= shown {
		return k, 0, fmt.Errorf("the mounted file showed no newer token than %s: %s", hist.get(shown).fp, line.text)
	}
	// Measured from the change the file missed (token shown+1), also when
	// it then went straight to a later token.
	delay := line.at.Sub(hist.get(shown + 1).seen)
	// The kubelet rewrites a pod's Secret volumes when it syncs the pod: on an
	// update of the pod, or every syncFrequency (1 min) plus up to half of it
	// in jitter.
	if delay > maxMountDelay {
		return k, delay, fmt.Errorf("the mounted file showed a token newer than %s only %.1fs after the Secret changed; docs/consuming.md says at most %s",
			hist.get(shown).fp, delay.Seconds(), maxMountDelay)
	}
	tok := hist.get(k)
	if exp, err := time.Parse(time.RFC3339, tok.expires); err != nil || !exp.After(line.at) {
		return k, delay, fmt.Errorf("the mounted file showed token %s, expiring %q, at %s: not a valid token", tok.fp, tok.expires, line.at.Format(time.RFC3339))
	}
	return k, delay, nil
}
