# syntax=docker/dockerfile:1
# One image per app of the monorepo:
#   docker build --build-arg APP=gateway -t registry.example.com/api/gateway:1.0.0 .
# APP is one of gateway, user-service, product-service, checkout-service.
# The major-version tag follows Node 20's security releases; pin a digest for reproducible builds.
ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm-slim AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Native addons compile against this image's own Node headers: the same base image runs them below,
# so the ABI and glibc match, and no prebuilt binary is fetched from the network.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts \
 && npm rebuild better-sqlite3 --build-from-source

FROM deps AS build
ARG APP
RUN case "$APP" in gateway|user-service|product-service|checkout-service) ;; \
      *) echo "build with --build-arg APP=<gateway|user-service|product-service|checkout-service>, got '$APP'" >&2; exit 1 ;; \
    esac
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY libs ./libs
COPY apps ./apps
RUN npx nest build "$APP" \
 && npm prune --omit=dev --ignore-scripts \
 && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ARG APP
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    APP_ENTRY=/app/dist/apps/${APP}/src/main.js
WORKDIR /app
# Code and config stay owned by root: the app's user can read them but not change them.
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/apps/${APP} ./dist
COPY config ./config
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
STOPSIGNAL SIGTERM
# exec: node is PID 1 and receives SIGTERM itself, which starts the graceful drain.
CMD ["sh", "-c", "exec node \"$APP_ENTRY\""]
