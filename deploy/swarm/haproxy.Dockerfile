# Local stand-in for haproxy:2.6 (the edge of docker-stack.no-ipvs.yml): Debian bookworm's HAProxy,
# run as its haproxy user, with bash for the stack's healthcheck as in the public image.
ARG DEBIAN_IMAGE=api-local/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends haproxy \
 && rm -rf /var/lib/apt/lists/*
USER haproxy
CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
