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

package metricsauth_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/tokenoperator/arcgis-token-operator/internal/metricsauth"
)

// Tokens of the fake API server. Each is distinctive, so that a test can
// search every log line and response body for it.
const (
	readerToken   = "tok-reader-7f3a91c4e2"
	otherToken    = "tok-other-52be0d6a18"
	unknownToken  = "tok-unknown-c8e4f7a02b"
	readerName    = "system:serviceaccount:monitoring:prometheus"
	otherName     = "system:serviceaccount:default:other"
	metricsPath   = "/metrics"
	allowedAnswer = "metrics here"
)

var secrets = []string{readerToken, otherToken, unknownToken}

// fakeAPIServer answers TokenReviews and SubjectAccessReviews like a
// kube-apiserver with one binding: readerName may get /metrics.
type fakeAPIServer struct {
	mu            sync.Mutex
	users         map[string]authenticationv1.UserInfo // by token; others are not authenticated
	allowed       map[string]bool                      // usernames allowed get /metrics
	fail          func(w http.ResponseWriter, body []byte)
	hold          chan struct{} // when set, reviews wait for it to close
	arrived       chan struct{} // a review arrived (buffered, best effort)
	tokenReviews  int
	accessReviews int
	lastAccess    authorizationv1.SubjectAccessReviewSpec
}

func newFakeAPIServer() *fakeAPIServer {
	return &fakeAPIServer{
		users: map[string]authenticationv1.UserInfo{
			readerToken: {Username: readerName, UID: "uid-reader", Groups: []string{"system:serviceaccounts", "system:authenticated"},
				Extra: map[string]authenticationv1.ExtraValue{"authentication.kubernetes.io/pod-name": {"prometheus-0"}}},
			otherToken: {Username: otherName, UID: "uid-other", Groups: []string{"system:serviceaccounts"}},
		},
		allowed: map[string]bool{readerName: true},
		arrived: make(chan struct{}, 100),
	}
}

func (f *fakeAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	fail, hold := f.fail, f.hold
	switch r.URL.Path {
	case "/apis/authentication.k8s.io/v1/tokenreviews":
		f.tokenReviews++
	case "/apis/authorization.k8s.io/v1/subjectaccessreviews":
		f.accessReviews++
	}
	f.mu.Unlock()
	select {
	case f.arrived <- struct{}{}:
	default:
	}
	if hold != nil {
		<-hold
	}
	if fail != nil {
		fail(w, body)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out any
	switch r.URL.Path {
	case "/apis/authentication.k8s.io/v1/tokenreviews":
		review := &authenticationv1.TokenReview{}
		if err := decode(body, review); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if user, ok := f.users[review.Spec.Token]; ok {
			review.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: user}
		} else {
			review.Status = authenticationv1.TokenReviewStatus{Error: "invalid bearer token"}
		}
		out = review
	case "/apis/authorization.k8s.io/v1/subjectaccessreviews":
		review := &authorizationv1.SubjectAccessReview{}
		if err := decode(body, review); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.lastAccess = review.Spec
		a := review.Spec.NonResourceAttributes
		review.Status.Allowed = f.allowed[review.Spec.User] && a != nil && a.Path == metricsPath && a.Verb == "get"
		out = review
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// decode reads a request body in any of the API server's encodings: client-go
// sends protobuf for built-in types.
func decode(body []byte, into runtime.Object) error {
	_, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, into)
	return err
}

func (f *fakeAPIServer) counts() (tokenReviews, accessReviews int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenReviews, f.accessReviews
}

func (f *fakeAPIServer) setFail(fail func(w http.ResponseWriter, body []byte)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = fail
}

// logSink collects every log line, at every verbosity.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

type harness struct {
	api     *fakeAPIServer
	clock   *clocktesting.FakeClock
	handler http.Handler
	logs    *logSink
	// seenAuthorization: the Authorization header reached the metrics handler.
	seenAuthorization atomic.Bool
}

func newHarness(t *testing.T, api *fakeAPIServer, cacheSize int) *harness {
	t.Helper()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	h := &harness{api: api, clock: clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), logs: &logSink{}}
	provider := metricsauth.NewFilterProvider(metricsauth.Options{Clock: h.clock, CacheSize: cacheSize})
	// QPS -1: no client-side rate limit, which would slow the flood test to 5 a second.
	filter, err := provider(&rest.Config{Host: srv.URL, QPS: -1}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	log := funcr.New(func(prefix, args string) {
		h.logs.mu.Lock()
		defer h.logs.mu.Unlock()
		h.logs.lines = append(h.logs.lines, prefix+" "+args)
	}, funcr.Options{Verbosity: 10})
	h.handler, err = filter(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			h.seenAuthorization.Store(true)
		}
		_, _ = io.WriteString(w, allowedAnswer)
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { assertNoToken(t, "the logs", h.logs.String()) })
	return h
}

// get sends GET /metrics with the Authorization header auth (none when
// empty) and returns the status code, after checking that no token is in the
// response.
func (h *harness) get(t *testing.T, auth string) int {
	t.Helper()
	return h.do(t, http.MethodGet, metricsPath, auth)
}

func (h *harness) do(t *testing.T, method, path, auth string) int {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	assertNoToken(t, "the response", rec.Body.String())
	if rec.Code == http.StatusOK && rec.Body.String() != allowedAnswer {
		t.Errorf("200 with body %q, want the metrics handler's", rec.Body.String())
	}
	return rec.Code
}

func assertNoToken(t *testing.T, where, text string) {
	t.Helper()
	assertNoneOf(t, where, text, secrets)
}

// assertNoneOf fails when text holds any 8 characters of a token. It does not
// print text, which would show the token.
func assertNoneOf(t *testing.T, where, text string, tokens []string) {
	t.Helper()
	for n, tok := range tokens {
		for i := 0; i+8 <= len(tok); i++ {
			if at := strings.Index(text, tok[i:i+8]); at >= 0 {
				t.Errorf("%s contain characters %d to %d of token #%d, at offset %d", where, i, i+8, n, at)
				return
			}
		}
	}
}

func bearer(token string) string { return "Bearer " + token }

func TestFilter(t *testing.T) {
	tests := map[string]struct {
		method, auth      string
		want              int
		wantTokenReviews  int
		wantAccessReviews int
	}{
		"no Authorization header":    {auth: "", want: http.StatusUnauthorized},
		"not a bearer token":         {auth: "Basic dXNlcjpwYXNz", want: http.StatusUnauthorized},
		"empty bearer token":         {auth: "Bearer ", want: http.StatusUnauthorized},
		"token not authenticated":    {auth: bearer(unknownToken), want: http.StatusUnauthorized, wantTokenReviews: 1},
		"authenticated, not allowed": {auth: bearer(otherToken), want: http.StatusForbidden, wantTokenReviews: 1, wantAccessReviews: 1},
		"allowed":                    {auth: bearer(readerToken), want: http.StatusOK, wantTokenReviews: 1, wantAccessReviews: 1},
		"scheme in any case":         {auth: "bearer " + readerToken, want: http.StatusOK, wantTokenReviews: 1, wantAccessReviews: 1},
		"post is another verb":       {method: http.MethodPost, auth: bearer(readerToken), want: http.StatusForbidden, wantTokenReviews: 1, wantAccessReviews: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, newFakeAPIServer(), 0)
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			if got := h.do(t, method, metricsPath, tc.auth); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
			if tr, sar := h.api.counts(); tr != tc.wantTokenReviews || sar != tc.wantAccessReviews {
				t.Errorf("%d TokenReviews and %d SubjectAccessReviews, want %d and %d", tr, sar, tc.wantTokenReviews, tc.wantAccessReviews)
			}
			if h.seenAuthorization.Load() {
				t.Error("the Authorization header reached the metrics handler")
			}
		})
	}
}

func TestSubjectAccessReviewDescribesTheCaller(t *testing.T) {
	tests := map[string]struct {
		token, method string
		want          authorizationv1.SubjectAccessReviewSpec
	}{
		"the reader's get": {
			token: readerToken, method: http.MethodGet,
			want: authorizationv1.SubjectAccessReviewSpec{
				User: readerName, UID: "uid-reader", Groups: []string{"system:serviceaccounts", "system:authenticated"},
				Extra:                 map[string]authorizationv1.ExtraValue{"authentication.kubernetes.io/pod-name": {"prometheus-0"}},
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: metricsPath, Verb: "get"},
			},
		},
		"system:authenticated is added; HEAD is head": {
			token: otherToken, method: http.MethodHead,
			want: authorizationv1.SubjectAccessReviewSpec{
				User: otherName, UID: "uid-other", Groups: []string{"system:serviceaccounts", "system:authenticated"},
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: metricsPath, Verb: "head"},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, newFakeAPIServer(), 0)
			h.do(t, tc.method, metricsPath, bearer(tc.token))
			h.api.mu.Lock()
			got := h.api.lastAccess
			h.api.mu.Unlock()
			if got.User != tc.want.User || got.UID != tc.want.UID || !slices.Equal(got.Groups, tc.want.Groups) ||
				fmt.Sprint(got.Extra) != fmt.Sprint(tc.want.Extra) || *got.NonResourceAttributes != *tc.want.NonResourceAttributes ||
				got.ResourceAttributes != nil {
				t.Errorf("SubjectAccessReview spec\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestCache steps the clock past each TTL and counts the reviews the API
// server sees.
func TestCache(t *testing.T) {
	type step struct {
		after             time.Duration // since the first request
		want              int
		wantTokenReviews  int
		wantAccessReviews int
	}
	tests := map[string]struct {
		token string
		steps []step
	}{
		"allowed: authentication for 2 minutes, the decision for 5": {
			token: readerToken,
			steps: []step{
				{0, http.StatusOK, 1, 1},
				{time.Second, http.StatusOK, 1, 1}, // a cache hit: no API call
				{metricsauth.DeniedTTL + time.Second, http.StatusOK, 1, 1},
				{metricsauth.AuthenticatedTTL, http.StatusOK, 1, 1},
				{metricsauth.AuthenticatedTTL + time.Second, http.StatusOK, 2, 1},
				// Authenticated again at 2m01s, expired at 4m01s.
				{metricsauth.AllowedTTL, http.StatusOK, 3, 1},
				{metricsauth.AllowedTTL + time.Second, http.StatusOK, 3, 2},
			},
		},
		"denied: the decision for 30 seconds": {
			token: otherToken,
			steps: []step{
				{0, http.StatusForbidden, 1, 1},
				{metricsauth.DeniedTTL, http.StatusForbidden, 1, 1},
				{metricsauth.DeniedTTL + time.Second, http.StatusForbidden, 1, 2},
				{metricsauth.AuthenticatedTTL + time.Second, http.StatusForbidden, 2, 3},
			},
		},
		"not authenticated: for 10 seconds": {
			token: unknownToken,
			steps: []step{
				{0, http.StatusUnauthorized, 1, 0},
				{metricsauth.UnauthenticatedTTL, http.StatusUnauthorized, 1, 0},
				{metricsauth.UnauthenticatedTTL + time.Second, http.StatusUnauthorized, 2, 0},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, newFakeAPIServer(), 0)
			start := h.clock.Now()
			for _, s := range tc.steps {
				h.clock.SetTime(start.Add(s.after))
				if got := h.get(t, bearer(tc.token)); got != s.want {
					t.Errorf("at %v: status %d, want %d", s.after, got, s.want)
				}
				if tr, sar := h.api.counts(); tr != s.wantTokenReviews || sar != s.wantAccessReviews {
					t.Errorf("at %v: %d TokenReviews and %d SubjectAccessReviews, want %d and %d",
						s.after, tr, sar, s.wantTokenReviews, s.wantAccessReviews)
				}
			}
		})
	}
}

func TestCacheIsBounded(t *testing.T) {
	t.Run("the least recently used entry goes", func(t *testing.T) {
		api := newFakeAPIServer()
		tokens := []string{"tok-a", "tok-b", "tok-c", "tok-d"}
		for _, tok := range tokens {
			api.users[tok] = authenticationv1.UserInfo{Username: "user-" + tok}
			api.allowed["user-"+tok] = true
		}
		h := newHarness(t, api, 3)
		for _, tok := range tokens {
			h.get(t, bearer(tok))
		}
		h.get(t, bearer("tok-d")) // still cached
		if tr, _ := api.counts(); tr != 4 {
			t.Errorf("%d TokenReviews, want 4", tr)
		}
		h.get(t, bearer("tok-a")) // pushed out by tok-d
		if tr, _ := api.counts(); tr != 5 {
			t.Errorf("%d TokenReviews, want 5", tr)
		}
	})
	t.Run("a flood of made-up tokens does not push out the scraper", func(t *testing.T) {
		h := newHarness(t, newFakeAPIServer(), 10)
		h.get(t, bearer(readerToken))
		for i := range 100 {
			if got := h.get(t, bearer(fmt.Sprintf("made-up-%d", i))); got != http.StatusUnauthorized {
				t.Fatalf("made-up token: status %d", got)
			}
		}
		if got := h.get(t, bearer(readerToken)); got != http.StatusOK {
			t.Errorf("status %d, want 200", got)
		}
		if tr, sar := h.api.counts(); tr != 101 || sar != 1 {
			t.Errorf("%d TokenReviews and %d SubjectAccessReviews, want 101 and 1", tr, sar)
		}
	})
}

func TestErrorsAreNotCachedAndNeverShowTheToken(t *testing.T) {
	tests := map[string]func(w http.ResponseWriter, body []byte){
		// client-go quotes a body that is not a Status in its error.
		"a proxy echoing the request": func(w http.ResponseWriter, body []byte) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write(body)
		},
		"a Status quoting the token": func(w http.ResponseWriter, body []byte) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(&metav1.Status{
				TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
				Status:   metav1.StatusFailure, Code: http.StatusInternalServerError, Reason: metav1.StatusReasonInternalError,
				Message: "cannot review " + string(body),
			})
		},
		"forbidden (the manager lacks RBAC)": func(w http.ResponseWriter, _ []byte) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(&metav1.Status{
				TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
				Status:   metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden,
				Message: "tokenreviews.authentication.k8s.io is forbidden",
			})
		},
	}
	for name, fail := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, newFakeAPIServer(), 0)
			h.api.setFail(fail)
			for _, tok := range secrets {
				if got := h.get(t, bearer(tok)); got != http.StatusInternalServerError {
					t.Errorf("status %d, want 500", got)
				}
			}
			if !strings.Contains(h.logs.String(), "Cannot authenticate a metrics request") {
				t.Errorf("no error logged:\n%s", h.logs.String())
			}
			h.api.setFail(nil)
			if got := h.get(t, bearer(readerToken)); got != http.StatusOK {
				t.Errorf("after the API server recovered: status %d, want 200", got)
			}
			// The authorization step fails the same way.
			h.clock.Step(metricsauth.AllowedTTL + time.Second)
			h.get(t, bearer(otherToken)) // authenticated and cached
			h.clock.Step(metricsauth.DeniedTTL + time.Second)
			h.api.setFail(fail)
			if got := h.get(t, bearer(otherToken)); got != http.StatusInternalServerError {
				t.Errorf("failed SubjectAccessReview: status %d, want 500", got)
			}
			if !strings.Contains(h.logs.String(), "Cannot authorize a metrics request") {
				t.Errorf("no error logged:\n%s", h.logs.String())
			}
		})
	}
}

func TestConcurrentScrapesShareOneReview(t *testing.T) {
	api := newFakeAPIServer()
	api.hold = make(chan struct{})
	h := newHarness(t, api, 0)
	var wg sync.WaitGroup
	codes := make([]int, 10)
	for i := range codes {
		wg.Go(func() { codes[i] = h.get(t, bearer(readerToken)) })
	}
	<-api.arrived
	// Let the other scrapes reach the review in flight; were they not to
	// share it, each would reach the API server.
	time.Sleep(50 * time.Millisecond)
	close(api.hold)
	wg.Wait()
	for _, c := range codes {
		if c != http.StatusOK {
			t.Errorf("status %d, want 200", c)
		}
	}
	if tr, sar := api.counts(); tr != 1 || sar != 1 {
		t.Errorf("%d TokenReviews and %d SubjectAccessReviews, want 1 and 1", tr, sar)
	}
}
