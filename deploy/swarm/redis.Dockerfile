# Local stand-in for redis:7.2-alpine: Debian bookworm's redis-server (7.0) and redis-cli. Runs as
# the package's redis user in /data, the volume the stack mounts, like the public image.
ARG DEBIAN_IMAGE=api-local/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
USER redis
WORKDIR /data
VOLUME ["/data"]
CMD ["redis-server"]
