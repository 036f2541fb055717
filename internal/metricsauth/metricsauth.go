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

// Package metricsauth admits to the metrics endpoint only callers whose bearer
// token the API server authenticates (TokenReview) and authorizes for the
// request's path and verb (SubjectAccessReview), as controller-runtime's
// filters.WithAuthenticationAndAuthorization and kube-rbac-proxy do. It is
// written against client-go's typed clients alone: controller-runtime's
// filter links k8s.io/apiserver, and with it CEL, gRPC and OpenTelemetry,
// which cost the manager about 30 MB of binary and 16–19 MiB of idle RSS
// (docs/design.md, "Hand-written pieces").
package metricsauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/singleflight"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/cache"
	authenticationv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// How long answers are reused. The kube-apiserver's defaults for delegated
// authentication and authorization (--authentication-token-webhook-cache-ttl,
// --authorization-webhook-cache-authorized-ttl and -unauthorized-ttl): a
// scrape every 15–30 s then costs two API calls every few minutes, not two per
// scrape, and a revoked binding or deleted ServiceAccount still takes effect
// within minutes.
const (
	AuthenticatedTTL   = 2 * time.Minute
	UnauthenticatedTTL = 10 * time.Second
	AllowedTTL         = 5 * time.Minute
	DeniedTTL          = 30 * time.Second
)

// DefaultCacheSize bounds each of the three caches, so that a flood of made-up
// tokens costs API calls but not memory.
const DefaultCacheSize = 1000

// reviewTimeout bounds one TokenReview or SubjectAccessReview, as
// controller-runtime's filter does. A failed scrape is retried by Prometheus
// at its next interval, so there is no retry here beyond client-go's own
// (after a 429's Retry-After).
const reviewTimeout = 10 * time.Second

// Options configure the filter. The zero value is the production setting.
type Options struct {
	// Clock tells the caches the time; the real clock when nil.
	Clock clock.PassiveClock
	// CacheSize bounds each cache; DefaultCacheSize when 0.
	CacheSize int
}

// WithAuthenticationAndAuthorization is a metricsserver.Options.FilterProvider
// with the default options, in place of controller-runtime's filter of that
// name. The manager's ServiceAccount needs to create tokenreviews
// (authentication.k8s.io) and subjectaccessreviews (authorization.k8s.io);
// scrapers need `get` on the nonResourceURL they scrape (/metrics).
func WithAuthenticationAndAuthorization(c *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	return NewFilterProvider(Options{})(c, httpClient)
}

var _ = metricsserver.Options{FilterProvider: WithAuthenticationAndAuthorization}

// NewFilterProvider returns a metricsserver.Options.FilterProvider that
// reviews callers with the API server described by c, over httpClient.
func NewFilterProvider(opts Options) func(c *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	return func(c *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
		authn, err := authenticationv1client.NewForConfigAndClient(c, httpClient)
		if err != nil {
			return nil, fmt.Errorf("creating the TokenReview client: %w", err)
		}
		authz, err := authorizationv1client.NewForConfigAndClient(c, httpClient)
		if err != nil {
			return nil, fmt.Errorf("creating the SubjectAccessReview client: %w", err)
		}
		g, err := newGuard(authn.TokenReviews(), authz.SubjectAccessReviews(), opts)
		if err != nil {
			return nil, err
		}
		return g.filter, nil
	}
}

// guard holds the review clients and what they answered.
type guard struct {
	tokenReviews  authenticationv1client.TokenReviewInterface
	accessReviews authorizationv1client.SubjectAccessReviewInterface

	// hashKey keys the HMAC that turns a token into a cache key, as the
	// kube-apiserver's token cache does: no token is held in memory after its
	// request, and a key cannot be checked against a guessed token outside
	// this process.
	hashKey []byte

	// Who each token is (tokenKey → authenticationv1.UserInfo), apart from the
	// tokens found bad (tokenKey → struct{}) so that a flood of made-up tokens
	// cannot push the scraper's entry out.
	authenticated   *cache.LRUExpireCache
	unauthenticated *cache.LRUExpireCache
	// Decisions (decisionKey → bool allowed).
	decisions *cache.LRUExpireCache

	// Concurrent scrapes with one token (two Prometheus replicas) share one review.
	flight singleflight.Group
}

type tokenKey [sha256.Size]byte

type decisionKey struct {
	token      tokenKey
	verb, path string
}

func newGuard(tokenReviews authenticationv1client.TokenReviewInterface,
	accessReviews authorizationv1client.SubjectAccessReviewInterface, opts Options) (*guard, error) {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	size := opts.CacheSize
	if size <= 0 {
		size = DefaultCacheSize
	}
	hashKey := make([]byte, 32)
	if _, err := rand.Read(hashKey); err != nil {
		return nil, fmt.Errorf("creating the token cache's key: %w", err)
	}
	return &guard{
		tokenReviews:    tokenReviews,
		accessReviews:   accessReviews,
		hashKey:         hashKey,
		authenticated:   cache.NewLRUExpireCacheWithClock(size, clk),
		unauthenticated: cache.NewLRUExpireCacheWithClock(size, clk),
		decisions:       cache.NewLRUExpireCacheWithClock(size, clk),
	}, nil
}

// filter is the metricsserver.Filter.
func (g *guard) filter(log logr.Logger, next http.Handler) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header)
		if !ok {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		// Nothing behind the filter needs the token; it must not reach a log
		// or a handler by accident.
		r.Header.Del("Authorization")
		key := g.tokenKey(token)

		user, ok, err := g.authenticate(r.Context(), key, token)
		if err != nil {
			log.Error(safeError(err, token), "Cannot authenticate a metrics request: the TokenReview failed")
			http.Error(w, "Authentication failed", http.StatusInternalServerError)
			return
		}
		if !ok {
			log.V(1).Info("Metrics request refused: the token is not authenticated")
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}

		verb, path := strings.ToLower(r.Method), r.URL.Path
		allowed, err := g.authorize(r.Context(), decisionKey{token: key, verb: verb, path: path}, user)
		if err != nil {
			log.Error(safeError(err, token), "Cannot authorize a metrics request: the SubjectAccessReview failed",
				"user", user.Username, "verb", verb, "path", path)
			http.Error(w, "Authorization failed", http.StatusInternalServerError)
			return
		}
		if !allowed {
			log.V(1).Info("Metrics request forbidden", "user", user.Username, "verb", verb, "path", path)
			http.Error(w, fmt.Sprintf("Forbidden: user %q may not %s %s", user.Username, verb, path), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	}), nil
}

// bearerToken reads "Authorization: Bearer <token>" the way the
// kube-apiserver's bearer token authenticator does.
func bearerToken(h http.Header) (string, bool) {
	parts := strings.SplitN(strings.TrimSpace(h.Get("Authorization")), " ", 3)
	if len(parts) < 2 || !strings.EqualFold(parts[0], "bearer") || parts[1] == "" {
		return "", false
	}
	return parts[1], true
}

func (g *guard) tokenKey(token string) tokenKey {
	mac := hmac.New(sha256.New, g.hashKey)
	mac.Write([]byte(token))
	var k tokenKey
	mac.Sum(k[:0])
	return k
}

// authenticate returns who the token belongs to; ok is false when the API
// server does not authenticate it. Errors are not cached.
func (g *guard) authenticate(ctx context.Context, key tokenKey, token string) (authenticationv1.UserInfo, bool, error) {
	if v, ok := g.authenticated.Get(key); ok {
		return v.(authenticationv1.UserInfo), true, nil
	}
	if _, ok := g.unauthenticated.Get(key); ok {
		return authenticationv1.UserInfo{}, false, nil
	}
	v, err, _ := g.flight.Do("authn\x00"+string(key[:]), func() (any, error) {
		ctx, cancel := reviewContext(ctx)
		defer cancel()
		review, err := g.tokenReviews.Create(ctx, &authenticationv1.TokenReview{
			Spec: authenticationv1.TokenReviewSpec{Token: token},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil, err
		}
		// status.error is not logged: it is the authenticator's own text.
		if !review.Status.Authenticated {
			g.unauthenticated.Add(key, struct{}{}, UnauthenticatedTTL)
			return nil, nil
		}
		user := withAuthenticatedGroup(review.Status.User)
		g.authenticated.Add(key, user, AuthenticatedTTL)
		return user, nil
	})
	if err != nil || v == nil {
		return authenticationv1.UserInfo{}, false, err
	}
	return v.(authenticationv1.UserInfo), true, nil
}

// authorize asks whether user may do key.verb on key.path. Errors are not
// cached.
func (g *guard) authorize(ctx context.Context, key decisionKey, user authenticationv1.UserInfo) (bool, error) {
	if v, ok := g.decisions.Get(key); ok {
		return v.(bool), nil
	}
	v, err, _ := g.flight.Do("authz\x00"+string(key.token[:])+"\x00"+key.verb+"\x00"+key.path, func() (any, error) {
		ctx, cancel := reviewContext(ctx)
		defer cancel()
		extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
		for k, v := range user.Extra {
			extra[k] = authorizationv1.ExtraValue(v)
		}
		review, err := g.accessReviews.Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{
				User:                  user.Username,
				UID:                   user.UID,
				Groups:                user.Groups,
				Extra:                 extra,
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: key.path, Verb: key.verb},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil, err
		}
		// Denied and "no opinion" both refuse, as for controller-runtime's filter.
		allowed := review.Status.Allowed
		ttl := DeniedTTL
		if allowed {
			ttl = AllowedTTL
		}
		g.decisions.Add(key, allowed, ttl)
		return allowed, nil
	})
	if err != nil {
		return false, err
	}
	return v.(bool), nil
}

// reviewContext keeps a review going when the scrape that started it gives
// up, since concurrent scrapes may be waiting for the same answer, and bounds
// it by reviewTimeout.
func reviewContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), reviewTimeout)
}

// withAuthenticatedGroup adds system:authenticated, as the kube-apiserver's
// authenticated group adder does for the requests it serves; TokenReviews of
// the kube-apiserver's own tokens carry it already.
func withAuthenticatedGroup(u authenticationv1.UserInfo) authenticationv1.UserInfo {
	const authenticated, unauthenticated, anonymous = "system:authenticated", "system:unauthenticated", "system:anonymous"
	if u.Username == anonymous || slices.Contains(u.Groups, authenticated) || slices.Contains(u.Groups, unauthenticated) {
		return u
	}
	u.Groups = append(slices.Clip(u.Groups), authenticated)
	return u
}

// safeError describes err from a review without the token. A response body
// that was not a Kubernetes Status is dropped whole (client-go quotes up to
// 2 KiB of it, and a proxy could echo the request); anything else is the API
// server's own message, with the token cut out should it ever appear.
func safeError(err error, token string) error {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		if s.Details != nil && slices.ContainsFunc(s.Details.Causes, func(c metav1.StatusCause) bool {
			return c.Type == metav1.CauseTypeUnexpectedServerResponse
		}) {
			return fmt.Errorf("unexpected response from the API server: HTTP %d (%s)", s.Code, s.Reason)
		}
	}
	return errors.New(strings.ReplaceAll(err.Error(), token, "[token]"))
}
