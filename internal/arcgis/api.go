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

// Package arcgis is the operator's client for ArcGIS token services: ArcGIS
// Enterprise portals and ArcGIS Online, standalone and federated ArcGIS Server,
// the ArcGIS Server administrator API, and OAuth client credentials.
//
// Every request is an HTTPS POST with an application/x-www-form-urlencoded
// body and f=json; credentials and tokens travel only in that body, never in
// a URL or a header (a referer-bound token's Referer goes in the Referer
// header). Every failure is an *Error whose text never contains a credential
// or a token, and which says whether and when the request may be retried.
//
// The client never logs. Options.Observer reports each HTTP request for
// metrics.
package arcgis

import (
	"context"
	"time"
)

// ServiceType names a kind of token service.
type ServiceType string

const (
	// Portal is an ArcGIS Enterprise portal or ArcGIS Online.
	Portal ServiceType = "Portal"
	// Server is an ArcGIS Server's token service, discovered from /rest/info.
	Server ServiceType = "Server"
	// ServerAdmin is the ArcGIS Server administrator API's generateToken.
	ServerAdmin ServiceType = "ServerAdmin"
	// Federated is a server token exchanged from a portal token at the portal.
	Federated ServiceType = "Federated"
	// OAuth is an application's client credentials grant at the portal.
	OAuth ServiceType = "OAuth"
)

// ClientType is what a token is bound to (the generateToken "client" parameter).
type ClientType string

const (
	// ClientReferer binds the token to a Referer header value.
	ClientReferer ClientType = "referer"
	// ClientIP binds the token to an IP address.
	ClientIP ClientType = "ip"
	// ClientRequestIP binds the token to the address the request comes from.
	ClientRequestIP ClientType = "requestip"
)

// Binding is how a token is bound.
type Binding struct {
	Client  ClientType
	Referer string // required when Client is ClientReferer
	IP      string // required when Client is ClientIP
}

// Credentials are a username and password, or for OAuth a client ID and secret.
// Their String and GoString methods never print the secret parts.
type Credentials struct {
	Username     string
	Password     string
	ClientID     string
	ClientSecret string
}

// TokenRequest describes one token to issue.
type TokenRequest struct {
	Type ServiceType
	// URL is the portal root (Portal, Federated, OAuth), for example
	// https://gis.example.com/portal or https://www.arcgis.com, or the server
	// root (Server, ServerAdmin), for example https://gis.example.com/server.
	// It must be https://. A trailing slash, and an API path pasted after
	// the root (/sharing/rest for a portal; /rest/services, /rest, /admin or
	// /tokens for a server), are tolerated.
	URL string
	// ServerURL is the federated server's root (Federated only).
	ServerURL string
	// Credentials to log in with.
	Credentials Credentials
	// Binding of the token. Ignored by OAuth. An empty Client sends no
	// binding, which leaves it to the service (often a short-lived token).
	Binding Binding
	// ExpirationMinutes is the lifetime asked for; the service may grant less.
	// 0 leaves it to the service's default; negative is refused.
	ExpirationMinutes int
	// CABundle holds PEM roots to trust instead of the system roots; empty
	// means the system roots. A bundle without a PEM certificate is refused
	// with ReasonInvalidRequest.
	CABundle []byte
}

// Token is an issued token.
type Token struct {
	// Token is the opaque token value.
	Token string
	// Expires is the expiry the service granted, read from its response (never
	// computed from the lifetime asked for), on the operator's clock: the
	// earlier of the service's expiry and the time of the answer plus
	// Lifetime, so that it is not past the expiry on either clock.
	Expires time.Time
	// Lifetime is the lifetime the service granted, measured on the service's
	// own clock (its expiry minus the Date of its answer).
	Lifetime time.Duration
	// ClockSkew is the service's clock minus the operator's, read from the
	// answer's Date header (to the second); zero when it had none.
	ClockSkew time.Duration
	// SSL says the token must only ever be sent over HTTPS.
	SSL bool
	// ServiceURL is the URL the token is for: the portal for Portal and OAuth,
	// the server for Server, ServerAdmin and Federated.
	ServiceURL string
}

// ValidateRequest asks whether a stored token still works.
type ValidateRequest struct {
	Type      ServiceType
	URL       string
	ServerURL string
	Token     string
	// Binding of the token: a referer-bound token is sent with its Referer.
	Binding  Binding
	CABundle []byte
}

// Validation is the outcome of a successful validation.
type Validation struct {
	// Identity is the user (or, for OAuth app tokens, the application ID) the
	// token belongs to, when the service says so; empty otherwise.
	Identity string
}

// TokenIssuer issues and validates ArcGIS tokens. *Client implements it; tests
// of the reconciler may use any other implementation.
type TokenIssuer interface {
	// IssueToken asks the service for a token. Errors are *Error.
	IssueToken(ctx context.Context, req TokenRequest) (*Token, error)
	// ValidateToken checks, with one cheap authenticated call, that a stored
	// token still works. A revoked or expired token gives an *Error with
	// Reason ReasonInvalidToken.
	ValidateToken(ctx context.Context, req ValidateRequest) (*Validation, error)
	// Account names the account a login for req is made with (the real
	// login endpoint and the username or client ID), for the account guard.
	// It sends no credentials. Errors are *Error.
	Account(ctx context.Context, req TokenRequest) (string, error)
}
