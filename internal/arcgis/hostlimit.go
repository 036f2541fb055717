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
	"context"
	"strings"
	"sync"
)

// hostLimiter bounds the requests in flight to each host, so that a burst of
// renewals (after a restart, or many tokens sharing a portal) cannot flood a
// service that locks accounts and throttles clients. Waiting honours the
// caller's context. Hosts are forgotten once no request uses them.
type hostLimiter struct {
	limit int // <= 0: unlimited

	mu    sync.Mutex
	hosts map[string]*hostSlots
}

type hostSlots struct {
	sem   chan struct{}
	users int // requests holding or waiting for a slot
}

func newHostLimiter(limit int) *hostLimiter {
	return &hostLimiter{limit: limit, hosts: map[string]*hostSlots{}}
}

// acquire waits for a slot on host and returns the function that frees it,
// or the context's error.
func (l *hostLimiter) acquire(ctx context.Context, host string) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if l.limit <= 0 {
		return func() {}, nil
	}
	host = canonicalHost(host)
	l.mu.Lock()
	s, ok := l.hosts[host]
	if !ok {
		s = &hostSlots{sem: make(chan struct{}, l.limit)}
		l.hosts[host] = s
	}
	s.users++
	l.mu.Unlock()

	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		l.leave(host, s)
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-s.sem
			l.leave(host, s)
		})
	}, nil
}

func (l *hostLimiter) leave(host string, s *hostSlots) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s.users--
	if s.users == 0 {
		delete(l.hosts, host)
	}
}

// canonicalHost makes "Example.com" and "example.com:443" one host.
func canonicalHost(host string) string {
	host = strings.ToLower(host)
	return strings.TrimSuffix(host, ":443")
}
