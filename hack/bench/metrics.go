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
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/procfs"
	"k8s.io/client-go/rest"
)

// families is a parsed Prometheus text exposition.
type families map[string]*dto.MetricFamily

func parseFamilies(r io.Reader) (families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}

// sum adds up the counters, gauges or untyped samples of one family whose
// labels match.
func (f families) sum(name string, match func(labels map[string]string) bool) float64 {
	fam := f[name]
	if fam == nil {
		return 0
	}
	var total float64
	for _, m := range fam.GetMetric() {
		if match != nil && !match(labelMap(m)) {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Untyped != nil:
			total += m.Untyped.GetValue()
		}
	}
	return total
}

// series counts the samples of the families whose name has prefix.
func (f families) series(prefix string) int {
	n := 0
	for name, fam := range f {
		if strings.HasPrefix(name, prefix) {
			n += len(fam.GetMetric())
		}
	}
	return n
}

func labelMap(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func labelIs(key, value string) func(map[string]string) bool {
	return func(l map[string]string) bool { return l[key] == value }
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

// apiCounts are the API server's own counts of write requests per apiKey,
// and of the requests of any verb it answered 429 Too Many Requests.
type apiCounts struct {
	writes   map[apiKey]float64
	rejected float64
}

var writeVerbs = map[string]bool{
	"POST": true, "PUT": true, "PATCH": true, "DELETE": true, "DELETECOLLECTION": true, "APPLY": true, "CREATE": true, "UPDATE": true,
}

// apiServerCounts reads apiserver_request_total from the API server's
// /metrics (as the cluster admin).
func apiServerCounts(ctx context.Context, rc rest.Interface) (apiCounts, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	raw, err := rc.Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return apiCounts{}, fmt.Errorf("reading the API server's metrics: %w", err)
	}
	fams, err := parseFamilies(bytes.NewReader(raw))
	if err != nil {
		return apiCounts{}, err
	}
	return countAPIRequests(fams), nil
}

func countAPIRequests(fams families) apiCounts {
	out := apiCounts{writes: map[apiKey]float64{}}
	fam := fams["apiserver_request_total"]
	if fam == nil {
		return out
	}
	for _, m := range fam.GetMetric() {
		l := labelMap(m)
		v := m.GetCounter().GetValue()
		if l["code"] == "429" {
			out.rejected += v
		}
		if !writeVerbs[l["verb"]] || l["dry_run"] != "" {
			continue
		}
		out.writes[apiKey{l["resource"], l["subresource"], l["verb"]}] += v
	}
	return out
}

// sub returns the counts of a minus those of before.
func (a apiCounts) sub(before apiCounts) apiCounts {
	out := apiCounts{writes: map[apiKey]float64{}, rejected: a.rejected - before.rejected}
	for k, v := range a.writes {
		if d := v - before.writes[k]; d != 0 {
			out.writes[k] = d
		}
	}
	return out
}

// writeClass sorts API writes: the token's own (Secrets and status), the
// benchmark's (spec changes it makes itself), events, leases (the API
// server's own heartbeats), and anything else.
func writeClass(k apiKey) string {
	switch {
	case k.resource == "arcgistokens" && k.subresource == "":
		return "bench"
	case k.resource == "events":
		return "events"
	case k.resource == "leases":
		return "leases"
	case k.resource == "arcgistokens" && k.subresource == "status":
		return "status"
	case k.resource == "secrets":
		return "secrets"
	case k.resource == "deployments", k.resource == "statefulsets", k.resource == "daemonsets":
		return "restarts"
	}
	return "other"
}

// operatorClasses are the writes an issuance or a renewal costs (events are
// counted apart).
var operatorClasses = []string{"status", "secrets", "restarts", "other"}

// of sums the counts of the given classes.
func (a apiCounts) of(classes ...string) float64 {
	var n float64
	for k, v := range a.writes {
		for _, c := range classes {
			if writeClass(k) == c {
				n += v
			}
		}
	}
	return n
}

func (a apiCounts) operator() float64 { return a.of(operatorClasses...) }

// describe lists the counts of the given classes, largest first, e.g.
// "POST secrets 100, PATCH arcgistokens/status 100", or "none".
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
	for k, v := range a.writes {
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
	heapInuse float64
	// restWrites and restReads count the manager's requests to the API
	// server (client-go's rest_client_requests_total, every attempt),
	// events included; rest429 those answered 429, restRetries the
	// attempts after the first (rest_client_request_retries_total).
	restWrites, restReads, rest429, restRetries float64
	reconciles                                  float64
	// reconcileResults counts reconciles by result (success, error,
	// requeue, requeue_after).
	reconcileResults map[string]float64
	queueDepth       float64
	activeWorkers    float64
	// tokenSeries counts the arcgistoken_* samples, scrapeBytes the size of
	// the whole answer.
	tokenSeries int
	scrapeBytes int
}

func managerMetricsOf(fams families, size int) managerMetrics {
	m := managerMetrics{reconcileResults: map[string]float64{}, scrapeBytes: size}
	m.heapInuse = fams.sum("go_memstats_heap_inuse_bytes", nil)
	m.restWrites = fams.sum("rest_client_requests_total", func(l map[string]string) bool {
		switch l["method"] {
		case "POST", "PUT", "PATCH", "DELETE":
			return true
		}
		return false
	})
	m.restReads = fams.sum("rest_client_requests_total", func(l map[string]string) bool {
		return l["method"] == "GET" || l["method"] == "LIST"
	})
	m.rest429 = fams.sum("rest_client_requests_total", labelIs("code", "429"))
	m.restRetries = fams.sum("rest_client_request_retries_total", nil)
	arcgistoken := labelIs("controller", "arcgistoken")
	m.reconciles = fams.sum("controller_runtime_reconcile_total", arcgistoken)
	if fam := fams["controller_runtime_reconcile_total"]; fam != nil {
		for _, s := range fam.GetMetric() {
			if l := labelMap(s); l["controller"] == "arcgistoken" {
				m.reconcileResults[l["result"]] += s.GetCounter().GetValue()
			}
		}
	}
	m.queueDepth = fams.sum("workqueue_depth", labelIs("name", "arcgistoken"))
	m.activeWorkers = fams.sum("controller_runtime_active_workers", arcgistoken)
	m.tokenSeries = fams.series("arcgistoken_")
	return m
}

func scrapeManager(ctx context.Context, url string) (managerMetrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return managerMetrics{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return managerMetrics{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return managerMetrics{}, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return managerMetrics{}, err
	}
	fams, err := parseFamilies(bytes.NewReader(raw))
	if err != nil {
		return managerMetrics{}, err
	}
	return managerMetricsOf(fams, len(raw)), nil
}

// usage is a process's CPU time and resident memory, now and at its peak;
// anon is the part of rss that is not the executable's (and other files')
// pages.
type usage struct {
	cpu            time.Duration
	rss, hwm, anon uint64
}

func procUsage(pid int) (usage, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return usage{}, err
	}
	st, err := p.Stat()
	if err != nil {
		return usage{}, err
	}
	status, err := p.NewStatus()
	if err != nil {
		return usage{}, err
	}
	return usage{
		cpu:  time.Duration(st.CPUTime() * float64(time.Second)),
		rss:  status.VmRSS,
		hwm:  status.VmHWM,
		anon: status.RssAnon,
	}, nil
}

// loadAvg is the 1, 5 and 15 minute load averages.
func loadAvg() string {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return "unknown"
	}
	l, err := fs.LoadAvg()
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.2f %.2f %.2f", l.Load1, l.Load5, l.Load15)
}
