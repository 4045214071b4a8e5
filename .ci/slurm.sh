# Sourced by .ci/run: a single-node Slurm cluster on this machine (munged, slurmctld, slurmd;
# one `debug` partition with the machine's CPUs; state and spool under a temporary folder) for
# the tests that submit studies through `morec tune --launcher slurm`. Exports SLURM_CONF.
# Stopped on exit, before PostgreSQL (this trap chains .ci/postgres.sh's).
# The parts of Debian's slurm-wlm a single node needs (slurm-wlm itself pulls in far more).
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
fi
slurm_dir=${MOREC_SLURM_DIR:-$(mktemp -d /tmp/morec-ci-slurm.XXXXXX)}
mkdir -p "$slurm_dir"/{state,spool,log,munge}
chmod 755 "$slurm_dir"  # mktemp's 700 would keep munged (user munge) out of its socket folder
chown munge: "$slurm_dir/munge"
[ -s /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null;
  chown munge: /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
slurm_stop() {
  local file pids="" alive=""
  for file in slurmd.pid slurmctld.pid munge/munged.pid; do
    [ -s "$slurm_dir/$file" ] && pids="$pids $(cat "$slurm_dir/$file")"
  done
  # `|| true` throughout: this runs under .ci/run's `set -e`, and PostgreSQL's stop comes after.
  kill $pids 2>/dev/null || true
  # A slurmd that never registered ignores SIGTERM for a while: SIGKILL what is left after 5 s.
  for _ in $(seq 10); do
    alive=$(for pid in $pids; do kill -0 "$pid" 2>/dev/null && echo "$pid"; done || true)
    [ -z "$alive" ] && break
    sleep 0.5
  done
  [ -z "${alive:-}" ] || kill -9 $alive 2>/dev/null || true
  rm -rf "$slurm_dir"
}
# Before any daemon starts, so that a failed start stops what did start. PostgreSQL's trap
# (.ci/postgres.sh) runs after this one.
trap "slurm_stop; $(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")" EXIT
# Its own socket, so that a munged already running here is left alone.
slurm_munge_socket="$slurm_dir/munge/munge.socket"
runuser -u munge -- munged --socket="$slurm_munge_socket" --pid-file="$slurm_dir/munge/munged.pid" \
  --log-file="$slurm_dir/munge/munged.log" --seed-file="$slurm_dir/munge/seed"
slurm_node=$(hostname -s)
slurm_cpus=$(nproc)
slurm_mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
slurm_port=${MOREC_SLURM_PORT:-6817}
cat > "$slurm_dir/slurm.conf" <<CONF
ClusterName=morec-ci
# Addresses given: the test machine's hostname need not resolve.
SlurmctldHost=$slurm_node(127.0.0.1)
SlurmctldPort=$slurm_port
SlurmdPort=$((slurm_port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire: a requeued job waits this long (default 120 s) before it may start again.
AuthInfo=socket=$slurm_munge_socket,cred_expire=10
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=$slurm_dir/state
SlurmdSpoolDir=$slurm_dir/spool
SlurmctldPidFile=$slurm_dir/slurmctld.pid
SlurmdPidFile=$slurm_dir/slurmd.pid
SlurmctldLogFile=$slurm_dir/log/slurmctld.log
SlurmdLogFile=$slurm_dir/log/slurmd.log
ReturnToService=2
# Short waits: a test cluster, where jobs are requeued and cancelled within seconds.
KillWait=10
MinJobAge=600
SchedulerParameters=sched_interval=2
MessageTimeout=20
JobRequeue=1
# Without it a job asking no memory takes the whole node (CR_Core_Memory).
DefMemPerCPU=1024
NodeName=$slurm_node NodeAddr=127.0.0.1 CPUs=$slurm_cpus RealMemory=$slurm_mem State=UNKNOWN
PartitionName=debug Nodes=$slurm_node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
export SLURM_CONF="$slurm_dir/slurm.conf"
slurmctld -c -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
slurm_up=""
for _ in $(seq 40); do
  if timeout 2 sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then slurm_up=1; break; fi
  sleep 0.5
done
if [ -z "$slurm_up" ]; then
  echo "Slurm did not start; logs in $slurm_dir/log"; tail -n 20 "$slurm_dir/log/"*
  return 1 2>/dev/null || exit 1
fi
echo "Slurm for tests: partition debug on $slurm_node ($slurm_cpus CPUs), SLURM_CONF=$SLURM_CONF"
