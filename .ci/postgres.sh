#!/usr/bin/env bash
# Best effort: start a throwaway PostgreSQL on 127.0.0.1 so the store and engine
# tests also run against it. Prints the database URL on success, nothing otherwise.
set -u
{
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || exit 0
    timeout 300 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq postgresql || exit 0
  fi
  version=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
  [ -n "$version" ] || exit 0
  [ -d "/etc/postgresql/$version/main" ] || pg_createcluster "$version" main || exit 0
  pg_ctlcluster "$version" main start 2>/dev/null || pg_ctlcluster "$version" main status || exit 0
  su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'journeys-ci'\"" || exit 0
  su postgres -c "psql -q -c 'DROP DATABASE IF EXISTS journeys_test'" || exit 0
  su postgres -c "psql -q -c 'CREATE DATABASE journeys_test'" || exit 0
} >&2
echo "postgresql+psycopg://postgres:journeys-ci@127.0.0.1/journeys_test"
