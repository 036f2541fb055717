# Builds the same image as `make image` (which needs no container engine), for
# the build platform:
#   make docker-build IMG=registry.example.com/arcgis-token-operator:v0.2.0
# The same static build, the same base files (made by hack/image), the same
# user, entrypoint and labels: hack/image's tests check that this file and
# `make image` agree.
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev

WORKDIR /workspace
# Dependencies first, so that they are cached while the source changes.
COPY go.mod go.sum ./
RUN go mod download

COPY cmd/main.go cmd/main.go
COPY api/ api/
COPY controllers/ controllers/
COPY internal/ internal/

RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath \
    -ldflags "-s -w -X github.com/tokenoperator/arcgis-token-operator/internal/version.Version=${VERSION}" \
    -o manager ./cmd

# The base: /etc/passwd and /etc/group with nonroot 65532, and Mozilla's CA
# roots in /etc/ssl/certs/ca-certificates.crt. No shell, no package manager.
COPY hack/image/ hack/image/
RUN cd hack/image && go run . rootfs /rootfs

FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="arcgis-token-operator" \
      org.opencontainers.image.description="Keeps short-lived ArcGIS tokens in Kubernetes Secrets" \
      org.opencontainers.image.source="https://github.com/tokenoperator/arcgis-token-operator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=builder /rootfs/ /
COPY --from=builder /workspace/manager /manager
WORKDIR /
# The manager needs no writable filesystem and no privileges.
USER 65532:65532

ENTRYPOINT ["/manager"]
