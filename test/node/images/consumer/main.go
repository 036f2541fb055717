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

// Command consumer is the token consumer of the node test: it prints the
// fingerprint and expiry of the ArcGIS token it sees, either from the files of
// a mounted Secret (-dir) or from environment variables (-env), when they
// change and every few seconds. It never prints the token.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	dir := flag.String("dir", "", "read the token and expires files from this mounted Secret `folder`")
	env := flag.Bool("env", false, "read ARCGIS_TOKEN and ARCGIS_EXPIRES from the environment")
	every := flag.Duration("every", 5*time.Second, "print at least this often")
	poll := flag.Duration("poll", 500*time.Millisecond, "look for a change this often")
	flag.Parse()
	if (*dir == "") == !*env {
		fmt.Fprintln(os.Stderr, "consumer: give one of -dir or -env")
		os.Exit(2)
	}

	var last string
	var printed time.Time
	for {
		token, expires, err := read(*dir, *env)
		state := "fp=" + fingerprint(token) + " expires=" + expires
		if err != nil {
			state = "error=" + strings.ReplaceAll(err.Error(), " ", "_")
		}
		now := time.Now()
		if state != last || now.Sub(printed) >= *every {
			event := "same"
			if state != last {
				event = "changed"
			}
			fmt.Printf("at=%s event=%s %s\n", now.UTC().Format(time.RFC3339Nano), event, state)
			last, printed = state, now
		}
		time.Sleep(*poll)
	}
}

func read(dir string, env bool) (token, expires string, err error) {
	if env {
		return os.Getenv("ARCGIS_TOKEN"), os.Getenv("ARCGIS_EXPIRES"), nil
	}
	// Both keys come from one ..data folder the kubelet swaps atomically, so
	// reading them through the folder's symlinks gives a consistent pair
	// except across a swap, which the next poll settles.
	t, err := os.ReadFile(filepath.Join(dir, "token"))
	if err != nil {
		return "", "", err
	}
	e, err := os.ReadFile(filepath.Join(dir, "expires"))
	if err != nil {
		return "", "", err
	}
	return string(t), string(e), nil
}

// fingerprint is the first 12 hex digits of the token's SHA-256: enough to
// tell tokens apart, useless for using one.
func fingerprint(token string) string {
	if token == "" {
		return "none"
	}
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:6])
}
