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

// Command image builds the manager's container image without a container
// engine (`make image`): a base made from scratch (the user database, the CA
// roots) and the static manager, one image per platform and their index,
// written as an OCI layout and as docker archives. It uses
// go-containerregistry's packages, as crane and ko do.
//
//	image build -out dist/image -repository R -version V -revision SHA \
//	    -source URL -created EPOCH -binary linux/amd64=PATH [-binary ...]
//	image rootfs DIR    # the base files, for the Dockerfile
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

type binaries map[string]string

func (b binaries) String() string { return fmt.Sprint(map[string]string(b)) }

func (b binaries) Set(v string) error {
	platform, path, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want PLATFORM=PATH, got %q", v)
	}
	b[platform] = path
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: image build|rootfs ...")
	}
	switch args[0] {
	case "rootfs":
		if len(args) != 2 {
			return fmt.Errorf("usage: image rootfs DIR")
		}
		files, err := BaseFiles()
		if err != nil {
			return err
		}
		return WriteRootfs(args[1], files)
	case "build":
		return build(args[1:])
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func build(args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	s := Spec{Binaries: binaries{}}
	out := fs.String("out", "dist/image", "output folder")
	created := fs.String("created", os.Getenv("SOURCE_DATE_EPOCH"), "creation time, seconds since the epoch")
	fs.StringVar(&s.Repository, "repository", "", "image repository, e.g. ghcr.io/OWNER/NAME")
	fs.StringVar(&s.Version, "version", "", "image tag and version label")
	fs.StringVar(&s.Revision, "revision", "", "source commit")
	fs.StringVar(&s.Source, "source", "", "source repository URL")
	fs.Var(binaries(s.Binaries), "binary", "PLATFORM=PATH of a static manager binary (repeat per platform)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for flagName, v := range map[string]string{"repository": s.Repository, "version": s.Version, "revision": s.Revision, "source": s.Source, "created": *created} {
		if v == "" {
			return fmt.Errorf("-%s is required", flagName)
		}
	}
	epoch, err := strconv.ParseInt(*created, 10, 64)
	if err != nil {
		return fmt.Errorf("-created: %w", err)
	}
	s.Created = time.Unix(epoch, 0).UTC()

	base, err := BaseFiles()
	if err != nil {
		return err
	}
	res, err := Build(s, base)
	if err != nil {
		return err
	}
	if err := Write(*out, s, res); err != nil {
		return err
	}
	fmt.Printf("image %s\n", res.Ref(s))
	for _, p := range res.Platforms {
		fmt.Printf("  %-12s %s  compressed %s, unpacked %s\n", p.Platform, p.Digest, mib(p.Compressed), mib(p.Unpacked))
	}
	fmt.Printf("  written to %s/oci (OCI layout) and %s/manager-ARCH.tar (docker archives)\n", *out, *out)
	return nil
}

func mib(n int64) string {
	return fmt.Sprintf("%d bytes (%.1f MiB)", n, float64(n)/(1<<20))
}
