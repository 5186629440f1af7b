# One image per app of the monorepo:
#   docker build --build-arg APP=gateway -t registry.example.com/api/gateway:1.0.0 .
# APP is one of gateway, user-service, product-service, checkout-service.
# BASE_IMAGE is the public Node 24 LTS image the apps run on (its major tag follows Node 24's
# security releases; pin a digest for reproducible builds). BUILD_IMAGE is the full Node 24 image,
# which already has python3, make and g++ for better-sqlite3, so no build installs packages. Both
# are Debian bookworm with Node 24: the addon compiled on one runs on the other (same glibc, same
# Node ABI within a major). A machine without Docker Hub builds on local images made the same way
# (Debian bookworm + the official Node build), see scripts/swarm-up.mjs.
ARG BASE_IMAGE=node:24-bookworm-slim
ARG BUILD_IMAGE=node:24-bookworm

# The stages before `ARG APP` are the same for every app: built once, the next three app builds
# take them from the build cache.
FROM ${BUILD_IMAGE} AS deps
WORKDIR /src
# Native addons compile against this image's own Node headers, and no prebuilt binary is fetched
# from the network.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 --build-from-source

FROM deps AS build
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY libs ./libs
COPY apps ./apps
# Every app in one run (one TypeScript start-up); each app's default port, serverConfig(<port>) in
# its compiled module, goes to ports/<app> for the healthcheck.
RUN npx nest build gateway user-service product-service checkout-service \
 && mkdir ports \
 && for app in gateway user-service product-service checkout-service; do \
      grep -rhoE 'serverConfig\)\([0-9]+[,)]' "dist/apps/$app/apps/$app" | grep -oE '[0-9]+' | head -n 1 > "ports/$app" \
      && test -s "ports/$app" || exit 1; \
    done

FROM deps AS modules
COPY --from=build /src/dist/apps ./dist/apps
COPY deploy/image/requires-check.cjs ./
ARG APP
# Each image carries only the packages its app imports (`npm pkg delete` + prune drops a package
# with what only it needs). The services never load swagger-ui-dist: they serve their document as
# JSON only (setupOpenApi, ui: false), and the one Swagger UI is the gateway's. The services keep
# pg because DATABASE_URL (docker-stack.postgres.yml) chooses PostgreSQL at run time. Every app
# keeps the OpenTelemetry API, core, SDK, resources, semantic conventions and OTLP/HTTP exporter (trace
# export is chosen at run time by OTEL_EXPORTER_OTLP_ENDPOINT); none loads the async-hooks context
# manager, since spans are parented explicitly.
RUN case "$APP" in \
      gateway) unused="better-sqlite3 pg typeorm @nestjs/typeorm" ;; \
      product-service) unused="@redis/client undici yaml @nestjs/jwt @nestjs/axios" ;; \
      user-service) unused="undici yaml @nestjs/jwt @nestjs/axios" ;; \
      checkout-service) unused="@redis/client undici yaml @nestjs/jwt" ;; \
      *) echo "build with --build-arg APP=<gateway|user-service|product-service|checkout-service>, got '$APP'" >&2; exit 1 ;; \
    esac \
 && for p in $unused @opentelemetry/context-async-hooks; do npm pkg delete "dependencies.$p"; done \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && if [ "$APP" != gateway ]; then rm -rf node_modules/swagger-ui-dist \
      && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"; fi \
 && node requires-check.cjs "dist/apps/$APP/apps/$APP/src/main.js"

FROM ${BASE_IMAGE} AS runtime
ARG APP
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    APP_ENTRY=/app/dist/apps/${APP}/src/main.js
WORKDIR /app
# Code and config stay owned by root: the app's user can read them but not change them.
COPY --from=modules /src/package.json ./package.json
COPY --from=modules /src/node_modules ./node_modules
COPY --from=build /src/dist/apps/${APP} ./dist
COPY --from=build /src/ports/${APP} ./default-port
COPY config ./config
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]
# PORT unset: the app listens on its default port, serverConfig(<port>) in its module, which the
# build read from the compiled module into /app/default-port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "const p=process.env.PORT||require('fs').readFileSync('/app/default-port','utf8').trim();fetch('http://127.0.0.1:'+p+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
STOPSIGNAL SIGTERM
# exec: node is PID 1 and receives SIGTERM itself, which starts the graceful drain.
CMD ["sh", "-c", "exec node \"$APP_ENTRY\""]
