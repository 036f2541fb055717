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
	"net/http"
	"strings"
	"time"
)

// The success shapes of the token endpoints:
//
//	{"token":"…","expires":1453833598866,"ssl":true}  portal, federated exchange
//	{"token":"…","expires":1453833598866}             server tokens endpoint
//	{"token":"…","expires":"13472658353687"}          admin API: a string
//	{"access_token":"…","expires_in":7200}            OAuth: seconds from now
//
// The expiry is always read from the answer, never computed from the lifetime
// asked for, because services cap lifetimes silently.

var (
	// minExpiry is the earliest believable expiry. Anything before is a unit
	// mix-up (epoch seconds read as milliseconds) or garbage.
	minExpiry = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)
)

const (
	// maxLifetime is the longest believable lifetime. Portal caps tokens at
	// two weeks and Server at a day or a year; ten years is plainly wrong.
	maxLifetime = 10 * 365 * 24 * time.Hour
	// maxTokenLen bounds a token; real ones are a few hundred bytes.
	maxTokenLen = 16 << 10
)

// issued is a token read from a reply.
type issued struct {
	token string
	// expires is the expiry on the operator's clock: the earlier of what the
	// service said and now plus the lifetime measured on the service's clock.
	expires time.Time
	// lifetime is what the service granted, measured on its own clock.
	lifetime time.Duration
	// skew is the service's clock minus ours (zero without a Date header).
	skew time.Duration
	ssl  bool
}

// maxBelievableSkew bounds the clock difference the Date header may show; a
// Date further off is ignored as broken rather than trusted.
const maxBelievableSkew = 24 * time.Hour

// serviceClock reads the service's clock from the reply's Date header. It
// returns now when the header is missing or unbelievable.
func serviceClock(h http.Header, now time.Time) (time.Time, bool) {
	d, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return now, false
	}
	if skew := d.Sub(now); skew > maxBelievableSkew || skew < -maxBelievableSkew {
		return now, false
	}
	return d, true
}

// interpretTokenReply reads a generateToken, oauth2/token or exchange reply.
// Any token the reply holds is added to sec first, so that no error about
// that reply can quote it. The error, if any, is already sanitised.
func interpretTokenReply(rep *reply, now time.Time, sec *secrets) (issued, *Error) {
	obj, isJSON := decodeObject(rep.body)
	for _, key := range []string{"token", "access_token", "refresh_token"} {
		if v, ok := obj.str(key); ok {
			sec.add(v)
		}
	}
	if e := failure(rep, obj, isJSON, now); e != nil {
		return issued{}, e.sanitized(sec)
	}
	it, e := readToken(obj, now, rep.header)
	if e != nil {
		return issued{}, e.sanitized(sec)
	}
	return it, nil
}

// readToken reads the token, its expiry and the ssl flag from a success body.
// An absolute expiry is measured against the service's clock (the reply's
// Date header) so that a clock skew neither stretches nor shrinks the
// lifetime, and the expiry returned is the earlier of the two clocks' views:
// the token is never taken for valid past its expiry on either clock.
func readToken(obj jsonObject, now time.Time, header http.Header) (issued, *Error) {
	key := "token"
	if !obj.has(key) && obj.has("access_token") {
		key = "access_token"
	}
	if !obj.has(key) {
		return issued{}, invalidResponse("the service answered without a token")
	}
	tok, ok := obj.str(key)
	if !ok {
		return issued{}, invalidResponse("%s is %s, not a string", key, jsonKind(obj[key]))
	}
	if e := checkToken(tok); e != nil {
		return issued{}, e
	}
	serviceNow, _ := serviceClock(header, now)
	it := issued{token: tok, skew: serviceNow.Sub(now)}
	it.ssl, _ = obj.boolean("ssl")
	if obj.has("expires") {
		expires, e := readExpiry(obj, serviceNow)
		if e != nil {
			return issued{}, e
		}
		it.lifetime = expires.Sub(serviceNow)
		it.expires = expires
		if local := now.Add(it.lifetime); local.Before(expires) {
			it.expires = local
		}
		// A service clock so far behind that its expiry is less than half
		// the lifetime ahead on ours: the token still works for the whole
		// lifetime, but trust only half of it, rather than take a fresh
		// token for expired.
		if half := now.Add(it.lifetime / 2); it.expires.Before(half) {
			it.expires = half
		}
		return it, nil
	}
	expires, e := readExpiry(obj, now)
	if e != nil {
		return issued{}, e
	}
	it.expires, it.lifetime = expires, expires.Sub(now)
	return it, nil
}

// checkToken refuses values that cannot be a token. A token is opaque, but it
// ends up in HTTP headers and Secrets, so white space and control characters
// are refused rather than passed on.
func checkToken(tok string) *Error {
	switch {
	case strings.TrimSpace(tok) == "":
		return invalidResponse("the service answered with an empty token")
	case len(tok) > maxTokenLen:
		return invalidResponse("the service answered with a token of %d bytes", len(tok))
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c == 0x7f {
			return invalidResponse("the service answered with a token holding white space or control characters")
		}
	}
	return nil
}

// readExpiry reads "expires" (epoch milliseconds, as a number or a string) or
// else "expires_in" (seconds from now, OAuth), and checks that the result is
// in the future and not absurdly far away.
func readExpiry(obj jsonObject, now time.Time) (time.Time, *Error) {
	switch {
	case obj.has("expires"):
		ms, _, err := parseNumber(obj["expires"])
		if err != nil {
			return time.Time{}, invalidResponse("expires %s", err)
		}
		if ms <= 0 {
			return time.Time{}, invalidResponse("expires is %d, not a time", ms)
		}
		// Guard the conversion: UnixMilli overflows far beyond any sane value.
		if ms > now.Add(maxLifetime).UnixMilli() {
			return time.Time{}, invalidResponse("expires %d is more than %d years ahead", ms, int(maxLifetime.Hours()/24/365))
		}
		return checkExpiry(time.UnixMilli(ms).UTC(), now)
	case obj.has("expires_in"):
		secs, _, err := parseNumber(obj["expires_in"])
		if err != nil {
			return time.Time{}, invalidResponse("expires_in %s", err)
		}
		if secs <= 0 {
			return time.Time{}, invalidResponse("expires_in is %d, not a lifetime", secs)
		}
		if secs > int64(maxLifetime/time.Second) {
			return time.Time{}, invalidResponse("expires_in %d is more than %d years", secs, int(maxLifetime.Hours()/24/365))
		}
		return checkExpiry(now.Add(time.Duration(secs)*time.Second).UTC(), now)
	default:
		return time.Time{}, invalidResponse("the service answered without expires or expires_in")
	}
}

func checkExpiry(t, now time.Time) (time.Time, *Error) {
	switch {
	case t.Before(minExpiry):
		return time.Time{}, invalidResponse("expires %s is before 2000: not epoch milliseconds", t.Format(time.RFC3339))
	case !t.After(now):
		return time.Time{}, invalidResponse("expires %s is not in the future (now %s): check the clocks of the service and the operator",
			t.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case t.Sub(now) > maxLifetime:
		return time.Time{}, invalidResponse("expires %s is more than %d years ahead", t.Format(time.RFC3339), int(maxLifetime.Hours()/24/365))
	}
	return t, nil
}
