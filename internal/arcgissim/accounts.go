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
	"crypto/subtle"
	"sync"
	"time"
)

// Realms of login attempts. The portal and the server keep separate lock-out
// state for the same account; OAuth apps never lock.
const (
	RealmPortal = "portal"
	RealmServer = "server"
	RealmOAuth  = "oauth"
)

// AccountKey names an account in Counters.LoginAttempts: the realm, a slash,
// and the username (or the client ID for RealmOAuth), e.g. "portal/alice".
func AccountKey(realm, name string) string { return realm + "/" + name }

// loginResult is the outcome of a credential check.
type loginResult int

const (
	loginOK loginResult = iota
	loginInvalid
	loginLocked
)

// lockState is one account's recent failures in one realm.
type lockState struct {
	failures    []time.Time // consecutive failures, oldest first
	lockedUntil time.Time
}

// accounts holds users, apps, lock-out state and every secret ever configured.
type accounts struct {
	attempts int           // failures that lock
	window   time.Duration // within which they must fall, and the lock's length

	mu      sync.Mutex
	users   map[string]string
	noAdmin map[string]bool
	apps    map[string]string
	locks   map[string]*lockState // by AccountKey
	logins  map[string]time.Time  // last successful login per username
	secrets []string              // passwords and client secrets, in order of configuration
	seen    map[string]bool
}

func newAccounts(cfg Config) *accounts {
	a := &accounts{
		attempts: cfg.LockoutAttempts,
		window:   time.Duration(cfg.LockoutMinutes) * time.Minute,
		users:    make(map[string]string),
		noAdmin:  make(map[string]bool),
		apps:     make(map[string]string),
		locks:    make(map[string]*lockState),
		logins:   make(map[string]time.Time),
		seen:     make(map[string]bool),
	}
	for name, pw := range cfg.Users {
		a.setUser(name, pw)
	}
	for id, secret := range cfg.Apps {
		a.setApp(id, secret)
	}
	for _, name := range cfg.NoAdmin {
		a.noAdmin[name] = true
	}
	return a
}

// setUser creates or updates a user; an empty password deletes it. The
// lock-out state survives: changing a password does not unlock an account.
func (a *accounts) setUser(name, password string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if password == "" {
		delete(a.users, name)
		return
	}
	a.users[name] = password
	a.rememberLocked(password)
}

// setApp creates or updates an OAuth app; an empty secret deletes it.
func (a *accounts) setApp(id, secret string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if secret == "" {
		delete(a.apps, id)
		return
	}
	a.apps[id] = secret
	a.rememberLocked(secret)
}

func (a *accounts) rememberLocked(secret string) {
	if !a.seen[secret] {
		a.seen[secret] = true
		a.secrets = append(a.secrets, secret)
	}
}

// allSecrets returns every password and client secret ever configured.
func (a *accounts) allSecrets() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.secrets...)
}

// exists reports whether a user exists (case-sensitively).
func (a *accounts) exists(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.users[name]
	return ok
}

// lastLogin returns a user's last successful login, in service time.
func (a *accounts) lastLogin(name string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	at, ok := a.logins[name]
	return at, ok
}

// isNoAdmin reports whether a user lacks administrative privileges.
func (a *accounts) isNoAdmin(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.noAdmin[name]
}

// login checks a username and password in a realm at the simulated time now,
// applying the lock-out policy: a locked account fails even with the right
// password; attempts while locked neither extend nor count towards the lock;
// a success resets the failures; the attempts-th failure inside the window
// is still answered as a bad password and locks the account from then on.
// Unknown usernames never lock anything: there is no account to lock.
func (a *accounts) login(realm, name, password string, now time.Time) loginResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	want, exists := a.users[name]
	if !exists {
		return loginInvalid
	}
	key := AccountKey(realm, name)
	st := a.locks[key]
	if st != nil && now.Before(st.lockedUntil) {
		return loginLocked
	}
	if equalSecret(want, password) {
		delete(a.locks, key)
		a.logins[name] = now
		return loginOK
	}
	if st == nil {
		st = &lockState{}
		a.locks[key] = st
	}
	// Forget failures that fell out of the window.
	kept := st.failures[:0]
	for _, at := range st.failures {
		if now.Sub(at) < a.window {
			kept = append(kept, at)
		}
	}
	st.failures = append(kept, now)
	if len(st.failures) >= a.attempts {
		st.failures = nil
		st.lockedUntil = now.Add(a.window)
	}
	return loginInvalid
}

// appResult is the outcome of an OAuth client credentials check.
type appResult int

const (
	appOK appResult = iota
	appUnknown
	appBadSecret
)

// checkApp checks an OAuth client ID and secret. Apps never lock.
func (a *accounts) checkApp(id, secret string) appResult {
	a.mu.Lock()
	want, ok := a.apps[id]
	a.mu.Unlock()
	switch {
	case !ok:
		return appUnknown
	case !equalSecret(want, secret):
		return appBadSecret
	}
	return appOK
}

// equalSecret compares in constant time; a simulator does not need it, but it
// costs nothing and keeps the code a good example.
func equalSecret(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
