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

// Package accountguard is a circuit breaker per ArcGIS account, shared by every
// ArcGISToken that logs in with that account.
//
// ArcGIS Server locks a built-in user after 5 consecutive failed logins within
// 15 minutes, for 15 minutes, and portals lock too. However many ArcGISTokens
// share a bad password, the guard lets at most MaxAttemptsPerWindow (4) failed
// logins reach an account in any Window (15 minutes), spaces further attempts
// exponentially (5 minutes up to an hour), stops while the account is locked,
// and lets one attempt through at once when the credentials change.
//
// An account is named by the caller (arcgis.Client.Account): the real login
// endpoint, after discovery and normalisation, and the case-sensitive
// username, so that every door to one account (a portal and a federated
// server sending its logins there, www.arcgis.com and an organisation's URL,
// a web adaptor and the :7443 port) shares one breaker.
//
// Concurrency is bounded too: one login at a time for an account whose state
// is unknown or failing (so a burst of new objects cannot fail together), and
// MaxConcurrent (below the lock-out threshold) for an account known to work, so
// that a password changed behind the operator's back costs at most that many
// failed logins before the guard closes. Never more logins are in flight than
// the failures left in the window, so that even if all of them fail the limit
// holds. A success does not empty the window: the limit is on failed logins
// in any window, whatever came between them.
//
// A caller never waits long: Acquire gives up after AcquireTimeout with a
// Denied that says when to try again, so that one slow account cannot hold
// the workers of every other. Accounts with nothing left to remember are
// dropped.
package accountguard

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/reasons"
)

// Outcome is what a login attempt told about the account.
type Outcome int

const (
	// Success: the service accepted the credentials.
	Success Outcome = iota
	// Rejected: the service refused the credentials (InvalidCredentials).
	Rejected
	// Locked: the service says the account is locked.
	Locked
	// Inconclusive: the attempt failed for a reason that says nothing about
	// the credentials (network, 5xx, a malformed answer).
	Inconclusive
)

// OutcomeOf is what a failed login attempt tells the guard. login says the
// request carried the account's password or client secret (arcgis.Error's
// Login); reason is the condition reason the failure is reported with. A
// request without credentials tells nothing about them. Otherwise every
// reason the reasons table counts as a failed login (any that is not clearly
// transient, and any unknown one) is a rejection: ArcGIS words its refusals
// in many ways and locks at 5, so it is better to count one too many.
func OutcomeOf(login bool, reason string) Outcome {
	switch {
	case !login:
		return Inconclusive
	case reason == arcgisv1alpha1.ReasonAccountLocked:
		return Locked
	case reasons.Lookup(reason).FailedLogin:
		return Rejected
	}
	return Inconclusive
}

// Options tune the guard. Zero values take the defaults, which follow ArcGIS
// Server's lock-out policy.
type Options struct {
	// Window is the service's lock-out window. Default 15m.
	Window time.Duration
	// MaxAttemptsPerWindow is the most failed logins allowed in any Window;
	// keep it below the service's threshold (5). Default 4.
	MaxAttemptsPerWindow int
	// LockoutDuration is how long the service keeps an account locked. Default 15m.
	LockoutDuration time.Duration
	// BackoffBase and BackoffMax space the attempts after consecutive
	// failures: base × 2^(n−1), at most max. Defaults 5m and 1h.
	BackoffBase, BackoffMax time.Duration
	// MaxConcurrent is how many logins may run at once for an account known
	// to work. Default 4; one at a time otherwise; never more than the
	// failures left in the window (MaxAttemptsPerWindow minus those in it).
	MaxConcurrent int
	// AcquireTimeout bounds the wait of Acquire for other logins of the
	// account to end. Default 10s.
	AcquireTimeout time.Duration
	// Clock; the real clock when nil. When it is a clock.Clock (a fake clock
	// in tests), AcquireTimeout is measured on it.
	Clock clock.PassiveClock
}

func (o *Options) defaults() {
	if o.Window <= 0 {
		o.Window = 15 * time.Minute
	}
	if o.MaxAttemptsPerWindow <= 0 {
		o.MaxAttemptsPerWindow = 4
	}
	if o.LockoutDuration <= 0 {
		o.LockoutDuration = 15 * time.Minute
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 5 * time.Minute
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = time.Hour
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 4
	}
	if o.AcquireTimeout <= 0 {
		o.AcquireTimeout = 10 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
}

// sweepEvery spaces the sweeps for accounts with nothing left to remember.
const sweepEvery = time.Minute

// Guard holds the state of every account. It is safe for concurrent use.
type Guard struct {
	opts      Options
	mu        sync.Mutex
	accounts  map[string]*account
	lastSweep time.Time
}

type account struct {
	healthy     bool // the last conclusive login succeeded
	lastSuccess time.Time
	failures    []time.Time // failed logins within the window, oldest first
	consecutive int         // failed logins since the last success
	lastFailure time.Time
	lastReason  string
	lockedUntil time.Time
	// failedCredentials holds the fingerprints (in memory only) of every
	// credentials that failed since the last success, so that new credentials
	// are tried at once and old ones are not tried again early.
	// unknownFailed is set by a failure seeded without a fingerprint: then
	// every credentials count as failed, the safe side.
	failedCredentials map[string]bool
	unknownFailed     bool
	// lastByOwner is the latest failure recorded for each owner (an
	// ArcGISToken), so that the same failure told again by Seed counts once.
	lastByOwner map[string]time.Time
	inFlight    int
	waiting     int           // callers of Acquire waiting on changed
	changed     chan struct{} // closed and replaced whenever inFlight drops
}

// New returns a Guard.
func New(opts Options) *Guard {
	opts.defaults()
	return &Guard{opts: opts, accounts: map[string]*account{}}
}

// Denied is returned by Acquire when no login may be made now. Its message
// names the account's service and user, never a credential.
type Denied struct {
	// Reason is a condition reason: the account's last failure
	// (InvalidCredentials, AccountLocked, or another that counts as a failed
	// login), or ServiceUnavailable when Busy and the account has not failed.
	Reason string
	// Busy says the wait for other logins of the account to end took longer
	// than AcquireTimeout: nothing failed, try again at Until.
	Busy bool
	// Until is the earliest time a login may be tried again.
	Until time.Time
	// Message explains the wait.
	Message string
}

func (d *Denied) Error() string { return d.Message }

// Permit is one admitted login. Release it exactly once.
type Permit struct {
	g           *Guard
	key         string
	credentials string
	owner       string
	released    bool
}

// Acquire asks to make one login for the account key with the credentials
// fingerprinted by credentials (any string that changes when they change), on
// behalf of owner (the ArcGISToken; may be empty). It waits while other logins
// for the account are in flight and their outcome decides this one, for at
// most AcquireTimeout (then *Denied with Busy set) and as long as ctx allows
// (then ctx.Err()), and returns *Denied when the account must not be tried
// now.
func (g *Guard) Acquire(ctx context.Context, key, credentials, owner string) (*Permit, error) {
	var timeout <-chan time.Time
	if c, ok := g.opts.Clock.(clock.Clock); ok {
		t := c.NewTimer(g.opts.AcquireTimeout)
		defer t.Stop()
		timeout = t.C()
	} else {
		t := time.NewTimer(g.opts.AcquireTimeout)
		defer t.Stop()
		timeout = t.C
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		g.mu.Lock()
		now := g.opts.Clock.Now()
		g.sweep(now)
		a := g.account(key)
		a.prune(now, g.opts.Window)
		if d := g.deny(a, key, credentials, now); d != nil {
			g.mu.Unlock()
			return nil, d
		}
		if a.inFlight < g.limit(a) {
			a.inFlight++
			g.mu.Unlock()
			return &Permit{g: g, key: key, credentials: credentials, owner: owner}, nil
		}
		wait := a.changed
		a.waiting++
		g.mu.Unlock()
		select {
		case <-wait:
			g.doneWaiting(key)
		case <-ctx.Done():
			g.doneWaiting(key)
			return nil, ctx.Err()
		case <-timeout:
			g.doneWaiting(key)
			return nil, g.busy(key)
		}
	}
}

func (g *Guard) doneWaiting(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.account(key).waiting--
}

// busy is the answer to a wait that took too long: try again a little later.
func (g *Guard) busy(key string) *Denied {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.account(key)
	until := g.opts.Clock.Now().Add(g.opts.AcquireTimeout)
	reason := a.lastReason
	if reason == "" {
		reason = arcgisv1alpha1.ReasonServiceUnavailable
	}
	return &Denied{
		Reason: reason,
		Until:  until,
		Busy:   true,
		Message: fmt.Sprintf("Not logging in as %s yet: %d other logins for the account are still in flight after %s; next attempt at %s",
			describe(key), a.inFlight, g.opts.AcquireTimeout, until.UTC().Format(time.RFC3339)),
	}
}

// Len is the number of accounts the guard remembers.
func (g *Guard) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.accounts)
}

// sweep drops, at most once every sweepEvery, the accounts that have nothing
// left to remember: no login in flight or waiting, no failure in the window,
// no lock-out running, no success in the window (whose account would
// otherwise lose its known-good concurrency between two renewals), and no
// failure within twice BackoffMax (whose count spaces the next attempts).
// Forgetting one costs nothing the service would not forgive: its next
// login is the first of a fresh window.
func (g *Guard) sweep(now time.Time) {
	if now.Sub(g.lastSweep) < sweepEvery && !now.Before(g.lastSweep) {
		return
	}
	g.lastSweep = now
	for k, a := range g.accounts {
		if g.idle(a, now) {
			delete(g.accounts, k)
		}
	}
}

func (g *Guard) idle(a *account, now time.Time) bool {
	if a.inFlight > 0 || a.waiting > 0 || now.Before(a.lockedUntil) {
		return false
	}
	a.prune(now, g.opts.Window)
	if len(a.failures) > 0 || now.Sub(a.lastSuccess) < g.opts.Window {
		return false
	}
	// The count of consecutive failures spaces the next attempts further
	// and further: it is kept while a retry may still come at the end of the
	// longest backoff, and some time after.
	return a.consecutive == 0 || now.Sub(a.lastFailure) >= 2*max(g.opts.BackoffMax, g.opts.Window)
}

// Release records the outcome of the login and returns the time it was
// recorded at. retryAfter is the lock-out the service announced, if any. Store
// that time as the failure's time (status.lastFailureTime), so that Seed
// recognises the failure when it is told about it again.
func (p *Permit) Release(outcome Outcome, retryAfter time.Duration) time.Time {
	if p == nil || p.released {
		return time.Time{}
	}
	p.released = true
	g := p.g
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.account(p.key)
	now := g.opts.Clock.Now()
	a.inFlight--
	switch outcome {
	case Success:
		// The failures stay in the window: the limit is on failed logins in
		// any window, whatever succeeded between them.
		a.healthy = true
		a.lastSuccess = now
		a.consecutive = 0
		a.lockedUntil = time.Time{}
		a.failedCredentials = nil
		a.unknownFailed = false
		a.lastByOwner = nil
		a.lastReason = ""
	case Rejected, Locked:
		a.healthy = false
		a.failures = append(a.failures, now)
		a.consecutive++
		a.lastFailure = now
		a.addFailedCredentials(p.credentials)
		a.recordOwner(p.owner, now)
		a.lastReason = arcgisv1alpha1.ReasonInvalidCredentials
		if outcome == Locked {
			a.lastReason = arcgisv1alpha1.ReasonAccountLocked
			a.lockedUntil = now.Add(max(retryAfter, g.opts.LockoutDuration))
		}
	case Inconclusive:
	}
	close(a.changed)
	a.changed = make(chan struct{})
	return now
}

// Seed records a failed login known from an ArcGISToken's status, so that a
// restarted operator remembers recent failures. credentials fingerprints the
// credentials that failed, or is empty when they are not known. owner names
// the ArcGISToken: a failure the guard already holds from that owner (told
// again, or recorded live by Release) counts once. attempts is the number of
// consecutive failures recorded.
//
// Status does not say whether the failed request carried the credentials,
// so every reason the reasons table counts as a failed login counts, except
// InvalidToken: ArcGIS answers a password with 400, never 498, which is what
// a federated exchange (a token, not a password) gets.
func (g *Guard) Seed(key, credentials, owner string, failedAt time.Time, reason string, attempts int32) {
	if reason == "" || reason == arcgisv1alpha1.ReasonInvalidToken || !reasons.Lookup(reason).FailedLogin {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.opts.Clock.Now()
	if now.Sub(failedAt) > g.opts.BackoffMax {
		return
	}
	a := g.account(key)
	if !failedAt.After(a.lastSuccess) {
		// A later success is already known: the failure no longer counts.
		return
	}
	// A failure told again still counts once in the window; the rest of what
	// it says (attempts, lock) is merged.
	known := a.knows(owner, failedAt)
	a.recordOwner(owner, failedAt)
	if !known && now.Sub(failedAt) < g.opts.Window {
		a.failures = append(a.failures, failedAt)
		sort.Slice(a.failures, func(i, j int) bool { return a.failures[i].Before(a.failures[j]) })
	}
	a.healthy = false
	if int(attempts) > a.consecutive {
		a.consecutive = int(attempts)
	}
	if failedAt.After(a.lastFailure.Add(time.Second)) {
		a.lastFailure = failedAt
		a.lastReason = reason
	}
	if credentials == "" {
		a.unknownFailed = true
	} else {
		a.addFailedCredentials(credentials)
	}
	if reason == arcgisv1alpha1.ReasonAccountLocked {
		if until := failedAt.Add(g.opts.LockoutDuration); until.After(a.lockedUntil) {
			a.lockedUntil = until
		}
	}
}

func (g *Guard) account(key string) *account {
	a := g.accounts[key]
	if a == nil {
		a = &account{changed: make(chan struct{})}
		g.accounts[key] = a
	}
	return a
}

// limit is how many logins may be in flight for the account: never more than
// the failures left in the window, so that all of them failing still keeps
// the limit.
func (g *Guard) limit(a *account) int {
	n := 1
	if a.healthy {
		n = g.opts.MaxConcurrent
	}
	return max(0, min(n, g.opts.MaxAttemptsPerWindow-len(a.failures)))
}

func (g *Guard) deny(a *account, key, credentials string, now time.Time) *Denied {
	sameCredentials := a.unknownFailed || a.failedCredentials[credentials]
	if sameCredentials && now.Before(a.lockedUntil) {
		return &Denied{
			Reason: arcgisv1alpha1.ReasonAccountLocked,
			Until:  a.lockedUntil,
			Message: fmt.Sprintf("Not logging in as %s: the account is locked until %s; change the credentials to try at once",
				describe(key), a.lockedUntil.UTC().Format(time.RFC3339)),
		}
	}
	if sameCredentials && a.consecutive > 0 {
		if next := a.lastFailure.Add(g.backoff(a.consecutive)); now.Before(next) {
			return &Denied{
				Reason: a.lastReason,
				Until:  next,
				Message: fmt.Sprintf("Not logging in as %s: %d consecutive failed logins; next attempt at %s, or at once when the credentials change",
					describe(key), a.consecutive, next.UTC().Format(time.RFC3339)),
			}
		}
	}
	// The hard limit holds whatever the credentials: the service counts every
	// failed login against the account.
	if len(a.failures) >= g.opts.MaxAttemptsPerWindow {
		// The window has room again once all but MaxAttemptsPerWindow−1 of
		// its failures left it.
		until := a.failures[len(a.failures)-g.opts.MaxAttemptsPerWindow].Add(g.opts.Window)
		return &Denied{
			Reason: a.lastReason,
			Until:  until,
			Message: fmt.Sprintf("Not logging in as %s: %d failed logins in the last %s, the most allowed before the service locks the account; next attempt at %s",
				describe(key), len(a.failures), g.opts.Window, until.UTC().Format(time.RFC3339)),
		}
	}
	return nil
}

func (g *Guard) backoff(consecutive int) time.Duration {
	d := g.opts.BackoffBase
	for i := 1; i < consecutive && d < g.opts.BackoffMax; i++ {
		d *= 2
	}
	return min(d, g.opts.BackoffMax)
}

func (a *account) prune(now time.Time, window time.Duration) {
	i := 0
	for i < len(a.failures) && now.Sub(a.failures[i]) >= window {
		i++
	}
	a.failures = a.failures[i:]
}

func (a *account) addFailedCredentials(credentials string) {
	if a.failedCredentials == nil {
		a.failedCredentials = map[string]bool{}
	}
	a.failedCredentials[credentials] = true
}

func (a *account) recordOwner(owner string, at time.Time) {
	if owner == "" {
		return
	}
	if a.lastByOwner == nil {
		a.lastByOwner = map[string]time.Time{}
	}
	if at.After(a.lastByOwner[owner]) {
		a.lastByOwner[owner] = at
	}
}

// knows reports whether a failure at t is one the guard holds already: from
// the same owner, or (without an owner) at the same time. Status times are
// stored to the second, so a failure told again may look up to a second
// earlier than it was recorded.
func (a *account) knows(owner string, t time.Time) bool {
	if owner != "" {
		last, ok := a.lastByOwner[owner]
		return ok && !last.Before(t.Add(-time.Second))
	}
	for _, x := range a.failures {
		if d := x.Sub(t); d > -time.Second && d < time.Second {
			return true
		}
	}
	return false
}

// describe turns an account key ("user <login endpoint> <username>" or "app
// <login endpoint> <client ID>", see arcgis.Client.Account) into words for
// messages.
func describe(key string) string {
	parts := strings.SplitN(key, " ", 3)
	if len(parts) != 3 {
		return fmt.Sprintf("%q", key)
	}
	who := "user"
	if parts[0] == "app" || parts[0] == "oauth" {
		who = "application"
	}
	return fmt.Sprintf("%s %q at %s", who, parts[2], parts[1])
}
