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
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
)

func TestTokenSeries(t *testing.T) {
	Register()
	Register() // safe twice
	expires := metav1.NewTime(time.Unix(1_900_000_000, 0))
	renewalAt := metav1.NewTime(time.Unix(1_899_998_800, 0))
	tok := &arcgisv1alpha1.ArcGISToken{
		ObjectMeta: metav1.ObjectMeta{Namespace: "gis", Name: "portal"},
		Status: arcgisv1alpha1.ArcGISTokenStatus{
			ExpiresAt: &expires, RenewalTime: &renewalAt,
			Conditions: []metav1.Condition{{Type: arcgisv1alpha1.ConditionReady, Status: metav1.ConditionTrue}},
		},
	}
	ObserveToken(tok)
	want := `
# HELP arcgistoken_expiration_timestamp_seconds The time the stored ArcGIS token expires, in seconds since the epoch.
# TYPE arcgistoken_expiration_timestamp_seconds gauge
arcgistoken_expiration_timestamp_seconds{name="portal",namespace="gis"} 1.9e+09
# HELP arcgistoken_ready_status The Ready condition of the ArcGISToken: 1 for the current status (True, False or Unknown), 0 for the others.
# TYPE arcgistoken_ready_status gauge
arcgistoken_ready_status{condition="False",name="portal",namespace="gis"} 0
arcgistoken_ready_status{condition="True",name="portal",namespace="gis"} 1
arcgistoken_ready_status{condition="Unknown",name="portal",namespace="gis"} 0
# HELP arcgistoken_renewal_timestamp_seconds The time the ArcGIS token is due for renewal, in seconds since the epoch.
# TYPE arcgistoken_renewal_timestamp_seconds gauge
arcgistoken_renewal_timestamp_seconds{name="portal",namespace="gis"} 1.8999988e+09
`
	names := []string{"arcgistoken_expiration_timestamp_seconds", "arcgistoken_ready_status", "arcgistoken_renewal_timestamp_seconds"}
	if err := testutil.GatherAndCompare(ctrlmetrics.Registry, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}

	// The token fails: Ready False, no expiry any more.
	tok.Status.ExpiresAt, tok.Status.RenewalTime = nil, nil
	tok.Status.Conditions[0].Status = metav1.ConditionFalse
	ObserveToken(tok)
	if got := testutil.ToFloat64(ready.WithLabelValues("gis", "portal", "False")); got != 1 {
		t.Errorf("ready_status{condition=False} = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(expiration); n != 0 {
		t.Errorf("%d expiration series for a token without expiry, want 0", n)
	}

	// Deleted: every series goes.
	ForgetToken(types.NamespacedName{Namespace: "gis", Name: "portal"})
	if n := testutil.CollectAndCount(ready) + testutil.CollectAndCount(expiration) + testutil.CollectAndCount(renewal); n != 0 {
		t.Errorf("%d series left for a deleted ArcGISToken, want 0", n)
	}
}

func TestRequestSeries(t *testing.T) {
	Register()
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
}
