# syntax=docker/dockerfile:1
#
# One image, two binaries: scouter-server (default) and scouter-worker.
#
#   docker build -t scouter .
#   docker run --rm -p 8000:8000 -p 8001:8001 -p 50051:50051 scouter
#   docker run --rm scouter scouter-worker
#
# cgo stays on (CGO_ENABLED=1) because the Kafka consumer uses
# confluent-kafka-go, which links librdkafka through cgo; the runtime image
# therefore has to be glibc-based as well.

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=1 GOCACHE=/go/build-cache
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/go/build-cache \
    go build -trimpath -ldflags="-s -w" -o /out/scouter-server ./cmd/server && \
    go build -trimpath -ldflags="-s -w" -o /out/scouter-worker ./cmd/worker

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 scouter \
    && useradd --system --uid 10001 --gid scouter --home-dir /app --create-home scouter
COPY --from=build /out/scouter-server /out/scouter-worker /usr/local/bin/
WORKDIR /app
USER scouter:scouter
# HTTP API (SCOUTER_SERVER_PORT), Prometheus metrics (SCOUTER_SERVER_PORT+1),
# gRPC (SCOUTER_GRPC_PORT).
EXPOSE 8000 8001 50051
CMD ["scouter-server"]
