-- Run once by the postgres image on an empty data volume (docker-stack.postgres.yml), as POSTGRES_USER.
-- Each service owns its database; the services create their tables through their migrations.
CREATE DATABASE products;
CREATE DATABASE users;
CREATE DATABASE orders;
