#!/usr/bin/env bash
# Creates the TestOps databases, one per process (the gateway's too), each owned by a role of its
# own name with a password of its own: a process's credentials open its database and no other.
# Each role and each database only when it is missing: running it again changes nothing (an
# existing role keeps its password).
#
# The postgres image runs it on the first start of an empty data volume (docker-compose.yml mounts
# it into /docker-entrypoint-initdb.d/). It can be pointed at any server with psql's variables:
#
#   POSTGRES_MULTIPLE_DATABASES=catalog,results,executor,gateway POSTGRES_USER=testops \
#     CATALOG_DB_PASSWORD=... RESULTS_DB_PASSWORD=... EXECUTOR_DB_PASSWORD=... \
#     GATEWAY_DB_PASSWORD=... PGHOST=db.internal PGPASSWORD=... deploy/compose/postgres-init.sh
#
# POSTGRES_MULTIPLE_DATABASES: the names, separated by commas or spaces (letters, digits, `_`).
# <NAME>_DB_PASSWORD: the password of the role <name> (CATALOG_DB_PASSWORD for catalog), required
#   for every name, used only when the role is created.
# POSTGRES_USER: who creates them, a superuser (the image's own).

# A subshell, so that the image's entrypoint may also source this file unharmed.
create_databases() (
    set -euo pipefail
    local admin="${POSTGRES_USER:-postgres}"
    local names="${POSTGRES_MULTIPLE_DATABASES:?name the databases in POSTGRES_MULTIPLE_DATABASES}"
    local psql=(psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 --username "$admin" --dbname postgres)
    local name password_variable owner

    # Everything is checked before anything is made: a missing password leaves the server as it is.
    for name in ${names//,/ }; do
        if [[ ! "$name" =~ ^[a-z_][a-z0-9_]*$ ]]; then
            echo "postgres-init: not a database name: '$name'" >&2
            return 2
        fi
        password_variable="${name^^}_DB_PASSWORD"
        if [[ -z "${!password_variable:-}" ]]; then
            echo "postgres-init: $password_variable is not set: the password of the role $name" \
                "(make one with: openssl rand -hex 24)" >&2
            return 2
        fi
    done

    for name in ${names//,/ }; do
        password_variable="${name^^}_DB_PASSWORD"
        if [[ "$("${psql[@]}" --tuples-only --no-align \
            --command "SELECT 1 FROM pg_roles WHERE rolname = '$name'")" == 1 ]]; then
            echo "postgres-init: role $name exists, its password left as it is"
        else
            # A plain login role (no superuser, no CREATEDB, no CREATEROLE). The password goes in
            # as a psql variable, quoted by psql (:'password'), never by the shell; psql
            # interpolates its variables in what it reads, not in --command: hence stdin.
            "${psql[@]}" --set name="$name" --set password="${!password_variable}" \
                <<<"CREATE ROLE :\"name\" LOGIN PASSWORD :'password'"
            echo "postgres-init: role $name created"
        fi

        owner="$("${psql[@]}" --tuples-only --no-align --command \
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '$name'")"
        if [[ -z "$owner" ]]; then
            "${psql[@]}" --command "CREATE DATABASE \"$name\" OWNER \"$name\""
            echo "postgres-init: database $name created, owned by $name"
        elif [[ "$owner" == "$name" ]]; then
            echo "postgres-init: database $name exists"
        else
            # Made before the roles were: its tables belong to another role. Left as it is; a dump
            # restored as the role hands it over (pg_restore --no-owner --role=<name>).
            echo "postgres-init: database $name exists, owned by $owner, not by the role $name:" \
                "left as it is" >&2
            continue
        fi
        # Only its owner (and superusers) may connect: not the role of another service.
        "${psql[@]}" --command "REVOKE CONNECT ON DATABASE \"$name\" FROM PUBLIC"
    done
)

create_databases
