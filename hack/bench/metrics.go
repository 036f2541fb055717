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
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// sample is one line of the Prometheus text exposition format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseMetrics reads the samples whose metric name keep accepts. It parses
// just enough of the text format for counters and gauges.
func parseMetrics(r io.Reader, keep func(name string) bool) ([]sample, error) {
	var out []sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.IndexAny(line, "{ ")
		if i <= 0 {
			continue
		}
		s := sample{name: line[:i], labels: map[string]string{}}
		if !keep(s.name) {
			continue
		}
		rest := line[i:]
		if rest[0] == '{' {
			n, err := parseLabels(rest[1:], s.labels)
			if err != nil {
				return nil, fmt.Errorf("%w in %q", err, line)
			}
			rest = rest[1+n:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("no value in %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("bad value in %q: %w", line, err)
		}
		s.value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

// parseLabels parses `k="v",k2="v2"}` into labels and returns the number of
// bytes read, the closing brace included.
func parseLabels(s string, labels map[string]string) (int, error) {
	i := 0
	for {
		for i < len(s) && (s[i] == ',' || s[i] == ' ') {
			i++
		}
		if i >= len(s) {
			return 0, fmt.Errorf("unterminated labels")
		}
		if s[i] == '}' {
			return i + 1, nil
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 || i+eq+1 >= len(s) || s[i+eq+1] != '"' {
			return 0, fmt.Errorf("bad label")
		}
		key := s[i : i+eq]
		i += eq + 2
		var v strings.Builder
		for {
			if i >= len(s) {
				return 0, fmt.Errorf("unterminated label value")
			}
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				switch s[i+1] {
				case 'n':
					v.WriteByte('\n')
				default:
					v.WriteByte(s[i+1])
				}
				i += 2
				continue
			}
			if c == '"' {
				i++
				break
			}
			v.WriteByte(c)
			i++
		}
		labels[key] = v.String()
	}
}

// apiKey names a kind of request in apiserver_request_total.
type apiKey struct{ resource, subresource, verb string }

func (k apiKey) String() string {
	r := k.resource
	if k.subresource != "" {
		r += "/" + k.subresource
	}
	return k.verb + " " + r
}

// apiCounts are apiserver_request_total counters summed per apiKey, for the
// write verbs only.
type apiCounts map[apiKey]float64

var writeVerbs = map[string]bool{
	"POST": true, "PUT": true, "PATCH": true, "DELETE": true, "DELETECOLLECTION": true, "APPLY": true, "CREATE": true, "UPDATE": true,
}

// apiWrites reads the API server's own count of write requests, per resource
// and verb, from its /metrics (as the cluster admin).
func apiWrites(ctx context.Context, rc rest.Interface) (apiCounts, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	raw, err := rc.Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the API server's metrics: %w", err)
	}
	samples, err := parseMetrics(bytes.NewReader(raw), func(n string) bool { return n == "apiserver_request_total" })
	if err != nil {
		return nil, err
	}
	out := apiCounts{}
	for _, s := range samples {
		if !writeVerbs[s.labels["verb"]] || s.labels["dry_run"] != "" {
			continue
		}
		out[apiKey{s.labels["resource"], s.labels["subresource"], s.labels["verb"]}] += s.value
	}
	return out, nil
}

// sub returns the counts of a minus those of before.
func (a apiCounts) sub(before apiCounts) apiCounts {
	out := apiCounts{}
	for k, v := range a {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// writeClass sorts API writes: the token's own (Secrets and status), the
// benchmark's (spec and annotation changes it makes itself), events, leases
// (the API server's own heartbeats), and anything else.
func writeClass(k apiKey) string {
	switch {
	case k.resource == "arcgistokens" && k.subresource == "":
		return "bench"
	case k.resource == "events":
		return "events"
	case k.resource == "leases":
		return "leases"
	case k.resource == "secrets", k.resource == "arcgistokens" && k.subresource == "status",
		k.resource == "deployments", k.resource == "statefulsets", k.resource == "daemonsets":
		return "operator"
	}
	return "other"
}

// byClass sums the counts of one class.
func (a apiCounts) byClass(class string) float64 {
	var n float64
	for k, v := range a {
		if writeClass(k) == class {
			n += v
		}
	}
	return n
}

// describe lists the counts of the given classes, largest first, e.g.
// "POST secrets 100, PATCH arcgistokens/status 100".
func (a apiCounts) describe(classes ...string) string {
	want := map[string]bool{}
	for _, c := range classes {
		want[c] = true
	}
	type kv struct {
		k apiKey
		v float64
	}
	var list []kv
	for k, v := range a {
		if want[writeClass(k)] {
			list = append(list, kv{k, v})
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].v != list[j].v {
			return list[i].v > list[j].v
		}
		return list[i].k.String() < list[j].k.String()
	})
	var parts []string
	for _, e := range list {
		parts = append(parts, fmt.Sprintf("%s %.0f", e.k, e.v))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// managerMetrics is what the benchmark reads from the manager's /metrics.
type managerMetrics struct {
	heapInuse, heapAlloc, rss float64
	cpu                       float64
	// restWrites and restReads count the manager's requests to the API
	// server (client-go's rest_client_requests_total), events included.
	restWrites, restReads float64
	reconciles            float64
	// reconcileResults counts reconciles by result (success, error,
	// requeue, requeue_after).
	reconcileResults map[string]float64
	queueDepth       float64
	activeWorkers    float64
}

var managerMetricNames = map[string]bool{
	"go_memstats_heap_inuse_bytes":       true,
	"go_memstats_heap_alloc_bytes":       true,
	"process_resident_memory_bytes":      true,
	"process_cpu_seconds_total":          true,
	"rest_client_requests_total":         true,
	"controller_runtime_reconcile_total": true,
	"workqueue_depth":                    true,
	"controller_runtime_active_workers":  true,
}

func scrapeManager(ctx context.Context, url string) (managerMetrics, error) {
	m := managerMetrics{reconcileResults: map[string]float64{}}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return m, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return m, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return m, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	samples, err := parseMetrics(resp.Body, func(n string) bool { return managerMetricNames[n] })
	if err != nil {
		return m, err
	}
	for _, s := range samples {
		switch s.name {
		case "go_memstats_heap_inuse_bytes":
			m.heapInuse = s.value
		case "go_memstats_heap_alloc_bytes":
			m.heapAlloc = s.value
		case "process_resident_memory_bytes":
			m.rss = s.value
		case "process_cpu_seconds_total":
			m.cpu = s.value
		case "rest_client_requests_total":
			switch s.labels["method"] {
			case "POST", "PUT", "PATCH", "DELETE":
				m.restWrites += s.value
			case "GET", "LIST":
				m.restReads += s.value
			}
		case "controller_runtime_reconcile_total":
			if s.labels["controller"] == "arcgistoken" {
				m.reconciles += s.value
				m.reconcileResults[s.labels["result"]] += s.value
			}
		case "workqueue_depth":
			if s.labels["name"] == "arcgistoken" {
				m.queueDepth += s.value
			}
		case "controller_runtime_active_workers":
			if s.labels["controller"] == "arcgistoken" {
				m.activeWorkers += s.value
			}
		}
	}
	return m, nil
}

// procMem reads a process's resident set size now and at its peak
// (VmRSS, VmHWM), in bytes.
func procMem(pid int) (rss, hwm uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	return rss, hwm, nil
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// procCPU reads the CPU time (user + system) a process has used.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseUint(f[11], 10, 64)
	stime, _ := strconv.ParseUint(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// loadAvg returns the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
