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
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// manager is bin/manager running as a child process, so that its memory and
// CPU are its own.
type manager struct {
	cmd        *exec.Cmd
	logPath    string
	metricsURL string
	pprofURL   string // "" unless profiling
	version    string // as the manager logs it at start
	done       chan struct{}
	err        error

	mu   sync.Mutex
	peak managerMetrics // highest heap seen by the sampler
	stop chan struct{}
	wg   sync.WaitGroup
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

// startManager runs the manager against the control plane in kubeconfig,
// with metrics (and pprof, when asked) on HTTP loopback, and waits until its
// controller runs.
func startManager(ctx context.Context, o *options, kubeconfig, logPath string, withPprof bool) (*manager, error) {
	if _, err := os.Stat(o.managerBin); err != nil {
		return nil, fmt.Errorf("%s not found: run `make build` (make bench does)", o.managerBin)
	}
	metricsAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	probeAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{
		"--kubeconfig", kubeconfig,
		"--metrics-bind-address", metricsAddr,
		"--metrics-secure=false",
		"--health-probe-bind-address", probeAddr,
		"--max-concurrent-reconciles", strconv.Itoa(o.workers),
		"--arcgis-max-concurrent-per-host", strconv.Itoa(o.perHost),
		"--kube-api-qps", strconv.FormatFloat(o.qps, 'f', -1, 64),
		"--kube-api-burst", strconv.Itoa(o.burst),
	}
	m := &manager{logPath: logPath, metricsURL: "http://" + metricsAddr + "/metrics", done: make(chan struct{}), stop: make(chan struct{})}
	if withPprof {
		pprofAddr, err := freePort()
		if err != nil {
			return nil, err
		}
		args = append(args, "--pprof-bind-address", pprofAddr)
		m.pprofURL = "http://" + pprofAddr + "/debug/pprof"
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.managerBin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), o.managerEnv...)
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
// manager some CPU (its /metrics has series per ArcGISToken), so it is done
// every few seconds only, as Prometheus would.
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
		mm, err := scrapeManager(ctx, m.metricsURL)
		if err != nil {
			continue
		}
		m.observe(mm)
	}
}

func (m *manager) observe(mm managerMetrics) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.peak.heapInuse = max(m.peak.heapInuse, mm.heapInuse)
	m.peak.heapAlloc = max(m.peak.heapAlloc, mm.heapAlloc)
	m.peak.rss = max(m.peak.rss, mm.rss)
}

// peakHeap returns the highest heap in use seen so far, after one more
// sample.
func (m *manager) peakHeap(ctx context.Context) float64 {
	if mm, err := scrapeManager(ctx, m.metricsURL); err == nil {
		m.observe(mm)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peak.heapInuse
}

// usage is the manager's CPU time and resident memory now and at its peak.
type usage struct {
	cpu      time.Duration
	rss, hwm uint64
}

func (m *manager) usage() usage {
	var u usage
	u.cpu, _ = procCPU(m.pid())
	u.rss, u.hwm, _ = procMem(m.pid())
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
	if m.pprofURL == "" {
		return errors.New("pprof is off")
	}
	url := m.pprofURL + "/" + kind
	if kind == "profile" {
		url += "?seconds=" + strconv.Itoa(seconds)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds)*time.Second+time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// collectGarbage makes the manager run a garbage collection (pprof's
// heap?gc=1), so that the heap it reports next is its live heap.
func (m *manager) collectGarbage(ctx context.Context) error {
	if m.pprofURL == "" {
		return errors.New("pprof is off")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.pprofURL+"/heap?gc=1", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
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
