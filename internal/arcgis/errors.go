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
	"errors"
	"fmt"
	"strings"
	"time"
)

// Reason classifies a failure. The reconciler maps reasons to conditions.
type Reason string

const (
	// ReasonInvalidCredentials: wrong username or password (ArcGIS usernames
	// are case-sensitive), or wrong OAuth client ID or secret. Not retryable
	// until the credentials change: retrying locks the account.
	ReasonInvalidCredentials Reason = "InvalidCredentials"
	// ReasonInvalidToken: 498, "Invalid token." or "Invalid Token": expired,
	// revoked, wrongly bound, or for another org or endpoint; also a real 498
	// status line whatever the body, as only ArcGIS uses it. Not retryable:
	// the token must be re-issued (a federated exchange already retried once
	// with a fresh portal token).
	ReasonInvalidToken Reason = "InvalidToken"
	// ReasonTokenRequired: 499 (code or status line), no token reached a
	// secured resource. Not retryable.
	ReasonTokenRequired Reason = "TokenRequired"
	// ReasonPermissionDenied: 403 (GWM_0003), the token lacks rights. Not
	// retryable.
	ReasonPermissionDenied Reason = "PermissionDenied"
	// ReasonSSLRequired: 403 "SSL Required". Not retryable.
	ReasonSSLRequired Reason = "SSLRequired"
	// ReasonMethodNotSupported: 405 (code or status line), GET, or
	// credentials in the query string.
	// Not retryable: something between the client and the service rewrites
	// the request.
	ReasonMethodNotSupported Reason = "MethodNotSupported"
	// ReasonAccountLocked: too many failed logins. Retryable after RetryAfter
	// (at least AccountLockout, 15 minutes); any earlier attempt extends the
	// lock-out.
	ReasonAccountLocked Reason = "AccountLocked"
	// ReasonBadRequest: the service refused the request as malformed, for
	// example "'username' must be specified." or a missing client binding
	// (201 "Exception in generating token"), or answered in a way that needs
	// a change of spec (a server without token-based security, a redirect
	// the client will not follow). Not retryable.
	ReasonBadRequest Reason = "BadRequest"
	// ReasonServiceUnavailable: network errors, TLS failures, timeouts,
	// cancellation, 429, 5xx, and any body that is not JSON (HTML error and
	// login pages, an HTML "Invalid Token" page with status 200). Retryable
	// with backoff, not sooner than RetryAfter when the service sent a
	// Retry-After.
	ReasonServiceUnavailable Reason = "ServiceUnavailable"
	// ReasonInvalidResponse: JSON without a usable token or expiry (missing,
	// not a number, in the past, before 2000 or more than ten years ahead), or
	// an answer too large. Retryable with backoff: nothing in the request is
	// wrong. Not retryable when a server names a token service on plain
	// http:// at another host.
	ReasonInvalidResponse Reason = "InvalidResponse"
	// ReasonInvalidRequest: the request was refused before anything was sent:
	// an http:// URL, a CA bundle without a PEM certificate, a missing field.
	// Not retryable.
	ReasonInvalidRequest Reason = "InvalidRequest"
)

// Error is every failure the client returns. Its text names the endpoint, the
// host and what the service said, and never a credential or a token.
type Error struct {
	// Reason classifies the failure.
	Reason Reason
	// Endpoint is the logical endpoint that failed, for example
	// "generateToken", "oauth2/token", "rest/info", "portals/self".
	Endpoint string
	// Host is the service's host (and port).
	Host string
	// HTTPStatus is the HTTP status line's code, 0 when no response came.
	HTTPStatus int
	// Code is the ArcGIS error code from the body (for example 400, 498), 0
	// when there was none.
	Code int
	// Message is what the service said (message and details), or what went
	// wrong locally, cut to a sane length, with anything that looks like a
	// credential or token removed.
	Message string
	// Retryable says whether the same request may succeed later without any
	// change to credentials or spec.
	Retryable bool
	// RetryAfter is the least time to wait before retrying, when the service
	// or the failure says so (Retry-After, a lock-out); 0 otherwise.
	RetryAfter time.Duration
	// Login says that the failed request carried a password or a client
	// secret, so the service may have counted it as a failed login against
	// the account. It is false for discovery, federated exchanges (a token,
	// not a password) and validation, and for requests refused before
	// anything was sent.
	Login bool

	// cause is a sentinel behind the failure that callers may test with
	// errors.Is, for now only context.Canceled and context.DeadlineExceeded.
	// It is never an error whose text could carry a URL or a secret.
	cause error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Reason))
	if e.Endpoint != "" {
		fmt.Fprintf(&b, " from %s", e.Endpoint)
	}
	if e.Host != "" {
		fmt.Fprintf(&b, " at %s", e.Host)
	}
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.HTTPStatus)
		if e.Code != 0 && e.Code != e.HTTPStatus {
			fmt.Fprintf(&b, ", code %d", e.Code)
		}
		b.WriteString(")")
	} else if e.Code != 0 {
		fmt.Fprintf(&b, " (code %d)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap returns the context error behind a cancelled or timed-out request, so
// that errors.Is(err, context.Canceled) tells a shutdown from an outage.
func (e *Error) Unwrap() error { return e.cause }

// ReasonOf returns the Reason of an *Error in err's chain, or
// ReasonServiceUnavailable for any other non-nil error.
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonServiceUnavailable
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
