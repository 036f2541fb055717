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

// Package reasons is the one table of the operator's condition and event
// reasons. For each reason it says what kind of state it is, whether a
// failure with it counts against the ArcGIS account as a failed login, how
// retries back off, what it does to the Ready condition and to kstatus, and
// what a person should do about it. Status, backoff, the account guard,
// metrics, the kubectl plugin and the troubleshooting guide all read it, so
// that a reason is classified in exactly one place.
package reasons

import (
	"sort"
	"time"

	v1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
)

// Class is what kind of state a reason describes.
type Class string

const (
	// Healthy: a usable token is stored and nothing is due.
	Healthy Class = "Healthy"
	// Progress: a new token is due for an ordinary reason (first issue,
	// renewal, spec or credentials changed, revoked, requested).
	Progress Class = "Progress"
	// Paused: spec.suspend is set.
	Paused Class = "Paused"
	// Transient: a failure expected to pass by itself (the service or the API
	// server unavailable). Retried with a short backoff.
	Transient Class = "Transient"
	// Terminal: a failure that needs a change by a person (credentials,
	// permissions, a conflicting Secret, a refused request). Retried rarely.
	Terminal Class = "Terminal"
	// BadInput: the spec or an object it references cannot be used. Retried
	// when the inputs change, and rarely otherwise.
	BadInput Class = "BadInput"
	// Notice: an event that reports something that happened; never a
	// condition's reason.
	Notice Class = "Notice"
)

// Info is everything the operator knows about one reason.
type Info struct {
	// Reason is the condition or event reason.
	Reason string
	// Class is what kind of state it is.
	Class Class
	// FailedLogin says that a failed request with this outcome, if the
	// request carried the account's credentials, counts against the account
	// as a failed login. ArcGIS locks an account after 5 failed logins in 15
	// minutes and words its refusals in many ways, so every outcome that is
	// not clearly transient counts: better one login too few than a locked
	// account.
	FailedLogin bool
	// BackoffBase and BackoffCap bound the wait before the next attempt
	// after consecutive failures with this reason: base × 2^(n−1), at most
	// cap. Zero for reasons that are not failures.
	BackoffBase, BackoffCap time.Duration
	// EndsWithRecovery says that the backoff is about the service, not the
	// object: once the service answers again (policies.RetryAt's serviceUp),
	// the object retries within seconds instead of waiting out a backoff
	// that grew while the service was down.
	EndsWithRecovery bool
	// Summary says what happened, in a few words.
	Summary string
	// Advice says what to do about it.
	Advice string
}

// Failure says whether the reason reports a failure (a Warning event, a
// failed attempt counted in status).
func (i Info) Failure() bool {
	return i.Class == Transient || i.Class == Terminal || i.Class == BadInput
}

// Stalled says whether, with no usable token left, the object needs a person
// to act: kstatus's Stalled (Flux and Argo CD show it as failed or
// degraded) rather than Reconciling.
func (i Info) Stalled() bool { return i.Class == Terminal || i.Class == BadInput }

// Anchor is the reason's section in docs/troubleshooting.md.
func (i Info) Anchor() string {
	a := anchor(i.Reason)
	if i.Class == Notice {
		a += "-event"
	}
	return "docs/troubleshooting.md#" + a
}

// Backoff is the wait after the attempts-th consecutive failure, before
// jitter: BackoffBase × 2^(attempts−1), at most BackoffCap.
func (i Info) Backoff(attempts int32) time.Duration {
	if attempts < 1 || i.BackoffBase <= 0 {
		return 0
	}
	d := i.BackoffBase
	for n := int32(1); n < attempts && d < i.BackoffCap; n++ {
		d *= 2
	}
	return min(d, i.BackoffCap)
}

const (
	transientBase = 5 * time.Second
	transientCap  = 5 * time.Minute
)

var table = []Info{
	// Ready=True and Issuing=False.
	{Reason: v1.ReasonTokenIssued, Class: Healthy,
		Summary: "The Secret holds a token that has not expired and is not known to be revoked"},
	{Reason: v1.ReasonUpToDate, Class: Healthy,
		Summary: "No new token is due"},
	{Reason: v1.ReasonValidated, Class: Healthy,
		Summary: "The last check of the stored token against the service succeeded"},
	{Reason: v1.ReasonSuspended, Class: Paused,
		Summary: "spec.suspend is set: the token is neither issued nor renewed, and the Secret is kept",
		Advice:  "Set spec.suspend to false to resume; a token that expired meanwhile is renewed at once"},

	// Issuing=True: a new token is due.
	{Reason: v1.ReasonIssuing, Class: Progress,
		Summary: "The first token is being issued"},
	{Reason: v1.ReasonRenewing, Class: Progress,
		Summary: "The token is nearing expiry and is being renewed"},
	{Reason: v1.ReasonRevoked, Class: Progress,
		Summary: "The service answered 498 for the stored token: it was revoked (a shared-key change, a restart) and is re-issued",
		Advice:  "Nothing, unless it repeats: then look for what invalidates tokens on the service (the portal's shared key, server restarts)"},
	{Reason: v1.ReasonSpecChanged, Class: Progress,
		Summary: "The spec changed since the token was issued"},
	{Reason: v1.ReasonCredentialsChanged, Class: Progress,
		Summary: "The credentials Secret or the CA bundle changed since the token was issued"},
	{Reason: v1.ReasonManualRenew, Class: Progress,
		Summary: "A renewal was requested with the renew-at annotation"},
	{Reason: v1.ReasonSecretMissing, Class: Progress,
		Summary: "The Secret, or its token, is missing and is written again"},
	{Reason: v1.ReasonExpired, Class: Progress,
		Summary: "The stored token expired and no new one is stored yet",
		Advice:  "Read the Issuing condition: its reason says why no new token could be had"},

	// Failures of ArcGIS calls.
	{Reason: v1.ReasonInvalidCredentials, Class: Terminal, FailedLogin: true,
		BackoffBase: 5 * time.Minute, BackoffCap: time.Hour,
		Summary: "The service refused the username and password (usernames are case-sensitive), or the OAuth client ID and secret",
		Advice:  "Fix the credentials Secret; the next login is tried at once when it changes, within the account's budget of 4 failed logins per 15 minutes"},
	{Reason: v1.ReasonAccountLocked, Class: Terminal, FailedLogin: true,
		BackoffBase: 15 * time.Minute, BackoffCap: time.Hour,
		Summary: "The service says the account is locked after too many failed logins",
		Advice:  "Wait for the lock to end (ArcGIS: 15 minutes) or have an administrator unlock it; fix the password first, or the next login locks it again"},
	{Reason: v1.ReasonInvalidToken, Class: Terminal, FailedLogin: true,
		BackoffBase: time.Minute, BackoffCap: 30 * time.Minute,
		Summary: "The service answered 498 Invalid token while issuing (for example a federated exchange the server refused)",
		Advice:  "Check that spec.serverURL is federated with spec.url, and the referer binding"},
	{Reason: v1.ReasonPermissionDenied, Class: Terminal, FailedLogin: true,
		BackoffBase: time.Minute, BackoffCap: 30 * time.Minute,
		Summary: "The service answered 403 or 499: the account lacks a privilege, or a web tier refused the request",
		Advice:  "Give the account the privileges the token type needs (ServerAdmin needs an administrator), or check the web adaptor's authentication"},
	{Reason: v1.ReasonBadRequest, Class: Terminal, FailedLogin: true,
		BackoffBase: time.Minute, BackoffCap: 30 * time.Minute,
		Summary: "The service refused the request, in words the operator does not recognise; it may be a failed login",
		Advice:  "Read the message: it quotes the service. It counts as a failed login, so fix the cause before the account's budget runs out"},
	{Reason: v1.ReasonInvalidResponse, Class: Transient, FailedLogin: true,
		BackoffBase: transientBase, BackoffCap: transientCap,
		Summary: "The service answered JSON without a usable token or expiry",
		Advice:  "Usually a proxy or an upgrade in progress; check the URL points at the token service itself"},
	{Reason: v1.ReasonServiceUnavailable, Class: Transient,
		BackoffBase: transientBase, BackoffCap: transientCap, EndsWithRecovery: true,
		Summary: "The service could not be reached, timed out, answered 429 or 5xx, or answered a page that is not ArcGIS JSON",
		Advice:  "Check the service's health and the network path (DNS, proxies, firewalls, TLS); retries back off to 5 minutes, and resume within seconds once the service answers again"},

	// Failures of the operator's inputs.
	{Reason: v1.ReasonCredentialsNotFound, Class: BadInput,
		BackoffBase: time.Minute, BackoffCap: 30 * time.Minute,
		Summary: "The credentials Secret, or one of its keys, is missing, empty or not readable by the operator",
		Advice:  "Create the Secret named by spec.credentialsRef in the token's namespace with the expected keys, and check the operator's RBAC"},
	{Reason: v1.ReasonInvalidSpec, Class: BadInput,
		BackoffBase: time.Minute, BackoffCap: 30 * time.Minute,
		Summary: "The spec cannot be turned into a request (a CA bundle without a certificate, a URL the service refuses over plain HTTP)",
		Advice:  "Fix the spec or the object it references; the message names the field"},

	// Failures of the Secret.
	{Reason: v1.ReasonSecretConflict, Class: Terminal,
		BackoffBase: 30 * time.Second, BackoffCap: 10 * time.Minute,
		Summary: "A Secret of that name exists and is not owned by this ArcGISToken; it is never overwritten",
		Advice:  "Delete or rename that Secret, or set spec.secretName"},
	{Reason: v1.ReasonSecretRejected, Class: Terminal,
		BackoffBase: 30 * time.Second, BackoffCap: 10 * time.Minute,
		Summary: "The API server refused to store the Secret (an invalid label or annotation, a quota, RBAC, an admission webhook or policy)",
		Advice:  "Read the API server's message in the condition; fix spec.secretTemplate or the policy. The issued token is stored without a new login once it is accepted"},
	{Reason: v1.ReasonSecretWriteFailed, Class: Transient,
		BackoffBase: transientBase, BackoffCap: transientCap,
		Summary: "Writing the Secret failed for a reason that may pass (the API server unavailable, a timeout, a conflict)",
		Advice:  "Usually passes by itself; the issued token is stored without a new login on a later attempt"},

	// API key credentials items (type APIKey).
	{Reason: v1.ReasonSlotsInUse, Class: Terminal,
		BackoffBase: 5 * time.Minute, BackoffCap: time.Hour,
		Summary: "The API key credentials item's slot the operator would use holds a live key it did not issue; neither slot is touched",
		Advice:  "Find out who uses that key; when nobody does (or it may end), set spec.apiKey.takeOverSlot to its slot (1 or 2)"},
	{Reason: v1.ReasonItemNotFound, Class: Terminal,
		BackoffBase: 5 * time.Minute, BackoffCap: time.Hour,
		Summary: "The portal does not know spec.apiKey.itemID, or the item does not belong to the credentials' user",
		Advice:  "Check the item ID (32 hexadecimal characters from the item page's URL) and that spec.credentialsRef holds the item owner's login"},
	{Reason: v1.ReasonNotAPIKeyCredentials, Class: BadInput,
		BackoffBase: 5 * time.Minute, BackoffCap: time.Hour,
		Summary: "spec.apiKey.itemID names an item that is not API key credentials",
		Advice:  "Create an API key credentials item (developer credentials, type API key) and use its item ID"},
	{Reason: v1.ReasonKeyStillValid, Class: Transient,
		BackoffBase: 5 * time.Minute, BackoffCap: time.Hour,
		Summary: "The previous API key still worked after its slot was invalidated; invalidation is retried",
		Advice:  "Usually a cache in front of the service; if it lasts, invalidate the key in the item's page and check the item's owner"},

	// The stored token's check.
	{Reason: v1.ReasonValidationFailed, Class: Transient,
		BackoffBase: time.Minute, BackoffCap: 10 * time.Minute,
		Summary: "Checking the stored token failed with something other than 498; the token may still be good",
		Advice:  "Check what answers at the service's URL (a web tier asking for its own login, a firewall, a 5xx); checks back off up to spec.validationInterval"},

	// Events.
	{Reason: v1.EventIssued, Class: Notice, Summary: "The first token was stored"},
	{Reason: v1.EventRenewed, Class: Notice, Summary: "A new token replaced the stored one"},
	{Reason: v1.EventExpirationClamped, Class: Notice,
		Summary: "The service granted a shorter lifetime than spec.expirationMinutes",
		Advice:  "Nothing: renewals follow the granted lifetime. Lower spec.expirationMinutes to silence it, or raise the service's maximum"},
	{Reason: v1.EventRenewBeforeTooLong, Class: Notice,
		Summary: "spec.renewBefore (or renewBeforePercentage) would renew less than half the granted lifetime after issue; a third of the lifetime is used instead",
		Advice:  "Lower spec.renewBefore below half the lifetime the service grants (see status.grantedMinutes)"},
	{Reason: v1.EventClockSkew, Class: Notice,
		Summary: "The service's clock differs from the operator's by more than 30 seconds; lifetimes are measured on the service's clock and the earlier expiry is trusted",
		Advice:  "Fix the time synchronisation (NTP) of the service's hosts or of the cluster's nodes"},
	{Reason: v1.EventRolloutRestartFailed, Class: Notice,
		Summary: "A workload of spec.rolloutRestartTargets could not be restarted after a rotation",
		Advice:  "Check that the workload exists and that the operator may patch it"},
	{Reason: v1.EventLifetimeClamped, Class: Notice,
		Summary: "spec.apiKey.lifetime is longer than the year ArcGIS allows; new keys get 365 days",
		Advice:  "Set spec.apiKey.lifetime to 8760h or less"},
	{Reason: v1.EventKeyInvalidated, Class: Notice,
		Summary: "The previous API key's slot was invalidated and the key was seen to fail (498)"},
	{Reason: v1.EventStatusWriteFailed, Class: Notice,
		Summary: "The status could not be written; it is retried",
		Advice:  "Check the API server's health and the operator's RBAC for arcgistokens/status"},
}

var byReason = func() map[string]Info {
	m := make(map[string]Info, len(table))
	for _, i := range table {
		if _, dup := m[i.Reason]; dup {
			panic("reasons: duplicate reason " + i.Reason)
		}
		m[i.Reason] = i
	}
	return m
}()

// Lookup returns what is known of a reason. An unknown reason is reported as
// a terminal failure that counts as a failed login: the safe side.
func Lookup(reason string) Info {
	if i, ok := byReason[reason]; ok {
		return i
	}
	return Info{Reason: reason, Class: Terminal, FailedLogin: true,
		BackoffBase: time.Minute, BackoffCap: 30 * time.Minute}
}

// Known says whether the reason is in the table.
func Known(reason string) bool {
	_, ok := byReason[reason]
	return ok
}

// All returns every reason, sorted by name.
func All() []Info {
	out := append([]Info(nil), table...)
	sort.Slice(out, func(a, b int) bool { return out[a].Reason < out[b].Reason })
	return out
}

// anchor is GitHub's heading anchor for a heading that is just the reason
// (for events, the reason followed by " (event)").
func anchor(reason string) string {
	out := make([]rune, 0, len(reason))
	for _, r := range reason {
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		out = append(out, r)
	}
	return string(out)
}
