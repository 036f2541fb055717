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

// Command helm-package does what `helm package --version V --app-version V`
// does, with the Helm library this module already uses to render the chart
// in its tests (no helm binary is installed on our build machines):
//
//	helm-package CHART_DIR VERSION OUT_DIR
//
// It prints the path of the .tgz it wrote.
package main

import (
	"fmt"
	"os"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: helm-package CHART_DIR VERSION OUT_DIR")
		os.Exit(2)
	}
	dir, version, out := os.Args[1], os.Args[2], os.Args[3]
	ch, err := loader.LoadDir(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helm-package:", err)
		os.Exit(1)
	}
	ch.Metadata.Version = version
	ch.Metadata.AppVersion = version
	if err := ch.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "helm-package:", err)
		os.Exit(1)
	}
	path, err := chartutil.Save(ch, out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helm-package:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
