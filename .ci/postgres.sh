# Sourced by .ci/run: start a throwaway PostgreSQL server on 127.0.0.1 for the tests that share
# a study between workers through PostgreSQL, and export MOREC_TEST_POSTGRES_URL. Stopped on exit.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_bin" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
pg_port=54329
pg_data=$(mktemp -d /tmp/morec-ci-pg.XXXXXX)
chown postgres "$pg_data"
runuser -u postgres -- "$pg_bin/initdb" -D "$pg_data" -A trust -U postgres >/dev/null
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_data/server.log" -w \
  -o "-p $pg_port -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
trap 'runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_data" -m fast stop >/dev/null; rm -rf "$pg_data"' EXIT
runuser -u postgres -- "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" morec_test
export MOREC_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$pg_port/morec_test"
echo "PostgreSQL for tests at 127.0.0.1:$pg_port"
