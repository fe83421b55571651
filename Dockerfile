# The laiki binary in a small, static, non-root image:
#   make image        (or: docker build -t laiki .)
# Stage 1 builds with the Go version of go.mod; stage 2 is distroless
# "static" (no shell, no package manager), user 65532.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first: a change to the code reuses their layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w -X github.com/laiki-platform/laiki/engine/version.Stamp=${VERSION}" -o /out/laiki ./cmd/laiki

# For CI jobs that run scripts (GitLab CI): the same binary with busybox's
# shell. docker build --target ci -t laiki:ci .
FROM gcr.io/distroless/static-debian12:debug-nonroot AS ci
COPY --from=build /out/laiki /usr/local/bin/laiki
USER 65532:65532
ENTRYPOINT []

# The default image: no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.source="https://github.com/laiki-platform/laiki" \
      org.opencontainers.image.description="Laiki: a ShinyProxy platform from one file per app" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/laiki /usr/local/bin/laiki
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/laiki"]
CMD ["--help"]
