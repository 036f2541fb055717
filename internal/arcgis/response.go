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
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// reply is one HTTP answer, read in full (up to the body limit).
type reply struct {
	status int
	header http.Header
	body   []byte
}

// jsonObject is a decoded JSON object whose members are decoded lazily, so
// that one member of an unexpected type does not hide the others.
type jsonObject map[string]json.RawMessage

// decodeObject decodes body as a JSON object. isJSON is false when the body
// is not JSON at all (HTML, a login page, empty, cut short); obj is nil when
// it is JSON but not an object.
func decodeObject(body []byte) (obj jsonObject, isJSON bool) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, false
	}
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, json.Valid(body)
	}
	return obj, true
}

// has says whether the member is present and not null.
func (o jsonObject) has(key string) bool {
	raw, ok := o[key]
	return ok && !isNull(raw)
}

// str returns a string member; ok is false when it is absent or not a string.
func (o jsonObject) str(key string) (string, bool) {
	raw, ok := o[key]
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// object returns an object member, or nil.
func (o jsonObject) object(key string) jsonObject {
	raw, ok := o[key]
	if !ok {
		return nil
	}
	var obj jsonObject
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil
	}
	return obj
}

// boolean reads a member that should be a boolean; "true" as a string is
// accepted because Esri's older servers quote scalars now and then.
func (o jsonObject) boolean(key string) (value, ok bool) {
	raw, present := o[key]
	if !present {
		return false, false
	}
	if err := json.Unmarshal(raw, &value); err == nil {
		return value, true
	}
	if s, isStr := o.str(key); isStr {
		if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
			return b, true
		}
	}
	return false, false
}

// integer reads a member holding an integer, as a JSON number or a string of
// digits; ok is false otherwise.
func (o jsonObject) integer(key string) (int64, bool) {
	raw, present := o[key]
	if !present {
		return 0, false
	}
	n, _, err := parseNumber(raw)
	if err != nil {
		return 0, false
	}
	return n, true
}

// maxTexts bounds the entries read from "details" or "messages"; the first
// few say what matters.
const maxTexts = 8

// texts reads a member that is a string or an array (of strings, usually),
// as ArcGIS's "details" is a string on older servers and an array on newer.
func (o jsonObject) texts(key string) []string {
	raw, ok := o[key]
	if !ok || isNull(raw) {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return nonEmpty([]string{s})
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nonEmpty([]string{compactJSON(raw)})
	}
	out := make([]string, 0, min(len(items), maxTexts))
	for _, item := range items {
		if len(out) == maxTexts {
			break
		}
		if err := json.Unmarshal(item, &s); err == nil {
			out = append(out, s)
		} else if !isNull(item) {
			out = append(out, compactJSON(item))
		}
	}
	return nonEmpty(out)
}

func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

func nonEmpty(in []string) []string {
	out := in[:0]
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// jsonKind names the JSON type of raw, for error messages.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// parseNumber reads an integer from a JSON number or a JSON string holding
// one. Fractions are dropped; exponents are accepted, because some JSON
// writers print large integers as 1.4538335988660E12. isString tells which
// form it was.
func parseNumber(raw json.RawMessage) (n int64, isString bool, err error) {
	text := string(bytes.TrimSpace(raw))
	if strings.HasPrefix(text, `"`) {
		if err := json.Unmarshal(raw, &text); err != nil {
			return 0, true, fmt.Errorf("is not a valid string")
		}
		text = strings.TrimSpace(text)
		isString = true
	} else if text == "" || !strings.ContainsAny(text[:1], "-0123456789") {
		return 0, false, fmt.Errorf("is %s, not a number", jsonKind(raw))
	}
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		return n, isString, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	// The bounds keep the conversion defined; callers check the range anyway.
	if err != nil || f != f || f > 9e18 || f < -9e18 {
		if isString {
			return 0, true, fmt.Errorf("is a string that is not a number")
		}
		return 0, false, fmt.Errorf("is not a usable number")
	}
	return int64(f), isString, nil
}

// serviceError is an error envelope found in a body, in any of its shapes:
//
//	{"error":{"code":498,"message":"Invalid token.","details":["Token has expired."],"messageCode":"…"}}
//	{"error":{"code":400,"message":"…","details":"one string on older servers"}}
//	{"status":"error","messages":["…"],"code":498}                       (admin API)
//	{"error":"invalid_client","error_description":"Invalid client_secret"} (OAuth)
//	{"error":{"code":400,"error":"invalid_request","error_description":"…"}}
type serviceError struct {
	code        int
	message     string
	details     []string
	messageCode string
	oauthError  string
	oauthDesc   string
}

// findServiceError returns the error envelope in obj, or nil when obj is not
// an error.
func findServiceError(obj jsonObject) *serviceError {
	if obj == nil {
		return nil
	}
	if obj.has("error") {
		se := &serviceError{}
		if s, ok := obj.str("error"); ok {
			// OAuth's flat shape.
			se.oauthError = s
			se.oauthDesc, _ = obj.str("error_description")
			se.code = intOrZero(obj, "code")
			return se
		}
		inner := obj.object("error")
		if inner == nil {
			// An error member of an odd type is still an error.
			se.message = "error: " + compactJSON(obj["error"])
			return se
		}
		se.code = intOrZero(inner, "code")
		se.message, _ = inner.str("message")
		se.details = inner.texts("details")
		se.messageCode, _ = inner.str("messageCode")
		se.oauthError, _ = inner.str("error")
		se.oauthDesc, _ = inner.str("error_description")
		if se.oauthDesc == "" {
			se.oauthDesc, _ = obj.str("error_description")
		}
		return se
	}
	if status, ok := obj.str("status"); ok && strings.EqualFold(strings.TrimSpace(status), "error") {
		return &serviceError{
			code:    intOrZero(obj, "code"),
			details: obj.texts("messages"),
		}
	}
	if desc, ok := obj.str("error_description"); ok {
		return &serviceError{oauthDesc: desc, code: intOrZero(obj, "code")}
	}
	return nil
}

func intOrZero(o jsonObject, key string) int {
	n, ok := o.integer(key)
	if !ok || n < -1<<31 || n > 1<<31-1 {
		return 0
	}
	return int(n)
}

// text joins what the service said into one line: the message, the OAuth
// description and the details as sentences, then the OAuth error and the
// message code as tags.
func (se *serviceError) text() string {
	var b strings.Builder
	var seen []string
	sentence := func(s string) {
		s = strings.TrimSpace(s)
		if s == "" {
			return
		}
		for _, p := range seen {
			if strings.EqualFold(p, s) {
				return
			}
		}
		seen = append(seen, s)
		if b.Len() > 0 {
			if !strings.ContainsAny(b.String()[b.Len()-1:], ".!?;:") {
				b.WriteByte('.')
			}
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	sentence(se.message)
	sentence(se.oauthDesc)
	const maxDetails = 5
	for i, d := range se.details {
		if i == maxDetails {
			break
		}
		sentence(d)
	}
	for _, tag := range []string{se.oauthError, se.messageCode} {
		if tag = strings.TrimSpace(tag); tag == "" {
			continue
		}
		if b.Len() == 0 {
			b.WriteString(tag)
		} else {
			b.WriteString(" [" + tag + "]")
		}
	}
	return b.String()
}

// Phrases that classify an error whatever its code. ArcGIS varies the
// wording between versions, so these are deliberately loose.
var (
	lockedPattern = regexp.MustCompile(`(?i)\blocked\b|\block-?out\b|\btoo many (?:invalid|failed|unsuccessful|incorrect|bad)\b|\bmaximum number of (?:failed |invalid )?(?:login|logon|sign[- ]?in) attempts\b`)
	// lockWarningPattern is a failed login that warns of a lock-out to come:
	// still bad credentials, not (yet) a locked account.
	lockWarningPattern = regexp.MustCompile(`(?i)\bwill be locked\b|\bbefore (?:the|your) account (?:is|gets) locked\b|\battempts? (?:left|remaining)\b|\bremaining (?:login |logon )?attempts?\b`)
	// badLoginPattern is a refused username or password in the wordings of
	// ArcGIS Server, Portal, ArcGIS Online, web adaptors and identity stores:
	// "Invalid username or password.", "The user name or password is
	// incorrect.", "Incorrect password", "Login failed", "Invalid credentials".
	badLoginPattern = regexp.MustCompile(`(?i)` +
		`(?:invalid|incorrect|wrong|bad) (?:username|user name|user|login|logon) (?:or|and|/) ?password` +
		`|(?:username|user name|login|logon)s? (?:or|and|/) ?passwords? (?:is|are|was|were) (?:incorrect|invalid|wrong|not valid|not correct)` +
		`|\b(?:invalid|incorrect|wrong|bad) password\b|\bpassword (?:is |was )?(?:incorrect|invalid|wrong)\b` +
		`|invalid credentials|\b(?:login|logon|log-in|sign[- ]?in|authentication) (?:failed|failure|unsuccessful)\b` +
		`|\bfailed to (?:log ?in|logon|sign[- ]?in|authenticate)\b`)
	badClientPattern = regexp.MustCompile(`(?i)\binvalid[ _]client[ _](?:id|secret)\b|\binvalid_client\b|\binvalid client credentials\b|\bclient_(?:id|secret) is invalid\b`)
)

// AccountLockout is how long ArcGIS Server and Portal lock an account after
// too many failed logins; a locked account is not retried sooner.
const AccountLockout = 15 * time.Minute

// maxRetryAfter bounds a service's Retry-After, so that a bogus header cannot
// park a token for days.
const maxRetryAfter = time.Hour

// classification is what a failure means for the caller.
type classification struct {
	reason     Reason
	retryable  bool
	retryAfter time.Duration
}

// classifyServiceError maps an error envelope (and the status line it came
// with) to a Reason. Specific phrases win over codes, because a lock-out or a
// bad password comes with a plain 400, and 403 and 499 share messageCode
// GWM_0003.
func classifyServiceError(se *serviceError, status int, retryAfter time.Duration) classification {
	code := se.code
	if code == 0 && (status < 200 || status > 299) {
		code = status
	}
	// The phrases that matter come first; a service answering megabytes of
	// error text must not cost megabytes of matching.
	text := se.text()
	if len(text) > maxSanitizeInput {
		text = text[:maxSanitizeInput]
	}
	lower := strings.ToLower(text)
	oauth := strings.ToLower(strings.TrimSpace(se.oauthError))
	switch {
	case lockedPattern.MatchString(text) && !lockWarningPattern.MatchString(text):
		return classification{ReasonAccountLocked, true, max(AccountLockout, retryAfter)}
	case oauth == "invalid_client" || oauth == "invalid_client_id" || oauth == "invalid_client_secret" || oauth == "unauthorized_client":
		return classification{reason: ReasonInvalidCredentials}
	case badClientPattern.MatchString(text) || badLoginPattern.MatchString(text):
		return classification{reason: ReasonInvalidCredentials}
	case code == 498 || strings.Contains(lower, "invalid token"):
		return classification{reason: ReasonInvalidToken}
	case code == 499 || strings.Contains(lower, "token required"):
		return classification{reason: ReasonTokenRequired}
	case strings.Contains(lower, "ssl required"):
		return classification{reason: ReasonSSLRequired}
	case code == 403 || strings.EqualFold(se.messageCode, "GWM_0003") || strings.Contains(lower, "do not have permissions"):
		return classification{reason: ReasonPermissionDenied}
	case code == 405 || strings.Contains(lower, "method not supported"):
		return classification{reason: ReasonMethodNotSupported}
	case oauth == "server_error" || oauth == "temporarily_unavailable":
		return classification{ReasonServiceUnavailable, true, retryAfter}
	}
	return classifyCode(code, retryAfter)
}

// classifyCode maps a bare status or error code.
func classifyCode(code int, retryAfter time.Duration) classification {
	switch {
	case code == 498:
		return classification{reason: ReasonInvalidToken}
	case code == 499:
		return classification{reason: ReasonTokenRequired}
	case code == 403:
		return classification{reason: ReasonPermissionDenied}
	case code == 405:
		return classification{reason: ReasonMethodNotSupported}
	case code == http.StatusTooManyRequests || code >= 500:
		return classification{ReasonServiceUnavailable, true, retryAfter}
	case code == 0 || code == 201 || (code >= 400 && code < 500):
		// 201 is old servers' "Exception in generating token"; 0 is an error
		// envelope without a code, which is still the service saying no.
		return classification{reason: ReasonBadRequest}
	default:
		// 1xx, other 2xx, 3xx: not an answer a token service gives.
		return classification{ReasonServiceUnavailable, true, retryAfter}
	}
}

// failure interprets the parts of a reply common to every endpoint: non-JSON
// bodies, error envelopes and error statuses. It returns nil when the reply
// is a JSON object without an error, which the caller then reads.
func failure(rep *reply, obj jsonObject, isJSON bool, now time.Time) *Error {
	retryAfter := parseRetryAfter(rep.header.Get("Retry-After"), now)
	if !isJSON {
		// The status line is trusted for the codes only ArcGIS uses; any other
		// non-JSON answer is a proxy, a login page or an error page in the
		// way, which is not the service's final word.
		c := classification{ReasonServiceUnavailable, true, retryAfter}
		msg := describeNonJSON(rep)
		switch rep.status {
		case 498, 499, http.StatusMethodNotAllowed:
			c = classifyCode(rep.status, retryAfter)
		default:
			if len(bytes.TrimSpace(rep.body)) > 0 {
				msg += "; a proxy, login or error page may be in the way"
			}
		}
		return &Error{
			Reason:     c.reason,
			Retryable:  c.retryable,
			RetryAfter: c.retryAfter,
			Message:    msg,
		}
	}
	if se := findServiceError(obj); se != nil {
		c := classifyServiceError(se, rep.status, retryAfter)
		msg := se.text()
		if msg == "" {
			msg = "the service answered with an error and no message"
		}
		return &Error{
			Reason:     c.reason,
			Code:       se.code,
			Retryable:  c.retryable,
			RetryAfter: c.retryAfter,
			Message:    msg,
		}
	}
	if rep.status < 200 || rep.status > 299 {
		c := classifyCode(rep.status, retryAfter)
		return &Error{
			Reason:     c.reason,
			Retryable:  c.retryable,
			RetryAfter: c.retryAfter,
			Message:    fmt.Sprintf("the service answered HTTP %d without an error message", rep.status),
		}
	}
	if obj == nil {
		return invalidResponse("the service answered JSON that is not an object")
	}
	return nil
}

// invalidResponse is JSON that does not hold what it should. Retrying may
// help, as this is usually a proxy or an upgrade in progress, never something
// in the request.
func invalidResponse(format string, args ...any) *Error {
	return &Error{Reason: ReasonInvalidResponse, Retryable: true, Message: fmt.Sprintf(format, args...)}
}

var titlePattern = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// maxHTMLHead is how far into an HTML page its title is looked for.
const maxHTMLHead = 16 << 10

// describeNonJSON says what came instead of JSON, enough to recognise a
// login page or a proxy error without quoting the body.
func describeNonJSON(rep *reply) string {
	if len(bytes.TrimSpace(rep.body)) == 0 {
		return "the service answered with an empty body instead of JSON"
	}
	kind := "a body that is not JSON"
	ct := rep.header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil && mt != "" {
		kind = "a " + mt + " body instead of JSON"
	}
	msg := fmt.Sprintf("the service answered with %s (%d bytes)", kind, len(rep.body))
	head := rep.body
	if len(head) > maxHTMLHead {
		head = head[:maxHTMLHead]
	}
	if m := titlePattern.FindSubmatch(head); m != nil {
		title := strings.TrimSpace(html.UnescapeString(string(m[1])))
		if title != "" {
			msg += fmt.Sprintf(", title %q", truncate(title, 80))
		}
	} else if trimmed := bytes.TrimSpace(rep.body); trimmed[0] == '{' || trimmed[0] == '[' {
		msg += ", cut short or malformed"
	}
	return msg
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date, relative to
// now, bounded by maxRetryAfter; 0 when absent or unusable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
