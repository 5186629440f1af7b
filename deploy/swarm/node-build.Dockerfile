# Local stand-in for node:24-bookworm (the Dockerfile's BUILD_IMAGE): the local Node base plus the
# compilers better-sqlite3 builds with, which the public full image carries already.
ARG NODE_IMAGE=api-local/node:24-bookworm-slim
FROM ${NODE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
