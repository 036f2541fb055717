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

// Package arcgissim simulates the token services of an ArcGIS Enterprise
// portal and a federated ArcGIS Server, faithfully enough to test a client
// against: real HTTPS on loopback, the quirks, error shapes, lifetime caps and
// lock-outs of real deployments, failure injection, and counters to assert
// what a client did.
//
// # Starting
//
//	sim, err := arcgissim.New(arcgissim.Config{
//		Users: map[string]string{"alice": "pw"},
//		Apps:  map[string]string{"app1": "secret"},
//		Clock: fakeClock, // k8s.io/utils/clock/testing; default the real clock
//	})
//	...
//	err = sim.Start()
//	defer sim.Close()
//	pool := x509.NewCertPool()
//	pool.AppendCertsFromPEM(sim.CAPEM())
//
// New generates a throw-away ECDSA P-256 CA and a serving certificate it signs
// for 127.0.0.1, ::1 and localhost; Start listens. The server speaks HTTP/1.1
// only, so each concurrent request has its own connection.
//
// # Endpoints
//
// Under PortalURL()+"/sharing/rest":
//
//   - generateToken (POST): {"token":"…","expires":<epoch ms>,"ssl":true};
//     with serverUrl (or serverURL) and a portal token, a federated server
//     token of the same shape.
//   - oauth2/token (POST, grant_type=client_credentials):
//     {"access_token":"…","expires_in":<seconds>}.
//   - info: {"owningSystemUrl":…,"authInfo":{"tokenServicesUrl":…,"isTokenBasedSecurity":true},"fullVersion":"11.3.0"}.
//   - portals/self (GET or POST): {"id":…,"name":…,"isPortal":true,
//     "portalMode":"singletenant","portalHostname":…,"allSSL":true,
//     "authorizedCrossOriginDomains":[],…}; with a user token also "user"
//     (the user JSON below); with an OAuth app token "appInfo":{"appId":"CLIENT_ID"}
//     instead; with an API key the owner as "user" with the key's privileges
//     and "appInfo":{"appId":…,"appType":"apikey","privileges":[…]}.
//   - community/self (GET or POST, token required): the signed-in user, as
//     Esri's clients read it right after generateToken: {"username","id",
//     "fullName","firstName","lastName","description","tags","culture",
//     "region","units","thumbnail","access","created","modified" (epoch ms),
//     "provider":"arcgis","orgId","email","userType":"creatorUT","role"
//     (org_admin, org_publisher or org_user, see Config.Roles),"privileges":[…],
//     "level":"2","disabled","mfaEnabled","lastLogin" (epoch ms of the last
//     login, -1 before one),"storageUsage","storageQuota","groups"}. An OAuth
//     app token has no user: 403.
//   - community/users/<username> (GET or POST, token required): that user;
//     the fields from "email" on only for the user and for org_admin
//     viewers. An unknown username (case-sensitive) is 400 "User does not
//     exist or is inaccessible.".
//   - oauth2/revokeToken, content/items/<itemId>,
//     content/users/<owner>/items/<itemId>/registeredAppInfo and
//     …/update: see "API key credentials".
//
// Under ServerURL():
//
//   - rest/info: {"currentVersion":11.3,"fullVersion":"11.3.0","owningSystemUrl":<portal>,
//     "authInfo":{"isTokenBasedSecurity":true,"tokenServicesUrl":<server>/tokens/,
//     "shortLivedTokenValidity":<ServerShortMinutes>}}; no owningSystemUrl
//     when Standalone.
//   - tokens/generateToken (POST): {"token":"…","expires":<epoch ms>}.
//   - admin/generateToken (POST): {"token":"…","expires":"<epoch ms>"}.
//   - rest/services: needs a server token (tokens endpoint, admin API or
//     federated exchange); lists one folder and one service.
//   - admin: the administrator directory; needs a server token of a user not
//     in NoAdmin.
//
// Paths match case-insensitively with an optional trailing slash, as behind
// IIS or Tomcat (usernames and item IDs in a path keep their case). Any
// other path is a real HTTP 404 with an HTML body.
//
// # Doors
//
// One simulated portal is reachable through several doors: PortalURL()
// (https://127.0.0.1:PORT/portal), the same under localhost
// (HostURL(HostLocalhost)+"/portal"; the certificate names both), and every
// Config.PortalAliases context path under either host (e.g. "/arcgis", like
// a web adaptor beside the portal's own port, or an organisation's URL
// beside www.arcgis.com). PortalURLs lists them, canonical first. All doors
// share one account store, one lock-out state and one token store, and
// sharing/rest/info answers the canonical PortalURL() as owningSystemUrl and
// in tokenServicesUrl whatever door was used. Counters.RequestsByDoor counts
// requests per door ("localhost/arcgis").
//
// Tokens are 48 random bytes in URL-safe base64 followed by "..". They may be
// presented as a "token" form field, an "X-Esri-Authorization: Bearer T" or
// "Authorization: Bearer T" header, or "?token=T" in the URL; the last is
// accepted, as real servers do, but counted in Counters.TokenInQuery. Info
// endpoints take no token but refuse a bad one with 498, like any ArcGIS
// resource.
//
// # Token requests
//
//   - generateToken and oauth2/token take POST only; anything else is 405
//     "Method not supported". username, password or client_secret in the
//     URL query string is 405 with details "Generate Token request should not
//     contain username and password in the query string." and is counted in
//     Counters.CredentialsInQuery (on every endpoint).
//   - The body is read only with Content-Type application/x-www-form-urlencoded;
//     otherwise the service sees no parameters: 400 "Unable to generate
//     token." details ["'username' must be specified.","'password' must be
//     specified."]. Parameters may also come from the query string, as with a
//     servlet container.
//   - Usernames are case-sensitive. A wrong password, or an unknown (or
//     wrongly cased) username, is 400 "Unable to generate token." details
//     ["Invalid username or password."].
//   - client = referer | ip | requestip ("referrer" too at the admin API),
//     with referer or ip required for the first two. request=getToken and f
//     are ignored; responses are always JSON.
//   - expiration is in minutes and capped silently: portal, OAuth and
//     federated tokens default to PortalDefaultMinutes (120) and are capped at
//     PortalMaxMinutes (20160); server and admin tokens default to
//     ServerShortMinutes (60), which is also their cap without a client
//     binding; bound ones are capped at ServerLongMinutes (1440). Expiry is
//     computed from Config.Clock.
//   - A federated exchange needs a valid portal token (a referer-bound one
//     needs its Referer on the exchange request too) and serverUrl naming
//     this server (https, a loopback name, the simulator's port, path
//     /server). The server token never outlives the portal token.
//   - With Config.ServerTokensAtPortal, the server's rest/info names the
//     portal's generateToken as authInfo.tokenServicesUrl (as real federated
//     servers do), and the portal's generateToken takes username and
//     password with serverUrl=<server root> (no token): the answer, in the
//     portal's shape, is a token for the server. Its failed logins count
//     against the portal account (RealmPortal), so portal and server logins
//     of one account share one lock-out state. serverUrl must name this
//     server, checked before the password.
//   - Binding is checked on use: a referer-bound token needs an identical
//     Referer header, an ip-bound one the given client IP, a requestip-bound
//     one the IP that asked for it. Portal tokens (user and OAuth) work only
//     at the portal, server tokens only at the server.
//   - LockoutAttempts (5) consecutive failed logins on an account within
//     LockoutMinutes (15) lock it for LockoutMinutes, separately at the portal
//     and at the server (tokens and admin endpoints share the server's
//     state). The 5th failure still says "Invalid username or password.";
//     from then on even the right password gets 400 "Unable to generate
//     token." details ["Too many invalid logon attempts. Your account is
//     locked; try again in 15 minutes."]. A success resets the count. OAuth
//     apps never lock.
//
// # The service clock
//
// Everything the service computes runs on the service clock, Config.Clock
// plus an offset (Config.ClockOffset, SetClockOffset, ClockOffset,
// ServiceNow; positive is ahead of the test's clock): "expires", API key
// dates, lock-out windows, expiry checks on use, and the HTTP Date header of
// every response (net/http's own would use the real clock). So a test can
// run a service whose clock is 2 s or 2 min ahead of or behind the
// operator's. Counters (LoginAttempt.At, APIKeyEvent.At) keep Config.Clock.
//
// # Errors
//
// Errors come with HTTP 200 and a JSON body, as ArcGIS sends them. With
// RealStatusCodes the HTTP status equals the code for 400, 403, 404 and 405;
// 498, 499 and 201 always come with 200 (they are not HTTP error statuses).
//
//	{"error":{"code":400,"message":"Unable to generate token.","details":["Invalid username or password."]}}
//	{"error":{"code":400,"message":"Unable to generate token.","details":["'username' must be specified.","'password' must be specified."]}}
//	{"error":{"code":400,"message":"Unable to generate token.","details":["Too many invalid logon attempts. Your account is locked; try again in 15 minutes."]}}
//	{"error":{"code":400,"message":"Unable to generate token.","details":["Unable to get 'token' from the request or cookie, for server token."]}}
//	{"error":{"code":400,"message":"Unable to generate token.","details":["'serverUrl' is not a server federated with this portal."]}}
//	{"error":{"code":405,"message":"Method not supported","details":["Generate Token request should not contain username and password in the query string."]}}
//	{"error":{"code":405,"message":"Method not supported","details":["Generate Token requests must use HTTP POST."]}}
//	{"error":{"code":498,"message":"Invalid token.","details":[]}}                       unknown, revoked, wrongly bound, wrong side
//	{"error":{"code":498,"message":"Invalid token.","details":["Token has expired."]}}
//	{"error":{"code":499,"message":"Token Required","messageCode":"GWM_0003","details":["Token Required"]}}
//	{"error":{"code":403,"message":"You do not have permissions to access this resource or perform this operation.","messageCode":"GWM_0003","details":["You do not have permissions to access this resource or perform this operation."]}}
//
// Failed logins can be worded as other deployments word them
// (Config.Wording, Config.WordingAt per login endpoint, SetWording at run
// time); the account counts and locks the same:
//
//	LoginWordingIncorrect            {"error":{"code":400,"message":"Unable to generate token.","details":["The user name or password is incorrect."]}}
//	LoginWordingInvalidCredentials   {"error":{"code":401,"message":"Invalid credentials","details":[]}}
//	LoginWordingHTTP401              HTTP 401 {"error":{"code":401,"message":"Unauthorized access","details":[]}}
//	LockoutWordingUnknown            {"error":{"code":400,"message":"Unable to generate token.","details":["This account has been temporarily suspended."]}}
//
// OldServer makes "details" a single string (the details joined by spaces),
// the 498 message "Invalid Token", and has the server tokens endpoint answer
// a long expiration without client with
//
//	{"error":{"code":201,"message":"Exception in generating token","details":"Client ID is required for long expiration tokens."}}
//
// The admin API (admin/generateToken and admin) uses its own envelope, the
// message followed by the details:
//
//	{"status":"error","messages":["Unable to generate token.","Invalid username or password."],"code":400}
//	{"status":"error","messages":["Invalid token."],"code":498}
//	{"status":"error","messages":["Token Required"],"code":499}
//	{"status":"error","messages":["You do not have permissions to access this resource or perform this operation."],"code":403}
//
// A user in NoAdmin gets 403 from admin/generateToken (after a successful
// login) and from admin; so do portal and OAuth tokens at admin on a
// federated server (a standalone one answers 498).
//
// OAuth errors keep ArcGIS's error object with the OAuth 2.0 fields inside,
// as ArcGIS portals answer (HTTP 200, or 400 with RealStatusCodes):
//
//	{"error":{"code":400,"error":"invalid_client_id","error_description":"Invalid client_id","message":"Invalid client_id","details":[]}}
//	{"error":{"code":400,"error":"invalid_request","error_description":"Invalid client_secret","message":"Invalid client_secret","details":[]}}
//	{"error":{"code":400,"error":"invalid_request","error_description":"client_id not specified","message":"client_id not specified","details":[]}}
//	{"error":{"code":400,"error":"invalid_request","error_description":"grant_type not specified",…}}
//	{"error":{"code":400,"error":"unsupported_grant_type","error_description":"Unsupported grant_type",…}}
//	{"error":{"code":400,"error":"invalid_request","error_description":"client_secret not specified",…}}
//
// 403 "SSL Required" cannot happen on an HTTPS-only listener: inject it with
// FaultJSON and SSLRequiredBody. PermissionDeniedBody is the REST-shaped 403.
//
// # Faults
//
// InjectFault answers requests to an endpoint with an HTML page, a login
// page, a status, a delay, a dropped connection or a JSON body (see
// FaultKind). A fault names an endpoint exactly (EndpointAdmin does not
// select EndpointAdminGenerateToken), a prefix of whole segments ("server",
// "portal/content"), or every endpoint. So the probes the operator makes
// (EndpointPortalSelf, EndpointCommunitySelf, EndpointServerServices,
// EndpointAdmin) can fail with 401, 403 (FaultStatus with WAFForbiddenHTML
// or WAFForbiddenJSON as a WAF sends, or FaultJSON with
// PermissionDeniedBody) or 5xx while token issuance works. Every answer is
// counted under its endpoint as "fault:<kind>".
//
// # API key credentials
//
// Config.APIKeys, SetAPIKeyItem and POST /__sim/apikeys add API key
// credentials items (APIKeyItem: item ID, owner, client ID and secret,
// referrers, privileges, AppType, and each slot's starting expiration date
// and whether it holds a live key). The portal then serves, like ArcGIS
// Online and Enterprise 11.4+:
//
//   - content/users/<owner>/items/<itemId>/registeredAppInfo (GET or POST,
//     the owner's token): {"itemId","client_id","client_secret","appType":"apikey",
//     "redirect_uris":[],"registered","modified","apnsProdCert":null,
//     "apnsSandboxCert":null,"gcmApiKey":null,"httpReferrers":[…],
//     "privileges":[…],"isBeta":false,"isPersonalAPIToken":false,
//     "apiToken1Active","apiToken2Active","customAppLoginShowTriage":false}.
//     A slot is active while it holds a key that was neither invalidated nor
//     replaced and has not expired.
//   - content/items/<itemId> (GET or POST, the owner's token): the item,
//     "type":"API Key" (or "Application" for another AppType), with
//     "apiToken1ExpirationDate" and "apiToken2ExpirationDate" (epoch ms, -1
//     for none).
//   - content/users/<owner>/items/<itemId>/update (POST, the owner's token):
//     sets those dates (epoch ms, or -1); {"success":true,"id":…}. A date
//     not in the future, more than one calendar year ahead of the service
//     clock, or not a number refuses the whole update with
//     {"error":{"code":400,"message":"Unable to update item.","details":["apiToken1ExpirationDate must be at most one year ahead."]}}.
//     A new date does not change the slot's live key; the next key gets it.
//   - oauth2/token with client_id, client_secret,
//     grant_type=client_credentials and apiToken=1|2:
//     {"access_token":KEY,"expires_in":SECONDS}. With regenerateApiToken=true
//     a new key replaces the slot's, which stops working at once; without
//     it the slot's live key is returned (or a first one made). A key
//     expires at its slot's expiration date; a slot without a date gets one
//     year (and the date); a date already passed is refused
//     (invalid_request). Keys start "AAPT" and carry their slot digit as the
//     character 10th from the end (arcgis-rest-js slotForKey; SlotOfAPIKey).
//   - oauth2/revokeToken (POST) with client_id, client_secret and
//     apiToken=1|2 invalidates that slot and answers {"success":true}, also
//     for an empty slot; with auth_token (no apiToken) it revokes that OAuth
//     token of client_id.
//
// A key is used like a token (token parameter, bearer headers, query) at
// portals/self, community/self, community/users and a federated server's
// rest/services (not at a standalone server, not at the admin directory).
// An expired key gets 498 "Token has expired.", an invalidated or replaced
// one 498, and one whose Referer matches none of the item's httpReferrers
// ("*" spans any characters; a pattern also matches itself followed by a
// path) 498. RevokeAll does not touch keys: InvalidateAPIKey (or POST
// /__sim/apikeys/<itemId>/invalidate {"slot":N}) invalidates a slot from
// outside, as the owner would in the portal. APIKey returns a slot's live
// key (e.g. one made Active at start, used by "other apps"), APIKeyItems
// the slots' state. Counters.APIKeyEvents records every setExpiration,
// generate, regenerate, reuse, invalidate and invalidateExternal with
// timestamps; TokensIssued["apikey"] counts keys made.
//
// Errors: no token 499; another user's token, an OAuth app token or a key
// at registeredAppInfo, update or the item 403 (PermissionDeniedBody's
// shape); an owner without PrivilegeGenerateAPIKeys 403 at
// registeredAppInfo and update of an API key item; an unknown item, or one
// the URL's user does not own,
// {"error":{"code":400,"messageCode":"CONT_0001","message":"Item does not exist or is inaccessible.","details":[]}};
// apiToken on an app that is not API key credentials
// {"error":{"code":400,"error":"invalid_request","error_description":"API keys are not supported for this application",…}};
// bad client credentials as at oauth2/token.
//
// # Control
//
// RevokeAll simulates a shared-key change, SetUser and SetApp change
// accounts, InjectFault and ClearFaults drive failures (see FaultKind),
// Counters and ResetCounters observe requests, login attempts (with
// simulated-clock timestamps), concurrency, URL misuse, doors and API key
// slot changes, and Secrets lists every token and key issued and every
// password and secret configured, for leak scans. SetClockOffset,
// SetWording, SetAPIKeyItem and InvalidateAPIKey change the service at run
// time. The same is available over HTTP on the same listener, outside the
// portal and server paths:
//
//	GET    /__sim/            index
//	POST   /__sim/revoke      RevokeAll
//	GET    /__sim/faults      active faults
//	POST   /__sim/faults      InjectFault, body {"endpoint":"portal/generateToken","kind":"status","status":503,"retryAfter":"30s","delay":"2s","body":"…","count":1}
//	DELETE /__sim/faults      ClearFaults
//	GET    /__sim/counters    Counters as JSON
//	POST   /__sim/reset       ResetCounters
//	POST   /__sim/users       SetUser, body {"username":"…","password":"…"}
//	POST   /__sim/apps        SetApp, body {"clientId":"…","clientSecret":"…"}
//	GET    /__sim/clock       {"offset":"2s","serviceTime":…,"clockTime":…}
//	POST   /__sim/clock       SetClockOffset, body {"offset":"-2m"}
//	GET    /__sim/wording     Wordings
//	POST   /__sim/wording     SetWording, body {"endpoint":"server/tokens/generateToken","loginFailure":"http401","lockout":"unknown"}
//	GET    /__sim/apikeys     APIKeyItems (no secrets, no keys)
//	POST   /__sim/apikeys     SetAPIKeyItem, body an APIKeyItem as JSON
//	POST   /__sim/apikeys/ITEM/invalidate   InvalidateAPIKey, body {"slot":1}
//	GET    /__sim/ca.pem      the CA certificate
//	GET    /__sim/secrets     Secrets as JSON
//
// # Inferred behaviour
//
// Not confirmed by a source, chosen to be plausible and strict:
//
//   - the lock-out message, that the 5th failure still answers "Invalid
//     username or password.", that attempts while locked neither count nor
//     extend the lock, that unknown usernames lock nothing, and that
//     changing a password does not unlock;
//   - that a server token without client binding is short-lived only;
//   - the wording of the 405 for GET, of the missing or invalid referer, ip,
//     client and expiration parameters, and of the unknown serverUrl;
//   - that a non-positive expiration means the default;
//   - that a federated server token never outlives its portal token, and
//     that OAuth app tokens can be exchanged too;
//   - that the server refuses portal tokens with 498 except at the admin
//     directory of a federated server (403);
//   - that a bad token sent to an info endpoint is refused with 498;
//   - that 498 details are empty except for "Token has expired.";
//   - the admin envelope's messages, the OAuth "grant_type" and
//     "client_secret" errors, and the 403 for NoAdmin users;
//   - that OldServer changes every REST envelope and 498 message, not only
//     the server's;
//   - the unknown login and lock-out wordings (they are meant to be unknown);
//   - community/self and community/users needing a token, what other users
//     see of a profile, the 400 for an unknown user and its wording, and the
//     403 for an OAuth app token at community/self; the privileges of each
//     role and the name of PrivilegeGenerateAPIKeys;
//   - what a key shows at portals/self and community/self;
//   - for API keys: the 400 refusal of a date beyond one year (and its
//     wording), that a new date leaves the live key alone, the one-year key
//     of a slot without a date, the refusal of a passed date, that keys live
//     outside the shared key (RevokeAll), the referrer matching and its 498,
//     that invalidation keeps the slot's date, the answer to apiToken on
//     another app type, and the 403s for other users and app tokens.
//
// Everything the simulator keeps is in memory; tokens are never pruned, so
// that an expired token keeps answering "Token has expired.".
package arcgissim
