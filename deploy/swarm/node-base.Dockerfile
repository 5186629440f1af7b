# Local stand-in for node:24-bookworm-slim where Docker Hub is out of reach: Debian bookworm
# (debootstrap, imported as DEBIAN_IMAGE) plus the official Node build in /usr/local, and the
# `node` user (uid 1000) the public image has. Built by scripts/swarm-up.mjs from a context holding
# node/{bin,include,lib} and the host's CA bundle: npm inside the build then trusts what the host
# trusts (a machine behind a TLS-inspecting egress proxy).
ARG DEBIAN_IMAGE=api-local/debian:bookworm
FROM ${DEBIAN_IMAGE}
COPY node/ /usr/local/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
RUN groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
CMD ["node"]
