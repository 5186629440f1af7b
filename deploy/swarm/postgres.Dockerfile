# Local stand-in for postgres:17-alpine (docker-stack.postgres.yml): Debian bookworm's PostgreSQL 15
# with an entrypoint that does what the public image's does for this stack (POSTGRES_USER,
# POSTGRES_DB, POSTGRES_PASSWORD_FILE, /docker-entrypoint-initdb.d/*.sql on an empty volume), run
# as the postgres user with its data in the volume the stack mounts.
ARG DEBIAN_IMAGE=api-local/debian:bookworm
FROM ${DEBIAN_IMAGE}
# The package's default cluster is dropped: the entrypoint makes its own in PGDATA.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && pg_dropcluster 15 main \
 && mkdir -p /var/lib/postgresql/data /docker-entrypoint-initdb.d \
 && chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql \
 && chmod 700 /var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PGDATA=/var/lib/postgresql/data \
    PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER postgres
VOLUME ["/var/lib/postgresql/data"]
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
