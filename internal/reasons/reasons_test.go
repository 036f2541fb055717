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

package reasons

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEveryReasonConstantIsInTheTable parses the API's reason and event
// constants, so that a reason added there without a row here fails.
func TestEveryReasonConstantIsInTheTable(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../../api/v1alpha1/well_known.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if !strings.HasPrefix(name.Name, "Reason") && !strings.HasPrefix(name.Name, "Event") {
				continue
			}
			lit, ok := vs.Values[i].(*ast.BasicLit)
			if !ok {
				t.Errorf("%s is not a string literal", name.Name)
				continue
			}
			v, _ := strconv.Unquote(lit.Value)
			n++
			if !Known(v) {
				t.Errorf("%s = %q is not in the reasons table", name.Name, v)
			}
		}
		return true
	})
	if n < 20 {
		t.Fatalf("found only %d reason constants; did well_known.go move?", n)
	}
}

// TestTroubleshootingCoversEveryReason: every reason that tells a person to
// do something has its own section in the troubleshooting guide, under the
// anchor the kubectl plugin and messages point at.
func TestTroubleshootingCoversEveryReason(t *testing.T) {
	doc, err := os.ReadFile("../../docs/troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	headings := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## (.+)$`).FindAllStringSubmatch(string(doc), -1) {
		h := strings.ToLower(strings.TrimSpace(m[1]))
		h = strings.NewReplacer(" ", "-", "(", "", ")", "", "=", "", ",", "").Replace(h)
		headings[h] = true
	}
	for _, i := range All() {
		if i.Advice == "" {
			continue
		}
		a := strings.TrimPrefix(i.Anchor(), "docs/troubleshooting.md#")
		if !headings[a] {
			t.Errorf("docs/troubleshooting.md has no section %q for %s", a, i.Reason)
		}
	}
}

func TestTableIsConsistent(t *testing.T) {
	for _, i := range All() {
		switch {
		case i.Failure() && (i.BackoffBase <= 0 || i.BackoffCap < i.BackoffBase):
			t.Errorf("%s: a failure needs a backoff, got %v..%v", i.Reason, i.BackoffBase, i.BackoffCap)
		case !i.Failure() && (i.BackoffBase != 0 || i.FailedLogin):
			t.Errorf("%s: not a failure, yet has a backoff or counts as a failed login", i.Reason)
		case i.Failure() && i.Advice == "":
			t.Errorf("%s: a failure needs advice", i.Reason)
		case i.Summary == "":
			t.Errorf("%s: no summary", i.Reason)
		}
		if i.Class == Transient && i.Stalled() {
			t.Errorf("%s: transient yet stalled", i.Reason)
		}
	}
}

func TestBackoff(t *testing.T) {
	cases := map[string]struct {
		reason   string
		attempts int32
		want     time.Duration
	}{
		"no failure":                   {"ServiceUnavailable", 0, 0},
		"first transient":              {"ServiceUnavailable", 1, 5 * time.Second},
		"third transient":              {"ServiceUnavailable", 3, 20 * time.Second},
		"transient capped":             {"ServiceUnavailable", 40, 5 * time.Minute},
		"credentials":                  {"InvalidCredentials", 2, 10 * time.Minute},
		"credentials capped":           {"InvalidCredentials", 10, time.Hour},
		"locked starts at 15m":         {"AccountLocked", 1, 15 * time.Minute},
		"not a failure":                {"TokenIssued", 3, 0},
		"unknown is conservative":      {"SomethingNew", 1, time.Minute},
		"huge count does not overflow": {"BadRequest", 1 << 30, 30 * time.Minute},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Lookup(c.reason).Backoff(c.attempts); got != c.want {
				t.Errorf("Backoff(%d) = %v, want %v", c.attempts, got, c.want)
			}
		})
	}
}

func TestUnknownReasonIsTheSafeSide(t *testing.T) {
	i := Lookup("NeverHeardOf")
	if !i.FailedLogin || !i.Stalled() || !i.Failure() {
		t.Errorf("unknown reason = %+v, want a terminal failure counted as a failed login", i)
	}
}
