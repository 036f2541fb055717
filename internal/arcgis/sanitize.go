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
	"html"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Error messages end up in Kubernetes conditions, events and logs, which many
// more people can read than the credentials Secret. Everything that goes into
// Error.Message passes through sanitize, which removes, in this order: the
// exact secret values of the current request (a service may echo them), any
// value after a secret-looking key (token=, password:, "client_secret":"…"),
// Bearer credentials, URL queries and user info, and long opaque strings that
// look like tokens. Only then is the message cut to maxMessageLen, so that a
// secret is never half cut and missed.

const (
	// maxMessageLen bounds Error.Message, in bytes.
	maxMessageLen = 300
	// redacted replaces everything removed.
	redacted = "[REDACTED]"
	// minSubstringSecret is the length from which a secret is removed wherever
	// it occurs; shorter ones only where they stand alone as a word, so that a
	// two-letter password does not shred every message.
	minSubstringSecret = 4
	// minOpaqueLen is the length from which a run of base64-like characters
	// with upper and lower case letters and digits is taken for a token.
	minOpaqueLen = 32
	// maxSanitizeInput is how much of a text is looked at: far more than a
	// message shows, and small enough that a service answering megabytes of
	// error text cannot make the client spin.
	maxSanitizeInput = 4 << 10
)

var (
	// secretValuePattern finds key=value, key: value and "key":"value" pairs
	// whose key names a secret. The value stops at the usual delimiters; it
	// cannot start with '[' so that an already redacted value is left alone.
	secretValuePattern = regexp.MustCompile(
		`(?i)((?:access_|refresh_|id_|portal_|server_|session_)?token|password|passwd|pwd|client_secret|secret|api_?key|x-esri-authorization|authorization)` +
			`(["']?\s*[=:]\s*["']?)` +
			`([^\s&"',;<>(){}\[\]]+)`)
	// bearerPattern finds HTTP authorization credentials.
	bearerPattern = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[^\s"',;<>]+`)
	// urlPattern finds absolute URLs, so that their user info, query and
	// fragment can be dropped.
	urlPattern = regexp.MustCompile(`(?i)\b(?:https?|wss?)://[^\s"'<>]+`)
	// opaquePattern finds candidate tokens: long runs of base64 characters,
	// with the trailing dots ArcGIS tokens often have.
	opaquePattern = regexp.MustCompile(`[A-Za-z0-9_\-+/=]{32,}\.{0,2}`)
	// spacePattern collapses runs of white space.
	spacePattern = regexp.MustCompile(`\s{2,}`)
)

// secrets are the values that must never appear in an error of one request:
// its password or client secret, the tokens it sends, and the tokens found in
// the answers it gets. Safe for concurrent use, because federated requests
// share a portal login between callers.
type secrets struct {
	mu   sync.Mutex
	vals []string
}

func newSecrets(vals ...string) *secrets {
	s := &secrets{}
	s.add(vals...)
	return s
}

// add records values to redact; empty values are ignored.
func (s *secrets) add(vals ...string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range vals {
		if v == "" {
			continue
		}
		seen := false
		for _, have := range s.vals {
			if have == v {
				seen = true
				break
			}
		}
		if !seen {
			s.vals = append(s.vals, v)
		}
	}
}

// within reports whether text holds a secret long enough to be told apart
// from an ordinary number or word (minSubstringSecret bytes or more).
func (s *secrets) within(text string) bool {
	for _, v := range s.list() {
		if len(v) >= minSubstringSecret && strings.Contains(text, v) {
			return true
		}
	}
	return false
}

// list returns the values and their common encodings, longest first so that
// a secret that contains another is removed whole.
func (s *secrets) list() []string {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, 4*len(s.vals))
	for _, v := range s.vals {
		out = append(out, v)
		// A service may echo the form-encoded or JSON-escaped value.
		for _, enc := range []string{url.QueryEscape(v), url.PathEscape(v), jsonEscape(v, true), jsonEscape(v, false), html.EscapeString(v)} {
			if enc != v {
				out = append(out, enc)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// jsonEscape returns v as it appears inside a JSON string, with or without
// the HTML escapes (\u0026 for &) that Go and some Java writers add.
func jsonEscape(v string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(v); err != nil {
		return v
	}
	out := bytes.TrimSpace(b.Bytes())
	if len(out) < 2 {
		return v
	}
	return string(out[1 : len(out)-1])
}

// sanitize makes text fit for an error message: printable, single line, free
// of secrets and URL queries, and at most maxMessageLen bytes.
func sanitize(text string, s *secrets) string {
	if text == "" {
		return ""
	}
	secretList := s.list()
	if len(text) > maxSanitizeInput {
		text = cutInput(text, secretList)
	}
	text = strings.ToValidUTF8(text, "\uFFFD")
	text = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, text)
	for _, v := range secretList {
		text = redactValue(text, v)
	}
	text = bearerPattern.ReplaceAllString(text, "$1 "+redacted)
	text = urlPattern.ReplaceAllStringFunc(text, scrubURL)
	text = secretValuePattern.ReplaceAllString(text, "${1}${2}"+redacted)
	text = opaquePattern.ReplaceAllStringFunc(text, func(m string) string {
		if looksLikeToken(m) {
			return redacted
		}
		return m
	})
	text = strings.TrimSpace(spacePattern.ReplaceAllString(text, " "))
	return truncate(text, maxMessageLen)
}

// cutInput cuts text to about maxSanitizeInput bytes without leaving part
// of a secret at the cut, where no pattern would recognise it: the last word
// goes, and so does any end that begins a secret (which may hold spaces).
func cutInput(text string, secretList []string) string {
	cut := maxSanitizeInput
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	text = text[:cut]
	if i := strings.LastIndexFunc(text, unicode.IsSpace); i >= 0 {
		text = text[:i+1]
	} else {
		return ""
	}
	for changed := true; changed; {
		changed = false
		for _, v := range secretList {
			for k := min(len(v)-1, len(text)); k > 0; k-- {
				if strings.HasSuffix(text, v[:k]) {
					text, changed = text[:len(text)-k], true
					break
				}
			}
		}
	}
	return text + " …"
}

// redactValue removes v from text: everywhere when v is long enough to be
// unambiguous, otherwise only where it stands alone.
func redactValue(text, v string) string {
	if v == "" || !strings.Contains(text, v) {
		return text
	}
	if len(v) >= minSubstringSecret {
		return strings.ReplaceAll(text, v, redacted)
	}
	var b strings.Builder
	for {
		i := strings.Index(text, v)
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		before, _ := utf8.DecodeLastRuneInString(text[:i])
		after, _ := utf8.DecodeRuneInString(text[i+len(v):])
		b.WriteString(text[:i])
		if (i == 0 || !isWordRune(before)) && (i+len(v) == len(text) || !isWordRune(after)) {
			b.WriteString(redacted)
		} else {
			b.WriteString(v)
		}
		text = text[i+len(v):]
	}
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_'
}

// scrubURL keeps an URL's scheme, host and path, which help to find the
// failing service, and drops its user info, query and fragment, which are
// where credentials and tokens travel when someone gets it wrong.
func scrubURL(raw string) string {
	// Trailing punctuation is more likely the sentence's than the URL's.
	trail := ""
	for len(raw) > 0 && strings.ContainsRune(".,;:)}", rune(raw[len(raw)-1])) {
		trail = raw[len(raw)-1:] + trail
		raw = raw[:len(raw)-1]
	}
	scheme, rest, _ := strings.Cut(raw, "://")
	hostEnd := strings.IndexAny(rest, "/?#")
	host, tail := rest, ""
	if hostEnd >= 0 {
		host, tail = rest[:hostEnd], rest[hostEnd:]
	}
	if at := strings.LastIndex(host, "@"); at >= 0 {
		host = redacted + "@" + host[at+1:]
	}
	path, _, hasQuery := strings.Cut(tail, "?")
	path, _, _ = strings.Cut(path, "#")
	out := scheme + "://" + host + path
	if hasQuery {
		out += "?" + redacted
	}
	return out + trail
}

// looksLikeToken says whether a long base64-like run is probably a token:
// it must mix upper case, lower case and digits, which host names, UUIDs
// and English words do not.
func looksLikeToken(m string) bool {
	m = strings.TrimRight(m, ".")
	if len(m) < minOpaqueLen {
		return false
	}
	var upper, lower, digit bool
	for _, r := range m {
		switch {
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= '0' && r <= '9':
			digit = true
		}
	}
	return upper && lower && digit
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// sanitized returns a copy of e whose message is fit to show: see sanitize.
// Copies, because errors of a shared portal login reach several callers.
func (e *Error) sanitized(sec *secrets) *Error {
	if e == nil {
		return nil
	}
	c := *e
	c.Message = sanitize(c.Message, sec)
	if c.Code != 0 && sec.within(strconv.Itoa(c.Code)) {
		// The code is the service's number, and a service that echoes a
		// numeric password into it must not have it printed. No ArcGIS
		// code is long enough to hold a secret, so nothing real is lost.
		c.Code = 0
	}
	if c.Message == "" && e.Message != "" {
		c.Message = "the message held nothing printable"
	}
	return &c
}
