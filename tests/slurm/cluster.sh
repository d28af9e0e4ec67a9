#!/usr/bin/env bash
# A one-node Slurm cluster for the tests (Debian's slurm-wlm and munge; run as
# root): `cluster.sh start DIR` writes DIR/slurm.conf for this machine's name,
# CPUs and memory, keeps all state under DIR, starts munged (unless one
# answers already), slurmctld and slurmd, and waits until the node takes
# jobs; `cluster.sh stop DIR` ends the daemons it started, by process id.
# Point Slurm's commands at it with SLURM_CONF=DIR/slurm.conf.
set -euo pipefail
usage="usage: cluster.sh start|stop DIR"
action=${1:?$usage}
dir=${2:?$usage}
mkdir -p "$dir"
dir=$(realpath "$dir")
if [[ $action == stop ]]; then
    for pidfile in "$dir"/munge/munged.pid "$dir"/slurmctld.pid "$dir"/slurmd.pid; do
        [[ -s $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    exit 0
fi
[[ $action == start ]] || { echo "$usage" >&2; exit 2; }

mkdir -p "$dir/state" "$dir/spool"
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    install -d -o munge -g munge /run/munge /var/lib/munge /var/log/munge "$dir/munge"
    [[ -s /etc/munge/munge.key ]] || mungekey --create
    runuser -u munge -- /usr/sbin/munged --pid-file="$dir/munge/munged.pid"
fi
host=$(hostname -s)
cpus=$(nproc)
memory=$(awk '/MemTotal/ { print int($2 / 1024 * 0.8) }' /proc/meminfo)
port=$((20000 + RANDOM % 20000))
cat > "$dir/slurm.conf" <<CONF
ClusterName=crossthemes-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=3600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$dir/slurm.conf
/usr/sbin/slurmctld -i
/usr/sbin/slurmd
for _ in $(seq 60); do
    if sinfo -h -o %t 2>/dev/null | grep -q '^idle'; then
        echo "slurm: node $host, $cpus CPUs, $memory MB, config $dir/slurm.conf"
        exit 0
    fi
    sleep 1
done
echo "slurm did not come up; the end of its logs:" >&2
tail -n 20 "$dir"/*.log >&2 || true
exit 1
