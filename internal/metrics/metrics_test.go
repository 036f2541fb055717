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

package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
)

func token(ns, name string, typ arcgisv1alpha1.ServiceType, expires *time.Time, conds ...metav1.Condition) *arcgisv1alpha1.ArcGISToken {
	t := &arcgisv1alpha1.ArcGISToken{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       arcgisv1alpha1.ArcGISTokenSpec{Type: typ},
		Status:     arcgisv1alpha1.ArcGISTokenStatus{Conditions: conds},
	}
	if expires != nil {
		e := metav1.NewTime(*expires)
		t.Status.ExpiresAt = &e
	}
	return t
}

func cond(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason}
}

func reader(t *testing.T, objs ...client.Object) client.Reader {
	t.Helper()
	s := runtime.NewScheme()
	if err := arcgisv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
}

const header = `
# HELP arcgistoken_expiration_timestamp_seconds The time the stored ArcGIS token expires, in seconds since the epoch; absent while no token is stored.
# TYPE arcgistoken_expiration_timestamp_seconds gauge
# HELP arcgistoken_status One series per ArcGISToken, always 1: its type, the status of its Ready and Issuing conditions (True, False or Unknown), and a reason: Ready's when not Ready, else Issuing's when a new token is due, else Ready's.
# TYPE arcgistoken_status gauge
`

func TestTokenCollector(t *testing.T) {
	exp := time.Unix(1_900_000_000, 0)
	healthy := token("gis", "portal", arcgisv1alpha1.ServiceTypePortal, &exp,
		cond(arcgisv1alpha1.ConditionReady, metav1.ConditionTrue, arcgisv1alpha1.ReasonTokenIssued),
		cond(arcgisv1alpha1.ConditionIssuing, metav1.ConditionFalse, arcgisv1alpha1.ReasonUpToDate))
	// The old token still works while renewals fail: Ready, and Issuing
	// says why the renewal is late.
	renewing := token("gis", "renewing", arcgisv1alpha1.ServiceTypeServer, &exp,
		cond(arcgisv1alpha1.ConditionReady, metav1.ConditionTrue, arcgisv1alpha1.ReasonTokenIssued),
		cond(arcgisv1alpha1.ConditionIssuing, metav1.ConditionTrue, "ServiceUnavailable"))
	// Never issued: no expiry series, and Ready's reason.
	failing := token("maps", "failing", arcgisv1alpha1.ServiceTypeOAuth, nil,
		cond(arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, "InvalidCredentials"),
		cond(arcgisv1alpha1.ConditionIssuing, metav1.ConditionTrue, "InvalidCredentials"))
	// Just created: no status at all.
	fresh := token("maps", "fresh", arcgisv1alpha1.ServiceTypePortal, nil)

	tests := map[string]struct {
		tokens  Tokens
		want    string
		samples int
	}{
		"every token, two series at most": {
			tokens: Tokens{Reader: reader(t, healthy, renewing, failing, fresh)},
			want: header + `
arcgistoken_expiration_timestamp_seconds{name="portal",namespace="gis"} 1.9e+09
arcgistoken_expiration_timestamp_seconds{name="renewing",namespace="gis"} 1.9e+09
arcgistoken_status{issuing="False",name="portal",namespace="gis",ready="True",reason="TokenIssued",type="Portal"} 1
arcgistoken_status{issuing="True",name="renewing",namespace="gis",ready="True",reason="ServiceUnavailable",type="Server"} 1
arcgistoken_status{issuing="True",name="failing",namespace="maps",ready="False",reason="InvalidCredentials",type="OAuth"} 1
arcgistoken_status{issuing="Unknown",name="fresh",namespace="maps",ready="Unknown",reason="",type="Portal"} 1
`,
			samples: 6,
		},
		"a standby exports no per-token series": {
			tokens: Tokens{Reader: reader(t, healthy), Leading: func() bool { return false }},
		},
		"the leader does": {
			tokens:  Tokens{Reader: reader(t, healthy), Leading: func() bool { return true }},
			samples: 2,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := &tokenCollector{tokens: tc.tokens}
			if n := testutil.CollectAndCount(c); n != tc.samples {
				t.Errorf("%d samples, want %d", n, tc.samples)
			}
			if tc.want != "" {
				if err := testutil.CollectAndCompare(c, strings.NewReader(tc.want)); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// A deleted ArcGISToken's series go with it: nothing to forget.
func TestTokenCollectorFollowsTheCache(t *testing.T) {
	exp := time.Unix(1_900_000_000, 0)
	tok := token("gis", "portal", arcgisv1alpha1.ServiceTypePortal, &exp)
	r := reader(t, tok)
	c := &tokenCollector{tokens: Tokens{Reader: r}}
	if n := testutil.CollectAndCount(c); n != 2 {
		t.Fatalf("%d samples, want 2", n)
	}
	if err := r.(client.Client).Delete(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Errorf("%d samples after the delete, want 0", n)
	}
}

type failingReader struct{ client.Reader }

func (failingReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("cache not synced")
}

// A failed list makes the scrape fail visibly instead of answering as if
// there were no tokens (which would resolve every per-token alert).
func TestTokenCollectorListError(t *testing.T) {
	c := &tokenCollector{tokens: Tokens{Reader: failingReader{}}}
	if err := testutil.CollectAndCompare(c, strings.NewReader("")); err == nil || !strings.Contains(err.Error(), "cache not synced") {
		t.Errorf("collect error = %v, want the list error", err)
	}
}

func TestRequestSeries(t *testing.T) {
	Register(Tokens{})
	Register(Tokens{}) // safe twice
	before := testutil.ToFloat64(requests.WithLabelValues("gis.example.com", arcgis.EndpointGenerateToken, arcgis.ResultSuccess))
	ObserveRequest(arcgis.Observation{Host: "gis.example.com", Endpoint: arcgis.EndpointGenerateToken, Result: arcgis.ResultSuccess, Duration: 30 * time.Millisecond})
	ObserveRequest(arcgis.Observation{Host: "gis.example.com", Endpoint: arcgis.EndpointGenerateToken, Result: string(arcgis.ReasonInvalidCredentials), Duration: time.Second})
	if got := testutil.ToFloat64(requests.WithLabelValues("gis.example.com", arcgis.EndpointGenerateToken, arcgis.ResultSuccess)); got != before+1 {
		t.Errorf("requests_total{reason=Success} = %v, want %v", got, before+1)
	}
	if got := testutil.ToFloat64(requests.WithLabelValues("gis.example.com", arcgis.EndpointGenerateToken, "InvalidCredentials")); got != 1 {
		t.Errorf("requests_total{reason=InvalidCredentials} = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(latency, "arcgistoken_request_duration_seconds"); n != 1 {
		t.Errorf("%d latency histograms, want 1 (host, endpoint)", n)
	}
	// Registered with controller-runtime's registry, which the manager serves.
	if n, err := testutil.GatherAndCount(ctrlmetrics.Registry, "arcgistoken_requests_total"); err != nil || n < 2 {
		t.Errorf("arcgistoken_requests_total in the registry: %d series, %v", n, err)
	}
}
