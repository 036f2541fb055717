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

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case
	args string
}

// stages parses a Dockerfile into its stages; enough for our own file, which
// uses no parser directives and no heredocs.
func stages(t *testing.T, path string) [][]instruction {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]instruction
	var cur string
	flush := func() {
		line := strings.TrimSpace(cur)
		cur = ""
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			out = append(out, nil)
		}
		if len(out) == 0 {
			t.Fatalf("%s: %s before FROM", path, in.cmd)
		}
		out[len(out)-1] = append(out[len(out)-1], in)
	}
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		cur += trimmed
		flush()
	}
	flush()
	return out
}

// labelArgs splits LABEL k="v" k2="v2" into a map.
func labelArgs(t *testing.T, args string) map[string]string {
	t.Helper()
	re := regexp.MustCompile(`([A-Za-z0-9._-]+)=("(?:[^"\\]|\\.)*"|\S+)`)
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(args, -1) {
		v := m[2]
		if strings.HasPrefix(v, `"`) {
			var err error
			if v, err = strconv.Unquote(v); err != nil {
				t.Fatalf("LABEL %s: %v", m[1], err)
			}
		}
		out[m[1]] = v
	}
	return out
}

// makeVar returns the value of a `NAME ?= value` or `NAME = value` line.
func makeVar(t *testing.T, makefile, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + ` \??= (.*)$`).FindStringSubmatch(makefile)
	if m == nil {
		t.Fatalf("Makefile has no %s", name)
	}
	return strings.TrimSpace(m[1])
}

// The Dockerfile, for people with a container engine, describes the image
// that `make image` builds: same base files, user, entrypoint, labels and Go
// build flags. What only a build could show (the bytes) is not checked here.
func TestDockerfileMatchesMakeImage(t *testing.T) {
	root := filepath.Join("..", "..")
	st := stages(t, filepath.Join(root, "Dockerfile"))
	if len(st) < 2 {
		t.Fatalf("want a builder stage and a final stage, got %d stages", len(st))
	}
	builder, final := st[0], st[len(st)-1]
	if from := final[0].args; from != "scratch" {
		t.Errorf("final stage FROM %s, want scratch (make image builds from scratch)", from)
	}

	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	mk := string(makefile)

	var labels map[string]string
	var copies []string
	var user, workdir string
	var entrypoint []string
	for _, in := range final[1:] {
		switch in.cmd {
		case "LABEL":
			labels = labelArgs(t, in.args)
		case "COPY":
			copies = append(copies, in.args)
		case "USER":
			user = in.args
		case "WORKDIR":
			workdir = in.args
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in.args), &entrypoint); err != nil {
				t.Errorf("ENTRYPOINT %s: want the exec form: %v", in.args, err)
			}
		case "ARG":
		case "RUN", "CMD", "ENV", "SHELL", "ADD", "VOLUME", "EXPOSE":
			t.Errorf("final stage has %s %s, which make image does not do", in.cmd, in.args)
		}
	}
	if user != User {
		t.Errorf("USER %q, make image sets %q", user, User)
	}
	if workdir != "/" {
		t.Errorf("WORKDIR %q, make image sets /", workdir)
	}
	if len(entrypoint) != 1 || entrypoint[0] != Entrypoint {
		t.Errorf("ENTRYPOINT %q, make image sets [%q]", entrypoint, Entrypoint)
	}

	// Labels: the same keys; the constant ones with the same values, the
	// per-build ones from the build arguments `make docker-build` passes.
	spec := Spec{Source: makeVar(t, mk, "IMAGE_SOURCE"), Version: "${VERSION}", Revision: "${REVISION}", Created: time.Unix(0, 0)}
	want := spec.Labels()
	want["org.opencontainers.image.created"] = "${CREATED}"
	for k, v := range want {
		if labels[k] != v {
			t.Errorf("LABEL %s=%q, want %q", k, labels[k], v)
		}
	}
	for k := range labels {
		if _, ok := want[k]; !ok {
			t.Errorf("LABEL %s is not set by make image", k)
		}
	}
	for _, arg := range []string{"VERSION", "REVISION", "CREATED"} {
		if !strings.Contains(mk, "--build-arg "+arg+"=") {
			t.Errorf("make docker-build does not pass --build-arg %s", arg)
		}
	}

	// Files: the base files come from this program (`image rootfs`), the
	// manager from the builder's static build; nothing else.
	wantCopies := []string{"--from=builder /rootfs/ /", "--from=builder /workspace/manager " + Entrypoint}
	if strings.Join(copies, "\n") != strings.Join(wantCopies, "\n") {
		t.Errorf("final stage copies %q, want %q", copies, wantCopies)
	}
	var builderRuns string
	for _, in := range builder {
		if in.cmd == "RUN" {
			builderRuns += in.args + "\n"
		}
	}
	if !strings.Contains(builderRuns, "cd hack/image && go run . rootfs /rootfs") {
		t.Error("the builder stage does not make the base files with hack/image (go run . rootfs /rootfs)")
	}

	// The Go build: static, trimmed, stripped, with the version, like make image.
	ldflags := makeVar(t, mk, "IMAGE_LDFLAGS")
	ldflags = strings.ReplaceAll(ldflags, "$(LDFLAGS)", makeVar(t, mk, "LDFLAGS"))
	ldflags = strings.ReplaceAll(ldflags, "$(VERSION)", "${VERSION}")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "` + ldflags + `"`} {
		if !strings.Contains(builderRuns, want) {
			t.Errorf("the builder's go build lacks %s", want)
		}
	}
	imageRecipe := mk[strings.Index(mk, "\nimage:"):]
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "$(IMAGE_LDFLAGS)"`} {
		if !strings.Contains(imageRecipe[:strings.Index(imageRecipe, "\n\n")], want) {
			t.Errorf("make image's go build lacks %s", want)
		}
	}

	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ignore), "!hack/image/") {
		t.Error(".dockerignore leaves hack/image out of the build context")
	}
}
