# syntax=docker/dockerfile:1

# Build a static binary. The embedded database uses a pure-Go SQLite, so cgo is not needed.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/fhir-server ./cmd/fhir-server \
 && mkdir -p /out/data

# A small final image: no shell, no package manager, a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/fhir-server /usr/local/bin/fhir-server
COPY --from=build --chown=nonroot:nonroot /out/data /data
ENV FHIR_ADDR=:8080 \
    FHIR_DATA_DIR=/data
USER nonroot:nonroot
EXPOSE 8080
VOLUME ["/data"]
# The image has no shell and no curl: the binary asks its own /readyz, at FHIR_ADDR.
HEALTHCHECK --interval=10s --timeout=6s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/fhir-server", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/fhir-server"]
CMD ["serve"]
