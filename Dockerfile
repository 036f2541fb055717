# Builds the manager into a static binary on a distroless, non-root image.
#   make docker-build IMG=registry.example.com/arcgis-token-operator:v0.1.0
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
    -o manager cmd/main.go

# distroless/static: CA certificates for the system roots, no shell, runs as
# UID 65532. The manager needs no writable filesystem.
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/manager .
USER 65532:65532

ENTRYPOINT ["/manager"]
