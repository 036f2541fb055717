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
	"strings"
	"testing"
)

// What kube-apiserver serves, trimmed.
const apiServerMetrics = `# HELP apiserver_request_total [STABLE] Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="POST",version="v1"} 1000
apiserver_request_total{code="200",component="apiserver",dry_run="",group="arcgis.tokenoperator.dev",resource="arcgistokens",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 990
apiserver_request_total{code="429",component="apiserver",dry_run="",group="arcgis.tokenoperator.dev",resource="arcgistokens",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 10
apiserver_request_total{code="201",component="apiserver",dry_run="All",group="",resource="secrets",scope="resource",subresource="",verb="POST",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="GET",version="v1"} 40
apiserver_request_total{code="429",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="LIST",version="v1"} 2
apiserver_request_total{code="201",component="apiserver",dry_run="",group="events.k8s.io",resource="events",scope="resource",subresource="",verb="POST",version="v1"} 1000
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 6
`

func TestCountAPIRequests(t *testing.T) {
	fams, err := parseFamilies(strings.NewReader(apiServerMetrics))
	if err != nil {
		t.Fatal(err)
	}
	c := countAPIRequests(fams)
	if got := c.operator(); got != 2000 {
		t.Errorf("operator writes = %v, want 2000 (Secrets and status, 429s included, dry runs and reads not)", got)
	}
	if got := c.of("events"); got != 1000 {
		t.Errorf("events = %v, want 1000", got)
	}
	if got := c.of("leases"); got != 6 {
		t.Errorf("leases = %v, want 6", got)
	}
	if c.rejected != 12 {
		t.Errorf("429s = %v, want 12 (every verb)", c.rejected)
	}
	if got, want := c.describe("status", "secrets"), "PATCH arcgistokens/status 1000, POST secrets 1000"; got != want {
		t.Errorf("describe = %q, want %q", got, want)
	}
	d := c.sub(apiCounts{writes: map[apiKey]float64{{"secrets", "", "POST"}: 1000}, rejected: 2})
	if d.of("secrets") != 0 || d.of("status") != 1000 || d.rejected != 10 {
		t.Errorf("sub = %+v", d)
	}
	if got := (apiCounts{}).describe("status"); got != "none" {
		t.Errorf("describe of nothing = %q", got)
	}
}

// What the manager serves, trimmed; with and without the retries metric.
const managerMetricsText = `# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 4.2e+07
# TYPE rest_client_requests_total counter
rest_client_requests_total{code="200",host="127.0.0.1:6443",method="GET"} 12
rest_client_requests_total{code="201",host="127.0.0.1:6443",method="POST"} 2000
rest_client_requests_total{code="200",host="127.0.0.1:6443",method="PATCH"} 1000
rest_client_requests_total{code="429",host="127.0.0.1:6443",method="PATCH"} 5
# TYPE rest_client_request_retries_total counter
rest_client_request_retries_total{code="429",host="127.0.0.1:6443",verb="PATCH"} 5
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="arcgistoken",result="requeue_after"} 1000
controller_runtime_reconcile_total{controller="arcgistoken",result="error"} 3
controller_runtime_reconcile_total{controller="other",result="success"} 99
# TYPE workqueue_depth gauge
workqueue_depth{controller="arcgistoken",name="arcgistoken"} 2
# TYPE controller_runtime_active_workers gauge
controller_runtime_active_workers{controller="arcgistoken"} 1
# TYPE arcgistoken_status gauge
arcgistoken_status{issuing="False",name="a",namespace="gis",ready="True",reason="TokenIssued",type="Portal"} 1
arcgistoken_status{issuing="False",name="b",namespace="gis",ready="True",reason="TokenIssued",type="Portal"} 1
# TYPE arcgistoken_expiration_timestamp_seconds gauge
arcgistoken_expiration_timestamp_seconds{name="a",namespace="gis"} 1.9e+09
`

func TestManagerMetrics(t *testing.T) {
	fams, err := parseFamilies(strings.NewReader(managerMetricsText))
	if err != nil {
		t.Fatal(err)
	}
	m := managerMetricsOf(fams, len(managerMetricsText))
	checks := map[string][2]float64{
		"heap":          {m.heapInuse, 4.2e7},
		"writes":        {m.restWrites, 3005},
		"reads":         {m.restReads, 12},
		"429s":          {m.rest429, 5},
		"retries":       {m.restRetries, 5},
		"reconciles":    {m.reconciles, 1003},
		"errors":        {m.reconcileResults["error"], 3},
		"queue":         {m.queueDepth, 2},
		"workers":       {m.activeWorkers, 1},
		"token series":  {float64(m.tokenSeries), 3},
		"scrape length": {float64(m.scrapeBytes), float64(len(managerMetricsText))},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %v, want %v", name, c[0], c[1])
		}
	}
}

func TestParseFamiliesRejectsGarbage(t *testing.T) {
	if _, err := parseFamilies(strings.NewReader("not a metric line {{{\n")); err == nil {
		t.Error("garbage parsed without an error")
	}
}
