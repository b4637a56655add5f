#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for the Slurm executor's test (CI runs as root):
#   bash scripts/slurm-ci.sh        install, start, run test/slurm/*.slurm.ts, stop
#   bash scripts/slurm-ci.sh up     install and start only (prints the SLURM_CONF to export)
#   bash scripts/slurm-ci.sh down   stop what `up` started
# It installs slurm-wlm and munge from Debian (apt), writes a one-node slurm.conf for localhost
# with this machine's CPUs (proctrack/linuxproc, task/none: no cgroups or systemd needed), starts
# munged, slurmctld and slurmd, and waits until sinfo shows the node idle. Everything lives under
# $FIM_SLURM_DIR (default /tmp/fim-slurm): the system's /etc/slurm is not touched, and the client
# commands find the cluster through SLURM_CONF. When the cluster cannot start, it says why and
# exits non-zero: CI fails loudly rather than skipping the test.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${FIM_SLURM_DIR:-/tmp/fim-slurm}
CONF=$D/slurm.conf
export SLURM_CONF=$CONF
mode=${1:-test}

fail() {
  echo "slurm-ci: $*" >&2
  for f in "$D"/munged.log "$D"/slurmctld.log "$D"/slurmd.log; do
    [ -s "$f" ] && { echo "--- last lines of $f" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}

install() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null && command -v munged >/dev/null; then
    return
  fi
  [ "$(id -u)" = 0 ] || fail "slurm-wlm and munge are not installed and this is not root: install them (apt-get install slurm-wlm munge) or run as root"
  echo "slurm-ci: installing slurm-wlm and munge from Debian"
  # Another apt (the e2e setup) may hold the dpkg lock: wait for it instead of failing.
  apt-get -o DPkg::Lock::Timeout=600 update -qq || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends slurm-wlm munge >/dev/null ||
    fail "apt-get install slurm-wlm munge failed"
}

stop() {
  for p in slurmd slurmctld munged; do
    if [ -s "$D/$p.pid" ]; then
      pid=$(cat "$D/$p.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$D/$p.pid"
    fi
  done
}

start() {
  [ "$(id -u)" = 0 ] || fail "the one-node cluster runs its daemons as root (as CI does); this is uid $(id -u)"
  install
  stop
  rm -rf "$D/state" "$D/spool"
  mkdir -p "$D/state" "$D/spool" "$D/munge"
  chmod 700 "$D/munge"
  local cpus
  cpus=$(nproc)
  cat >"$CONF" <<CONF
# One-node cluster for the Slurm executor's test (scripts/slurm-ci.sh).
ClusterName=fimci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$D/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=10
MinJobAge=600
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  # munged keeps its key in /etc/munge (the package creates one); its socket lives under $D.
  [ -s /etc/munge/munge.key ] || { mungekey --create --force 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null; }
  chmod 400 /etc/munge/munge.key
  munged --force --socket="$D/munge/munge.socket" --pid-file="$D/munged.pid" --log-file="$D/munged.log" --seed-file="$D/munge/seed" ||
    fail "munged did not start"
  slurmctld -f "$CONF" || fail "slurmctld did not start"
  slurmd -f "$CONF" -N localhost || fail "slurmd did not start"
  for _ in $(seq 60); do
    state=$(sinfo -h -N -o '%t' 2>/dev/null | head -n1 || true)
    [ "$state" = idle ] && { echo "slurm-ci: one-node cluster up ($cpus CPUs); export SLURM_CONF=$CONF"; return; }
    sleep 1
  done
  fail "the node did not become idle within 60 s (sinfo: ${state:-no answer})"
}

case "$mode" in
  up) start ;;
  down) stop ;;
  test)
    start
    trap stop EXIT
    t0=$(date +%s)
    node --import tsx --test --test-reporter=spec test/slurm/*.slurm.ts
    echo "slurm-ci: the Slurm test took $(($(date +%s) - t0)) s"
    ;;
  *) echo "usage: scripts/slurm-ci.sh [test|up|down]" >&2; exit 2 ;;
esac
