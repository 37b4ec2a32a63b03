# mcp-authz container image: a static binary (the default policy bundle is
# embedded in it) on distroless, running as a non-root numeric user.
#
#   docker build -t mcp-authz:dev .
#   docker run --rm -v "$PWD/deploy:/etc/mcp-authz/config:ro" -p 9191:9191 -p 9192:9192 mcp-authz:dev
#
# deploy/config.yaml must listen on 0.0.0.0 (the dev config listens on loopback).
#
# There is no HEALTHCHECK: Kubernetes probes gRPC health on 9191 and /readyz
# and /healthz on 9192 (examples/istio/deployment.yaml), and a distroless
# image has no shell or curl to run one. test/container checks this file.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
# Modules first, so source edits reuse the download layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static: no cgo, no libc, nothing for the distroless base to provide.
ENV CGO_ENABLED=0 GOOS=linux
RUN go build -trimpath -ldflags="-s -w" -o /out/mcp-authz ./cmd/mcp-authz

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mcp-authz /usr/local/bin/mcp-authz
# distroless's nonroot user, by number so runAsNonRoot can verify it.
USER 65532:65532
# gRPC ext_authz + health, and admin HTTP (/healthz, /readyz, /metrics).
EXPOSE 9191 9192
ENTRYPOINT ["/usr/local/bin/mcp-authz"]
CMD ["serve", "--config=/etc/mcp-authz/config/config.yaml"]
