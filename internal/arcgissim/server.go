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

package arcgissim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// shutdownTimeout bounds how long Close waits for requests in flight.
const shutdownTimeout = 5 * time.Second

// Simulator is a simulated ArcGIS Enterprise portal and ArcGIS Server on one
// HTTPS listener. It is safe for concurrent use.
type Simulator struct {
	cfg      Config
	tls      *tlsMaterial
	tokens   *tokenStore
	accounts *accounts
	faults   faultList
	counters *counters
	routes   map[string]route
	patterns []patternRoute
	wordings *wordings
	apiKeys  *apiKeyStore
	offset   atomic.Int64 // the service clock's offset, a time.Duration
	created  time.Time    // when users (and items) were created, service time
	control  http.Handler
	log      *slog.Logger

	// done is closed by Close so that delayed requests give up at once.
	done      chan struct{}
	closeOnce sync.Once
	base      atomic.Pointer[string] // "https://127.0.0.1:PORT" once started

	mu      sync.Mutex // guards srv and closed
	srv     *http.Server
	closed  bool
	serveCh chan struct{} // closed when Serve returns

	connMu   sync.Mutex
	newConns map[net.Conn]struct{} // connections that sent no request yet
}

// New validates cfg and prepares a Simulator, generating its CA and serving
// certificate. It does not listen yet: call Start.
func New(cfg Config) (*Simulator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	material, err := newTLSMaterial()
	if err != nil {
		return nil, fmt.Errorf("arcgissim: %w", err)
	}
	s := &Simulator{
		cfg:      cfg,
		tls:      material,
		tokens:   newTokenStore(),
		accounts: newAccounts(cfg),
		counters: newCounters(),
		log:      cfg.Logger,
		done:     make(chan struct{}),
	}
	s.offset.Store(int64(cfg.ClockOffset))
	s.created = s.ServiceNow().Add(-userCreatedAgo).Truncate(time.Second)
	s.wordings = newWordings(cfg)
	s.apiKeys = newAPIKeyStore()
	s.routes = s.newRoutes()
	s.patterns = s.newPatternRoutes()
	for _, item := range cfg.APIKeys {
		if err := s.SetAPIKeyItem(item); err != nil {
			return nil, err
		}
	}
	s.control = s.newControlHandler()
	return s, nil
}

// Start listens on Config.Listen and serves HTTPS in the background.
func (s *Simulator) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errors.New("arcgissim: simulator is closed")
	case s.srv != nil:
		return errors.New("arcgissim: simulator already started")
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("arcgissim: %w", err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	base := "https://" + net.JoinHostPort(addr.IP.String(), strconv.Itoa(addr.Port))
	s.base.Store(&base)

	// HTTP/1.1 only: ArcGIS behind IIS or Tomcat commonly is, each
	// concurrent request then needs its own connection (which makes
	// per-host concurrency limits observable), and FaultDrop can hijack.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	errorLog := log.New(io.Discard, "", 0)
	if s.log != nil {
		errorLog = slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)
	}
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{s.tls.leaf}, MinVersion: tls.VersionTLS12},
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          errorLog,
		ConnState:         s.trackConn,
	}
	s.serveCh = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) && s.log != nil {
			s.log.Error("arcgis-sim stopped serving", "error", err)
		}
	}(s.srv, s.serveCh)
	return nil
}

// Close stops the simulator: delayed requests are abandoned, requests in
// flight get a few seconds to finish. Closing twice, or before Start, is fine.
func (s *Simulator) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.srv == nil {
		s.closed = true
		return nil
	}
	s.closed = true
	// Shutdown waits for connections that never sent a request (clients open
	// spares under load) as if they were busy: close them first.
	s.closeNewConns()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	<-s.serveCh
	return err
}

// trackConn remembers the connections that have not sent a request yet.
func (s *Simulator) trackConn(c net.Conn, state http.ConnState) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.newConns == nil {
		s.newConns = map[net.Conn]struct{}{}
	}
	if state == http.StateNew {
		s.newConns[c] = struct{}{}
	} else {
		delete(s.newConns, c)
	}
}

func (s *Simulator) closeNewConns() {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	for c := range s.newConns {
		_ = c.Close()
	}
	s.newConns = nil
}

// URL returns the listener's root, e.g. "https://127.0.0.1:41234", or "" before Start.
func (s *Simulator) URL() string {
	if p := s.base.Load(); p != nil {
		return *p
	}
	return ""
}

// PortalURL returns the portal root, URL()+"/portal"; the REST API is under
// PortalURL()+"/sharing/rest".
func (s *Simulator) PortalURL() string { return s.URL() + "/portal" }

// ServerURL returns the server root, URL()+"/server".
func (s *Simulator) ServerURL() string { return s.URL() + "/server" }

// CAPEM returns the PEM of the CA that signed the serving certificate.
func (s *Simulator) CAPEM() []byte { return append([]byte(nil), s.tls.caPEM...) }

// RevokeAll simulates a change of the portal's and server's shared key:
// every token issued so far is answered with 498 from now on. API keys are
// not tokens of the shared key: use InvalidateAPIKey for those.
func (s *Simulator) RevokeAll() { s.tokens.revokeAll() }

// SetUser creates a user or changes its password; an empty password deletes
// the user. A locked account stays locked.
func (s *Simulator) SetUser(name, password string) { s.accounts.setUser(name, password) }

// SetApp registers an OAuth app or changes its secret; an empty secret
// deletes the app.
func (s *Simulator) SetApp(clientID, clientSecret string) { s.accounts.setApp(clientID, clientSecret) }

// InjectFault adds a fault after those already injected. It fails if the
// fault could never fire or is incomplete.
func (s *Simulator) InjectFault(f Fault) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.faults.add(f)
	return nil
}

// ClearFaults removes every injected fault.
func (s *Simulator) ClearFaults() { s.faults.clear() }

// Faults returns the active faults, with Count set to the uses left (0 for
// faults that last until cleared).
func (s *Simulator) Faults() []Fault { return s.faults.list() }

// Counters returns a snapshot of the counters.
func (s *Simulator) Counters() Counters { return s.counters.snapshot() }

// ResetCounters zeroes the counters; PeakInFlight restarts from the requests
// in flight.
func (s *Simulator) ResetCounters() { s.counters.reset() }

// Secrets returns every token issued and every password and client secret
// ever configured, so tests can scan logs, events and objects for leaks.
func (s *Simulator) Secrets() []string {
	out := append(s.accounts.allSecrets(), s.tokens.all()...)
	return append(out, s.apiKeys.allSecrets()...)
}
