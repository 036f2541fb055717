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

package arcgis

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// maxTransports bounds the transports kept for distinct CA bundles; a
	// bundle that rotates should not leave its old transports behind forever.
	maxTransports = 64
	// maxRedirects bounds the redirects followed.
	maxRedirects = 3
)

// transports hands out one *http.Client per distinct CA bundle, so that all
// requests trusting the same roots share a connection pool (and keep-alive
// per host), while no request ever trusts roots it was not given.
type transports struct {
	// base is Options.Transport, nil for the client's own transports.
	base        http.RoundTripper
	idlePerHost int

	mu      sync.Mutex
	entries map[string]*transportEntry
	tick    uint64
}

type transportEntry struct {
	client  *http.Client
	lastUse uint64
}

func newTransports(base http.RoundTripper, idlePerHost int) *transports {
	return &transports{base: base, idlePerHost: idlePerHost, entries: map[string]*transportEntry{}}
}

// caKey names a CA bundle: its SHA-256, or "" for the system roots.
func caKey(bundle []byte) string {
	if len(bundle) == 0 {
		return ""
	}
	sum := sha256.Sum256(bundle)
	return hex.EncodeToString(sum[:])
}

// get returns the client for a CA bundle. A bundle without a single PEM
// certificate is refused, as trusting nothing (or silently the system roots)
// would hide the mistake.
func (t *transports) get(bundle []byte) (*http.Client, *Error) {
	key := caKey(bundle)
	t.mu.Lock()
	t.tick++
	if e, ok := t.entries[key]; ok {
		e.lastUse = t.tick
		t.mu.Unlock()
		return e.client, nil
	}
	t.mu.Unlock()

	var pool *x509.CertPool
	if len(bundle) > 0 {
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(bundle) {
			return nil, invalidRequest("the CA bundle holds no PEM-encoded certificate")
		}
	}
	client := &http.Client{
		Transport:     httpsOnly{t.newRoundTripper(pool)},
		CheckRedirect: checkRedirect,
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.entries[key]; ok { // another caller was quicker
		closeIdle(client)
		return e.client, nil
	}
	if len(t.entries) >= maxTransports {
		t.evictLocked()
	}
	t.tick++
	t.entries[key] = &transportEntry{client: client, lastUse: t.tick}
	return client, nil
}

// evictLocked drops the least recently used transport. Requests still using
// it finish normally; only its idle connections are closed.
func (t *transports) evictLocked() {
	var oldest string
	var oldestUse uint64
	first := true
	for k, e := range t.entries {
		if first || e.lastUse < oldestUse {
			oldest, oldestUse, first = k, e.lastUse, false
		}
	}
	if e, ok := t.entries[oldest]; ok {
		closeIdle(e.client)
		delete(t.entries, oldest)
	}
}

func closeIdle(c *http.Client) {
	if h, ok := c.Transport.(httpsOnly); ok {
		if ci, ok := h.next.(interface{ CloseIdleConnections() }); ok {
			ci.CloseIdleConnections()
		}
	}
}

// newRoundTripper builds the transport for one set of roots (nil: the
// system's). An *http.Transport given in Options is cloned and hardened the
// same way; any other RoundTripper is used as it is, as TLS is then its job.
func (t *transports) newRoundTripper(pool *x509.CertPool) http.RoundTripper {
	switch base := t.base.(type) {
	case nil:
		dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		return &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   t.idlePerHost,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
			TLSClientConfig:       hardenTLS(nil, pool),
		}
	case *http.Transport:
		clone := base.Clone()
		clone.TLSClientConfig = hardenTLS(clone.TLSClientConfig, pool)
		return clone
	default:
		return base
	}
}

// hardenTLS returns a TLS configuration that verifies certificates and
// speaks TLS 1.2 or later, trusting pool when one is given.
func hardenTLS(cfg *tls.Config, pool *x509.CertPool) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	cfg.InsecureSkipVerify = false
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if pool != nil {
		cfg.RootCAs = pool
	}
	return cfg
}

// httpsOnly refuses to send anything that is not HTTPS, whatever the caller,
// a redirect or a test transport might ask for.
type httpsOnly struct{ next http.RoundTripper }

func (h httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, &redirectError{msg: "refusing to send a request over plain http://"}
	}
	return h.next.RoundTrip(req)
}

// redirectError is a redirect the client refuses to follow.
type redirectError struct{ msg string }

func (e *redirectError) Error() string { return e.msg }

// checkRedirect follows only redirects that keep the request as it is: to
// HTTPS on the same host, with the method (and so the body) unchanged (307
// and 308). A 301/302/303 would turn the POST into a GET without its body,
// and another host would receive the credentials.
func checkRedirect(req *http.Request, via []*http.Request) error {
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	switch {
	case len(via) >= maxRedirects:
		return &redirectError{msg: fmt.Sprintf("stopped after %d redirects", len(via))}
	case req.URL.Scheme != "https":
		return &redirectError{msg: fmt.Sprintf("refusing to follow a redirect (HTTP %d) to plain http://%s; credentials and tokens are only sent over https://", status, req.URL.Host)}
	case !strings.EqualFold(req.URL.Host, via[0].URL.Host):
		return &redirectError{msg: fmt.Sprintf("refusing to follow a redirect (HTTP %d) to another host, %s; set the URL to that service if it is the right one", status, req.URL.Host)}
	case req.Method != via[0].Method:
		return &redirectError{msg: fmt.Sprintf("refusing to follow a redirect (HTTP %d) to %s, which would turn the POST into a %s; set the URL to the final address", status, req.URL.Path, req.Method)}
	}
	return nil
}

// describeNetError says what went wrong on the network or in TLS, built from
// the error's type so that the URL a *url.Error quotes is never repeated.
func describeNetError(err error) string {
	var (
		unknownCA   x509.UnknownAuthorityError
		hostname    x509.HostnameError
		invalidCert x509.CertificateInvalidError
		record      tls.RecordHeaderError
		alert       tls.AlertError
		dnsErr      *net.DNSError
		opErr       *net.OpError
	)
	switch {
	case errors.As(err, &unknownCA):
		return "TLS: the service's certificate is signed by an unknown authority; set a CA bundle holding the root that signed it"
	case errors.As(err, &hostname):
		return fmt.Sprintf("TLS: the service's certificate is not valid for %s", hostname.Host)
	case errors.As(err, &invalidCert):
		return "TLS: the service's certificate is invalid: " + invalidCert.Error()
	case errors.As(err, &record):
		return "TLS handshake failed: the service did not answer with TLS (is it plain HTTP on this port?)"
	case errors.As(err, &alert):
		return "TLS handshake failed: the service sent alert " + alert.Error()
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return fmt.Sprintf("DNS: no such host %s", dnsErr.Name)
		}
		return fmt.Sprintf("DNS lookup of %s failed", dnsErr.Name)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the service"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection closed before a complete answer"
	case errors.As(err, &opErr):
		return fmt.Sprintf("network error during %s: %s", opErr.Op, errorText(opErr.Err))
	}
	return "request failed: " + errorText(err)
}

// errorText is the text of err without the *url.Error wrapping, which
// quotes the method and URL.
func errorText(err error) string {
	var ue *url.Error
	for err != nil && errors.As(err, &ue) && ue.Err != nil {
		err = ue.Err
	}
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}
