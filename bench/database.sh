#!/bin/bash
# bench/database.sh: the cost of one `monitor` of ocf:rust:database against
# ocf:heartbeat:pgsql and ocf:heartbeat:mysql, on the same running servers
# (PostgreSQL 15 on port 55690, MariaDB 10.11 on 33690, in a temporary
# directory under /var/tmp), in the same run, each at the depth where it runs
# a query (heartbeat mysql only queries at OCF_CHECK_LEVEL=10), with the same
# query per engine. /bin/true is the floor. Prints two Markdown tables.
#
#   bench/database.sh [RUNS]        (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
cargo build --release --quiet
hb=/usr/lib/ocf/resource.d/heartbeat
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /var/tmp/dba-bench.XXXXXX)
chmod 755 "$work"
ln -s "$PWD/target/release/ocf-rs" "$work/database"
mkdir -p "$work/pg" "$work/sock" "$work/my"
chown postgres:postgres "$work/pg" "$work/sock"
chown mysql:mysql "$work/my"

pg=(engine=postgresql datadir="$work/pg/data" socketdir="$work/sock" port=55690)
my=(engine=mysql datadir="$work/my/data" config="$work/my.cnf" socket="$work/run/mysqld.sock"
    pid="$work/run/mysqld.pid" log="$work/my.log")
ours() {  # ours ACTION PARAMS...
    local action=$1; shift
    env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=bench $(printf 'OCF_RESKEY_%s ' "$@") \
        "$work/database" "$action"
}
cleanup() {
    ours stop "${pg[@]}" >/dev/null 2>&1 || true
    ours stop "${my[@]}" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

runuser -u postgres -- "$pgbin/initdb" -D "$work/pg/data" -U postgres --auth-local=peer \
    --auth-host=scram-sha-256 --no-sync >/dev/null
# heartbeat pgsql needs these in postgresql.conf (env-lab section 10).
cat >> "$work/pg/data/postgresql.conf" <<CONF
port = 55690
unix_socket_directories = '$work/sock'
listen_addresses = '127.0.0.1'
CONF
mariadb-install-db --no-defaults --user=mysql --datadir="$work/my/data" --skip-test-db >/dev/null 2>&1
cat > "$work/my.cnf" <<CONF
[mysqld]
port = 33690
bind-address = 127.0.0.1
[client]
socket = $work/run/mysqld.sock
CONF
ours start "${pg[@]}" >/dev/null 2>&1
ours start "${my[@]}" >/dev/null 2>&1

pgq="select now();"
myq="SELECT COUNT(*) FROM mysql.user"
common=(--runs "$runs" --env OCF_RESKEY_CRM_meta_interval=10000 --env OCF_RESKEY_CRM_meta_timeout=20000
        --env OCF_RESOURCE_INSTANCE=bench)
envs() { for kv in "$@"; do printf -- '--env\nOCF_RESKEY_%s\n' "$kv"; done; }
m() { local out=$1; shift; bench/measure.py --out "$out" "${common[@]}" "$@"; }

pgrows=$work/pg.jsonl
myrows=$work/my.jsonl
m "$pgrows" --label "floor: /bin/true" -- /bin/true
mapfile -t a < <(envs "${pg[@]}" "monitor_query=$pgq")
m "$pgrows" --label "ocf:rust:database monitor (postgresql)" "${a[@]}" -- "$work/database" monitor
mapfile -t a < <(envs pgctl="$pgbin/pg_ctl" psql="$pgbin/psql" pgdata="$work/pg/data" pgport=55690 \
    socketdir="$work/sock" pgdba=postgres "monitor_sql=$pgq")
m "$pgrows" --label "ocf:heartbeat:pgsql monitor" "${a[@]}" -- "$hb/pgsql" monitor

m "$myrows" --label "floor: /bin/true" -- /bin/true
mapfile -t a < <(envs "${my[@]}" "monitor_query=$myq")
m "$myrows" --label "ocf:rust:database monitor (mysql)" "${a[@]}" -- "$work/database" monitor
mapfile -t a < <(envs binary=/usr/sbin/mariadbd client_binary=/usr/bin/mariadb config="$work/my.cnf" \
    datadir="$work/my/data" pid="$work/run/mysqld.pid" socket="$work/run/mysqld.sock" \
    user=mysql group=mysql log="$work/my.log" test_user=root test_table=mysql.user)
m "$myrows" --label "ocf:heartbeat:mysql monitor (OCF_CHECK_LEVEL=10)" --env OCF_CHECK_LEVEL=10 \
    "${a[@]}" -- "$hb/mysql" monitor

load="$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
bench/report.py "$pgrows" --ours "ocf:rust:database monitor (postgresql)" --floor "floor: /bin/true" \
    --title "database monitor, PostgreSQL 15, query '$pgq' over the unix socket ($(date -u +%F), $load)"
echo
bench/report.py "$myrows" --ours "ocf:rust:database monitor (mysql)" --floor "floor: /bin/true" \
    --title "database monitor, MariaDB 10.11, query '$myq' over the unix socket ($(date -u +%F), $load)"
