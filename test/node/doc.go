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

// Package node runs the operator on a real node: `make test-node` (as root,
// with Debian's containerd and runc installed) deploys config/default with
// `kubectl apply -k`, the manager image from `make image`, on a one-node
// cluster, and follows an ArcGISToken from issue through rotations to garbage
// collection, with one consumer pod that mounts the token's Secret and one
// that reads it from an environment variable.
//
// The cluster: kube-apiserver and etcd (envtest, with the ServiceAccount
// admission plugin back on, so pods get their ServiceAccount's token),
// kube-controller-manager (all default controllers: garbage collection,
// namespaces, Deployments and ReplicaSets, ServiceAccounts, kube-root-ca.crt),
// kube-scheduler, containerd 1.6 with its CRI plugin and the overlayfs
// snapshotter, and a kubelet v1.37 with the cgroupfs driver on cgroup v1. Every
// image comes from this repository: the pause and consumer images are built
// here (static Go binaries in single-layer images), the manager's by
// `make image`; all are imported with `ctr images import`.
//
// What differs from a real cluster, because the node has no pod network (no
// CNI plugin) and no registry:
//   - every pod runs in the host's network (hostNetwork: true), the manager
//     with KUBERNETES_SERVICE_HOST/PORT pointing at the API server's loopback
//     address and with free probe and metrics ports (writeOverlay);
//   - so the operator's namespace enforces the privileged Pod Security
//     Standard instead of restricted; the unchanged pod template is checked
//     against restricted with a server-side dry run (checkRestricted);
//   - containerd gets a network configuration naming a plugin that does not
//     exist, only so that its CRI plugin reports the network ready;
//   - the kubelet and the controllers authenticate as cluster admins.
//
// Everything lives under one folder (/tmp/arcgis-node-*) and one cgroup of
// the same name; Node.Stop removes containers, shims, mounts, cgroups and the
// kubelet's log links, also after a failure or a Ctrl-C, and a later run
// cleans up after a run that was killed.
//
// NODE_RBAC_DROP=GROUP/RESOURCE:VERB (e.g. apps/deployments:patch) removes one
// verb from the manager's ClusterRole, to show that a missing permission fails
// the test.
package node
