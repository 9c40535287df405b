#!/usr/bin/env bash
# Slurm 22.05 `srun --container` with rrun as the OCI runtime, on a one-node
# cluster this test starts: munged, slurmctld and slurmd with their keys,
# sockets, state, spool, logs and pid files under $T. Both oci.conf variants
# of packaging/clients/slurm/ (RunTimeRun; RunTimeCreate + RunTimeStart), jobs
# of the test user and of root: output, exit status, scancel of a running
# container leaving no process, state or cgroup behind; then the per-container
# overhead of srun --container with rrun and with runc.
#
# slurmstepd reads oci.conf for each step: switching runtime or variant is a
# rewrite of $T/etc/oci.conf, no daemon restart.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

for b in munged slurmctld slurmd srun squeue scancel sinfo runc; do
  command -v "$b" >/dev/null || skip "$b is not installed (install-deps.sh --clients)"
done

# Slurm's default ports: fixed, so one run at a time on this machine.
CTLD_PORT=6817
SLURMD_PORT=6818
exec 9>/run/lock/rrun-test-slurm.lock
flock 9
for p in $CTLD_PORT $SLURMD_PORT; do
  [[ -z "$(ss -Hltn "sport = :$p")" ]] || skip "TCP port $p is in use (another slurmctld/slurmd?)"
done

NODE=$(hostname -s)
CONF=$T/etc/slurm.conf
OCI=$T/etc/oci.conf
# Marks every process this test's daemons start (slurmstepd, the runtime
# and what it leaves), to find them at exit without matching names.
MARK=RRUN_TEST_SLURM=$T
install -d -m 755 "$T/etc" "$T/log" "$T/run"
install -d -m 700 "$T/munge" "$T/ctld-state" "$T/spool"
install -d -m 755 "$T/munge-sock"
# The runtimes' --root parents: every user makes its own subdirectory.
install -d -m 1777 "$T/state" "$T/state-runc"

# ---------------------------------------------------------------- daemons

pids_of_mark() {
  local f p
  for f in /proc/[0-9]*/environ; do
    p=${f#/proc/}
    p=${p%/environ}
    [[ $p != "$$" && $p != "$BASHPID" ]] || continue
    grep -qzxF "$MARK" "$f" 2>/dev/null && echo "$p"
  done
  return 0
}
stop_all() {
  local i p left
  if [[ -f "$CONF" ]]; then
    SLURM_CONF=$CONF timeout 5 scancel --full --quiet --user=root 2>/dev/null
    SLURM_CONF=$CONF timeout 5 scancel --full --quiet --user="$TEST_USER" 2>/dev/null
  fi
  # Containers Slurm left running (a create/start job after scancel):
  # rrun, as root, acts in a user's --root as that user.
  local rt dir id
  for rt in "$RRUN_BIN:$T/state" "$(command -v runc):$T/state-runc"; do
    for dir in "${rt#*:}"/*; do
      [[ -d "$dir" ]] || continue
      for id in $(timeout 5 "${rt%%:*}" --root "$dir" list -q 2>/dev/null); do
        timeout 5 "${rt%%:*}" --root "$dir" kill "$id" KILL 2>/dev/null
        timeout 5 "${rt%%:*}" --root "$dir" delete -f "$id" 2>/dev/null
      done
    done
  done
  for p in "${DAEMONS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for ((i = 0; i < 100; i++)); do
    left=$(pids_of_mark)
    [[ -n "$left" ]] || break
    # shellcheck disable=SC2086 # one pid a word
    ((i < 60)) || kill -KILL $left 2>/dev/null
    sleep 0.1
  done
  [[ -z "$(pids_of_mark)" ]] || echo "test_slurm: processes left: $(pids_of_mark)" >&2
  for p in "${DAEMONS[@]}"; do wait "$p" 2>/dev/null; done
}
DAEMONS=()
on_exit stop_all

# A private munged: its own key, socket, pid, log and seed files.
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge/munge.key"
MUNGE_SOCK=$T/munge-sock/munge.socket
env "$MARK" munged --foreground --force --socket="$MUNGE_SOCK" --key-file="$T/munge/munge.key" \
  --pid-file="$T/munge/munged.pid" --log-file="$T/log/munged.log" --seed-file="$T/munge/munged.seed" \
  >"$T/log/munged.out" 2>&1 &
DAEMONS+=($!)

cat >"$CONF" <<EOF
ClusterName=rrun-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCK
StateSaveLocation=$T/ctld-state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/run/slurmctld.pid
SlurmdPidFile=$T/run/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
PlugStackConfig=$T/etc/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SchedulerType=sched/builtin
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
# scancel: SIGTERM, then SIGKILL after KillWait. A container's init that
# does not handle SIGTERM ignores it (pid 1): wait 2 s, not 30.
KillWait=2
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
: >"$T/etc/plugstack.conf"
chmod 644 "$CONF" "$T/etc/plugstack.conf"
export SLURM_CONF=$CONF

# oci_conf FILE RUNTIME STATE: packaging/clients/slurm/FILE as $T/etc/oci.conf.
oci_conf() {
  sed -e "s|@RRUN@|$2|g" -e "s|@STATE@|$3|g" "$SRC_DIR/packaging/clients/slurm/$1" >"$OCI"
  chmod 644 "$OCI"
}
oci_conf oci.conf "$RRUN_BIN" "$T/state"

# slurmstepd runs the oci.conf commands without the job's XDG_RUNTIME_DIR,
# so a rootless run records the keeper of its kept user namespace (README
# Performance 10) in /tmp/rrun-userns-UID: ended, and the record removed, at
# exit when the test made it (users.sh's end_keeper).
if [[ ! -e /tmp/rrun-userns-$TEST_UID ]]; then
  on_exit rm -f -- "/tmp/rrun-userns-$TEST_UID"
  on_exit end_keeper "/tmp/rrun-userns-$TEST_UID"
fi

step "start munged, slurmctld and slurmd ($NODE on 127.0.0.1:$CTLD_PORT/$SLURMD_PORT)"
t0=$(date +%s%N)
for ((i = 0; i < 50; i++)); do
  [[ -S "$MUNGE_SOCK" ]] && break
  sleep 0.05
done
[[ -S "$MUNGE_SOCK" ]] || fail "munged did not start: $(cat "$T/log/munged.out")"
env "$MARK" slurmctld -D -i -f "$CONF" >"$T/log/slurmctld.out" 2>&1 &
DAEMONS+=($!)
env "$MARK" slurmd -D -f "$CONF" >"$T/log/slurmd.out" 2>&1 &
DAEMONS+=($!)
for ((i = 0; i < 200; i++)); do
  [[ "$(sinfo -h -o %T 2>/dev/null)" == idle ]] && break
  sleep 0.1
done
[[ "$(sinfo -h -o %T 2>/dev/null)" == idle ]] ||
  fail "the node is not idle: $(sinfo 2>&1); slurmctld: $(tail -5 "$T/log/slurmctld.log"); slurmd: $(tail -5 "$T/log/slurmd.log")"
echo "cluster up in $((($(date +%s%N) - t0) / 1000000)) ms"

# ---------------------------------------------------------------- bundles

# make_bundle DIR OWNER: busybox rootfs (writable: variant b's jobs leave a
# marker in it) and `rrun spec --rootless` made by OWNER.
make_bundle() {
  local dir=$1 owner=$2 a
  install -d -m 755 "$dir" "$dir/rootfs"
  mkdir -p "$dir/rootfs"/{bin,etc,tmp,proc,sys,dev,root}
  cp /bin/busybox "$dir/rootfs/bin/busybox"
  for a in sh true sleep echo cat id ls; do ln -s busybox "$dir/rootfs/bin/$a"; done
  chown -R "$owner:" "$dir"
  if [[ $owner == root ]]; then
    (cd "$dir" && "$RRUN_BIN" spec --rootless)
  else
    (cd "$dir" && as_user "$RRUN_BIN" spec --rootless)
  fi
  (cd "$dir" && jq '.root.readonly = false' config.json >config.tmp && mv config.tmp config.json)
  chown "$owner:" "$dir/config.json"
  chmod 644 "$dir/config.json"
}
make_bundle "$T/ub" "$TEST_USER"
make_bundle "$T/rb" root
cd "$T"

# as WHO CMD...: CMD as the test user (WHO=user) or root, with SLURM_CONF.
as() {
  local who=$1
  shift
  if [[ $who == user ]]; then
    as_user SLURM_CONF="$CONF" "$@"
  else
    "$@"
  fi
}
bundle_of() { if [[ $1 == user ]]; then echo "$T/ub"; else echo "$T/rb"; fi; }
name_of() { if [[ $1 == user ]]; then echo "$TEST_USER"; else echo root; fi; }

# last_job NAME: the id of the last job named NAME (squeue keeps ended jobs
# for MinJobAge, 300 s).
last_job() {
  local j
  j=$(squeue -h -t all -o %i -n "$1" | sort -n | tail -1)
  [[ -n "$j" ]] || fail "no job named $1: $(squeue -t all)"
  echo "$j"
}

# no_leftovers WHO STATE JOB: no process of the job, no container state in
# STATE/NAME, no cgroup directory named after the container.
no_leftovers() {
  local who=$1 state=$2 job=$3 id i
  id=$NODE.$(name_of "$who").$job.0.0
  for ((i = 0; i < 100; i++)); do
    [[ -z "$(as "$who" squeue -h -j "$job" 2>/dev/null)" ]] && break
    sleep 0.1
  done
  [[ -z "$(as "$who" squeue -h -j "$job" 2>/dev/null)" ]] || fail "job $job still queued: $(squeue)"
  # slurmstepd cleans up (RunTimeQuery, RunTimeDelete) after the job ends.
  for ((i = 0; i < 100; i++)); do
    [[ -z "$(pgrep -f "slurmstepd: \[$job\.")" && -z "$(pgrep -f -- "$id")" ]] && break
    sleep 0.1
  done
  [[ -z "$(pgrep -f -- "$id")" ]] || fail "processes of container $id left: $(pgrep -af -- "$id")"
  [[ -z "$(pgrep -f "slurmstepd: \[$job\.")" ]] || fail "slurmstepd of job $job left"
  expect_ok as "$who" "$RRUN_BIN" --root "$state/$(name_of "$who")" list -q
  expect_eq "$out" "" "containers left in $state/$(name_of "$who") after job $job"
  [[ -z "$(find /sys/fs/cgroup -maxdepth 5 -type d -name "*$id*" 2>/dev/null)" ]] ||
    fail "cgroup of $id left: $(find /sys/fs/cgroup -maxdepth 5 -type d -name "*$id*")"
}

# scancel_running WHO STATE [kill]: a container job running `sleep 1000`
# ends on scancel and leaves nothing behind. With `kill`, the user also kills
# the container: in the create/start variant Slurm 22.05 leaves it running
# on scancel (it polls RunTimeQuery and never calls RunTimeKill; runc: the
# same) and cleans up once it stopped.
scancel_running() {
  local who=$1 state=$2 kill=${3:-} job i
  as "$who" srun -J rr-sleep --container "$(bundle_of "$who")" sleep 1000 >"$T/sleep.out" 2>&1 &
  local srun_pid=$!
  # In the create/start variant the container is listed (created) before
  # slurmstepd's RunTimeStart: wait for "running", not for the listing.
  local st=""
  for ((i = 0; i < 100; i++)); do
    job=$(as "$who" squeue -h -t R -o %i -n rr-sleep)
    if [[ -n "$job" ]]; then
      st=$(as "$who" "$RRUN_BIN" --root "$state/$(name_of "$who")" state "$NODE.$(name_of "$who").$job.0.0" 2>/dev/null || true)
      [[ $st == *'"status": "running"'* ]] && break
    fi
    sleep 0.1
  done
  [[ -n "$job" ]] || fail "the sleep job did not start: $(cat "$T/sleep.out")"
  expect_contains "$st" '"status": "running"' "state of the running container"
  expect_ok as "$who" scancel "$job"
  if [[ -n "$kill" ]]; then
    as "$who" "$RRUN_BIN" --root "$state/$(name_of "$who")" kill "$NODE.$(name_of "$who").$job.0.0" KILL || true
  fi
  set +e
  wait "$srun_pid"
  set -e
  no_leftovers "$who" "$state" "$job"
}

# ---------------------------------------------------------------- variant a

for who in user root; do
  step "RunTimeRun as $who: stdout, exit status"
  b=$(bundle_of "$who")
  # shellcheck disable=SC2016 # expanded in the container
  expect_ok as "$who" srun --container "$b" sh -c 'echo hello from $(id -u)'
  expect_eq "$out" "hello from 0" "srun --container output"
  run as "$who" srun -J rr-exit --container "$b" sh -c 'exit 3'
  expect_eq "$rc" 3 "exit status of srun --container sh -c 'exit 3'"
  no_leftovers "$who" "$T/state" "$(last_job rr-exit)"

  step "RunTimeRun as $who: scancel of a running container"
  scancel_running "$who" "$T/state"
done

# ---------------------------------------------------------------- latency

step "latency: srun --container B true (RunTimeRun), as $TEST_USER"
# oci.conf is rewritten between jobs (slurmstepd reads it for each step).
one_container() {
  if [[ $1 == rrun ]]; then oci_conf oci.conf "$RRUN_BIN" "$T/state"; else oci_conf oci.conf "$(command -v runc)" "$T/state-runc"; fi
  as user srun --container "$T/ub" true
}
pt=()
for ((i = 0; i < 9; i++)); do pt+=("$(time_ms as user srun true)"); done
echo "srun true without a container: $(median "${pt[@]}") ms"
latency_side_by_side "slurm srun --container (RunTimeRun, as $TEST_USER)" one_container

# ---------------------------------------------------------------- variant b

oci_conf oci.conf.create-start "$RRUN_BIN" "$T/state"
for who in user root; do
  step "RunTimeCreate/RunTimeStart as $who: the container runs"
  b=$(bundle_of "$who")
  rm -f "$b/rootfs/ran"
  expect_ok as "$who" srun -J rr-ran --container "$b" sh -c 'echo ran >/ran; exit 3'
  # Slurm 22.05 reports neither the output nor the exit status in this
  # variant (runc: the same); the marker shows the container ran.
  [[ "$(cat "$b/rootfs/ran" 2>/dev/null)" == ran ]] || fail "the container did not run (no /ran in $b/rootfs)"
  no_leftovers "$who" "$T/state" "$(last_job rr-ran)"

  step "RunTimeCreate/RunTimeStart as $who: scancel, then kill, of a running container"
  scancel_running "$who" "$T/state" kill
done

echo "PASS: test_slurm"
