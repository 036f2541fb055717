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

// kubectl-arcgistoken is a kubectl plugin for ArcGISTokens: `kubectl
// arcgistoken status|renew|inspect`. It reads what the operator records (the
// ArcGISToken's status, its Secret's keys and annotations) and asks for a
// renewal with the renew-at annotation; it never prints a token, only its
// length and a SHA-256 fingerprint.
//
// Install it on the PATH with `go install ./cmd/kubectl-arcgistoken` (or `make
// build`, into bin/); kubectl finds it by its name.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if err := newRootCommand(streams, clock.RealClock{}).Execute(); err != nil {
		os.Exit(1)
	}
}
