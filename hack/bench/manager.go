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

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// manager is bin/manager running as a child process, so that its memory and
// CPU are its own.
type manager struct {
	cmd        *exec.Cmd
	logPath    string
	metricsURL string
	pprofURL   string
	version    string // as the manager logs it at start
	done       chan struct{}
	err        error

	mu       sync.Mutex
	peakHeap float64 // highest heap in use seen by the sampler
	stop     chan struct{}
	wg       sync.WaitGroup
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// startManager runs the manager against the control plane in kubeconfig with
// its default flags (plus -manager-arg), metrics and pprof on HTTP loopback,
// and waits until its controller runs. pprof costs nothing until asked; the
// benchmark uses it to force a garbage collection before idle samples.
func startManager(ctx context.Context, o *options, kubeconfig, logPath string) (*manager, error) {
	if _, err := os.Stat(o.managerBin); err != nil {
		return nil, fmt.Errorf("%s not found: run `make build` (make bench does)", o.managerBin)
	}
	var addrs [3]string
	for i := range addrs {
		a, err := freePort()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	args := []string{
		"--kubeconfig", kubeconfig,
		"--metrics-bind-address", addrs[0],
		"--metrics-secure=false",
		"--health-probe-bind-address", addrs[1],
		"--pprof-bind-address", addrs[2],
	}
	args = append(args, o.managerArgs...)
	m := &manager{
		logPath:    logPath,
		metricsURL: "http://" + addrs[0] + "/metrics",
		pprofURL:   "http://" + addrs[2] + "/debug/pprof",
		done:       make(chan struct{}),
		stop:       make(chan struct{}),
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.managerBin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), o.managerEnv()...)
	// Its own process group, and killed with the benchmark if that dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, err
	}
	m.cmd = cmd
	go func() {
		m.err = cmd.Wait()
		_ = logFile.Close()
		close(m.done)
	}()

	// Ready when the controller's workers started (the log says so); the
	// readiness probe answers before the caches have synced.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if b, err := os.ReadFile(logPath); err == nil && strings.Contains(string(b), "Starting workers") {
			if _, v, ok := strings.Cut(string(b), `"version":"`); ok {
				m.version, _, _ = strings.Cut(v, `"`)
			}
			break
		}
		select {
		case <-m.done:
			return nil, fmt.Errorf("the manager exited: %v; its log: %s", m.err, tail(logPath))
		case <-ctx.Done():
			m.terminate()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.terminate()
			return nil, fmt.Errorf("the manager did not start its workers within 2 minutes; its log: %s", tail(logPath))
		}
	}
	if _, err := scrapeManager(ctx, m.metricsURL); err != nil {
		m.terminate()
		return nil, fmt.Errorf("the manager's metrics: %w", err)
	}
	m.wg.Add(1)
	go m.sample(ctx, o.sampleEvery)
	return m, nil
}

func (m *manager) pid() int { return m.cmd.Process.Pid }

// sample keeps the highest heap the manager reports. Scraping costs the
// manager some CPU and garbage (its /metrics has series per ArcGISToken), so
// it is done every few seconds only, as Prometheus would.
func (m *manager) sample(ctx context.Context, every time.Duration) {
	defer m.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.stop:
			return
		case <-m.done:
			return
		case <-t.C:
		}
		if mm, err := scrapeManager(ctx, m.metricsURL); err == nil {
			m.observe(mm)
		}
	}
}

func (m *manager) observe(mm managerMetrics) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.peakHeap = max(m.peakHeap, mm.heapInuse)
}

// peak returns the highest heap in use seen so far, after one more sample.
func (m *manager) peak(ctx context.Context) float64 {
	if mm, err := scrapeManager(ctx, m.metricsURL); err == nil {
		m.observe(mm)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peakHeap
}

func (m *manager) usage() usage {
	u, _ := procUsage(m.pid())
	return u
}

// terminate stops the manager with SIGTERM, then SIGKILL after 15 s.
func (m *manager) terminate() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(15 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	m.wg.Wait()
}

// waitIdle waits until the manager has reconciled at least n ArcGISTokens
// and has nothing queued or running, twice in a row a second apart.
func (m *manager) waitIdle(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	quiet := 0
	for quiet < 2 {
		if time.Now().After(deadline) {
			return fmt.Errorf("the manager did not become idle within %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.done:
			return fmt.Errorf("the manager exited: %v; its log: %s", m.err, tail(m.logPath))
		case <-time.After(time.Second):
		}
		mm, err := scrapeManager(ctx, m.metricsURL)
		if err != nil {
			return err
		}
		if mm.reconciles >= float64(n) && mm.queueDepth == 0 && mm.activeWorkers == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	return nil
}

// waitWritesSettled waits until the manager's own count of API writes has
// not moved for quietFor, so that asynchronous writes (events) of a phase
// are counted with it. It returns how long that took.
func (m *manager) waitWritesSettled(ctx context.Context, quietFor, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	last := -1.0
	lastChange := time.Now()
	for {
		mm, err := scrapeManager(ctx, m.metricsURL)
		if err != nil {
			return 0, err
		}
		m.observe(mm)
		if mm.restWrites != last {
			last, lastChange = mm.restWrites, time.Now()
		} else if time.Since(lastChange) >= quietFor {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return time.Since(start), fmt.Errorf("the manager was still writing after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// profile fetches a pprof profile from the manager into path. For "profile"
// (CPU) the request lasts seconds.
func (m *manager) profile(ctx context.Context, kind string, seconds int, path string) error {
	url := m.pprofURL + "/" + kind
	if kind == "profile" {
		url += "?seconds=" + strconv.Itoa(seconds)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds)*time.Second+time.Minute)
	defer cancel()
	body, err := get(ctx, url)
	if err != nil {
		return err
	}
	defer func() { _ = body.Close() }()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// collectGarbage makes the manager run a garbage collection (pprof's
// heap?gc=1), so that the heap it reports next is its live heap.
func (m *manager) collectGarbage(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	body, err := get(ctx, m.pprofURL+"/heap?gc=1")
	if err != nil {
		return err
	}
	defer func() { _ = body.Close() }()
	_, err = io.Copy(io.Discard, body)
	return err
}

func get(ctx context.Context, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return resp.Body, nil
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "\n" + strings.Join(lines, "\n")
}

// managerDefaults runs `manager -h` and returns each flag's default as the
// flag package prints it ("" for a zero value, which it does not print), so
// that the benchmark knows what it runs with instead of repeating it.
func managerDefaults(bin string) (map[string]string, error) {
	// The flag package prints the usage on -h; its exit status varies.
	out, err := exec.Command(bin, "-h").CombinedOutput()
	if len(out) == 0 {
		return nil, fmt.Errorf("%s -h printed nothing: %v", bin, err)
	}
	return parseFlagDefaults(string(out)), nil
}

// parseFlagDefaults reads the flag package's usage text: "  -name type"
// lines, each followed by its description, which ends in "(default X)"
// unless the default is the zero value.
func parseFlagDefaults(usage string) map[string]string {
	out := map[string]string{}
	var name string
	sc := bufio.NewScanner(strings.NewReader(usage))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "  -"):
			f := strings.Fields(line)
			name = strings.TrimPrefix(f[0], "-")
			out[name] = ""
			// A short usage sits on the flag's own line after a tab.
			if _, desc, ok := strings.Cut(line, "\t"); ok {
				out[name] = defaultIn(desc)
			}
		case name != "" && strings.HasPrefix(line, "    \t"):
			if d := defaultIn(line); d != "" {
				out[name] = d
			}
		}
	}
	return out
}

func defaultIn(desc string) string {
	i := strings.LastIndex(desc, "(default ")
	if i < 0 || !strings.HasSuffix(desc, ")") {
		return ""
	}
	return strings.Trim(desc[i+len("(default "):len(desc)-1], `"`)
}

// flagValue is the value the manager runs with: the last --name=value or
// --name value in args, else its default.
func flagValue(defaults map[string]string, args []string, name string) string {
	v := defaults[name]
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if k, val, ok := strings.Cut(a, "="); ok && k == name {
			v = val
		} else if a == name && i+1 < len(args) {
			v = args[i+1]
		}
	}
	return v
}

// containerMemoryLimit reads the manager container's memory limit from the
// Deployment the operator ships (config/manager/manager.yaml).
func containerMemoryLimit(path string) (resource.Quantity, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return resource.Quantity{}, err
	}
	for doc := range strings.SplitSeq(string(raw), "\n---") {
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil || d.Kind != "Deployment" {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if q, ok := c.Resources.Limits["memory"]; ok && slices.Contains(c.Command, "/manager") {
				return q, nil
			}
		}
	}
	return resource.Quantity{}, fmt.Errorf("%s: no container running /manager with a memory limit", path)
}
