#!/bin/busybox sh
# shellcheck shell=dash
# shellcheck disable=SC2154 # fwt and friends come from the kernel command line
# /init of the watchdog test guest. Runs the scenario named by `fwt=` on
# the kernel command line (the kernel hands it to us as $fwt) and prints
# "FWT: ..." markers on the serial console, with the uptime where the
# test measures time. A scenario ends with a power-off (QEMU exits) or
# with a reset by the watchdog (QEMU exits too: -no-reboot).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
ip link set lo up

say() { echo "FWT: $*"; }
uptime_s() { cut -d ' ' -f 1 /proc/uptime; }
finish() { say "DONE"; sync; poweroff -f; sleep 60; }

softdog_params="soft_margin=5"
[ "$fwt" = nowayout ] && softdog_params="$softdog_params nowayout=1"
if ! insmod /lib/modules/watchdog.ko || ! insmod /lib/modules/softdog.ko $softdog_params; then
  say "insmod failed"
  finish
fi
say "booted at $(uptime_s), scenario $fwt"

# The service's configuration for most scenarios: 5 s timeout, pet every second.
cat >/etc/fw.toml <<'CONF'
[watchdog]
timeout = 5
interval = 1
CONF

start_service() {
  fence-watchdog -F -v -c "$1" &
  svc=$!
  sleep 2
  say "service started with pid $svc"
}

case "$fwt" in
pet)
  # 20 s of petting, 18 of them under a CPU hog and memory pressure.
  echo 1 >/run/init.pid
  cat >>/etc/fw.toml <<'CONF'
[[ping]]
target = "127.0.0.1"
grace = 3
[[pidfile]]
path = "/run/init.pid"
process = "init"
CONF
  start_service /etc/fw.toml
  avail=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
  # Leave about 56 MiB: the 40 MiB buffers churning below then push the
  # kernel into reclaim.
  fill=$((avail - 56))
  [ "$fill" -gt 0 ] && dd if=/dev/zero of=/tmp/fill bs=1M count="$fill" 2>/dev/null
  (while :; do :; done) &
  hog1=$!
  (while :; do :; done) &
  hog2=$!
  (while :; do dd if=/dev/zero of=/dev/null bs=40M count=4 2>/dev/null; done) &
  churn=$!
  say "load on: 2 CPU hogs, ${fill} MiB pinned, 40 MiB buffers churning, $(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo) MiB available"
  sleep 9
  say "$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo) MiB available half-way"
  sleep 9
  if kill -0 "$svc"; then say "service alive after 20 s"; fi
  kill "$hog1" "$hog2" "$churn"
  rm -f /tmp/fill
  kill -TERM "$svc"
  wait "$svc"
  say "service exited with status $?"
  sleep 6
  finish
  ;;
sigterm)
  start_service /etc/fw.toml
  sleep 2
  kill -TERM "$svc"
  wait "$svc"
  say "service exited with status $? at $(uptime_s)"
  sleep 10
  say "no reset 10 s after the magic close"
  finish
  ;;
kill9)
  start_service /etc/fw.toml
  sleep 1
  say "kill -9 at $(uptime_s)"
  kill -9 "$svc"
  sleep 15
  say "no reset after kill -9"
  finish
  ;;
feeder)
  cat >>/etc/fw.toml <<'CONF'
[[feeder]]
name = "client"
grace = 3
interval = 0.5
CONF
  start_service /etc/fw.toml
  (while :; do fence-watchdog feed client || say "feed failed"; sleep 1; done) &
  feeder=$!
  # Longer than grace + timeout: only the feeding keeps the node up.
  sleep 10
  say "feeding stops at $(uptime_s)"
  kill "$feeder"
  sleep 15
  say "no reset after feeding stopped"
  finish
  ;;
test-command)
  # Debian's watchdog.conf format, as a user switching over would have it.
  cat >/etc/watchdog.conf <<'CONF'
# /etc/watchdog.conf
watchdog-device = /dev/watchdog
watchdog-timeout = 5
interval = 1
test-binary = /bin/wd-test
test-timeout = 2
repair-binary = /bin/wd-repair
repair-timeout = 2
retry-timeout = 0
CONF
  printf '#!/bin/sh\n[ ! -e /tmp/fail ]\n' >/bin/wd-test
  printf '#!/bin/sh\necho "FWT: repair ran with code $1: $FENCE_WATCHDOG_REASON"\n' >/bin/wd-repair
  chmod 755 /bin/wd-test /bin/wd-repair
  start_service /etc/watchdog.conf
  # Longer than the timeout: only passing tests keep the node up.
  sleep 6
  say "test command fails at $(uptime_s)"
  touch /tmp/fail
  sleep 15
  say "no reset after the test command failed"
  finish
  ;;
selftest)
  fence-watchdog --test
  say "--test exited with status $? at $(uptime_s)"
  # Longer than the 10 s the test armed the device with.
  sleep 12
  say "no reset after --test"
  finish
  ;;
nowayout)
  fence-watchdog --test
  say "--test exited with status $?"
  start_service /etc/fw.toml
  kill -TERM "$svc"
  sleep 8
  if kill -0 "$svc"; then say "service still petting 8 s after SIGTERM"; fi
  finish
  ;;
hb-kill9 | hb-stop)
  # The heartbeat core pets the device itself (no fence-watchdog service):
  # deadtime 2 s gives a watchdog timeout of 3 s.
  mkdir -p /etc/ha.d
  printf 'keepalive 500ms\ndeadtime 2\ninitdead 2\nucast lo 127.0.0.2\nnode alpha bravo\nauto_failback on\nwatchdog /dev/watchdog\nwatchdog_socket /run/no-service.sock\n' >/etc/ha.d/ha.cf
  printf 'auth 1\n1 sha1 guest\n' >/etc/ha.d/authkeys
  chmod 600 /etc/ha.d/authkeys
  : >/etc/ha.d/haresources
  heartbeat run --node alpha &
  hb=$!
  sleep 3
  if [ "$fwt" = hb-kill9 ]; then
    say "kill -9 of heartbeat at $(uptime_s)"
    kill -9 "$hb"
    sleep 15
    say "no reset after kill -9 of heartbeat"
  else
    kill -TERM "$hb"
    wait "$hb"
    say "heartbeat exited with status $? at $(uptime_s)"
    sleep 8
    say "no reset 8 s after heartbeat stopped"
  fi
  finish
  ;;
hb-split | hb-split-release)
  # Node bravo of a two-node cluster without STONITH; alpha runs on the
  # host, behind the tap device at the other end of eth0. The test cuts
  # that link once both nodes run their home group. bravo has the weaker
  # claim (one group each; alpha comes first in `node`), so it must give
  # up db before alpha's wait for its watchdog ends. In hb-split db's stop
  # hangs: only the watchdog reset can get it off this node; in
  # hb-split-release it stops at once and the node stays up.
  if ! insmod /lib/modules/e1000.ko; then
    say "insmod e1000 failed"
    finish
  fi
  ip addr add 198.18.5.2/24 dev eth0
  ip link set eth0 up
  mkdir -p /etc/ha.d/resource.d /run/hb
  printf 'keepalive 500ms\nwarntime 1\ndeadtime 2\ninitdead 30\nucast eth0 198.18.5.1\nnode alpha bravo\nauto_failback on\nwatchdog /dev/watchdog\nwatchdog_socket /run/no-service.sock\n' >/etc/ha.d/ha.cf
  printf 'auth 1\n1 sha1 split-test\n' >/etc/ha.d/authkeys
  chmod 600 /etc/ha.d/authkeys
  printf 'alpha marker::web\nbravo marker::db\n' >/etc/ha.d/haresources
  cat >/etc/ha.d/resource.d/marker <<'SCRIPT'
#!/bin/sh
# marker NAME start|stop|status: a resource that is a file; db's stop hangs.
case "$2" in
start) touch "/run/hb/$1"; echo "FWT: $1 started at $(cut -d ' ' -f 1 /proc/uptime)" >/dev/console ;;
stop)
  if [ "$1" = db ] && [ -e /run/hb/stop-hangs ]; then
    echo "FWT: stop of db hangs at $(cut -d ' ' -f 1 /proc/uptime)" >/dev/console
    sleep 120
  fi
  rm -f "/run/hb/$1"
  echo "FWT: $1 stopped at $(cut -d ' ' -f 1 /proc/uptime)" >/dev/console ;;
status) if [ -e "/run/hb/$1" ]; then echo running; else echo stopped; fi ;;
esac
SCRIPT
  chmod 755 /etc/ha.d/resource.d/marker
  [ "$fwt" = hb-split ] && touch /run/hb/stop-hangs
  heartbeat run --node bravo --run-dir /run/heartbeat &
  say "heartbeat bravo started at $(uptime_s)"
  # Once db has started and stopped again: longer than the watchdog timeout.
  until [ -e /run/hb/db ]; do sleep 1; done
  while [ -e /run/hb/db ]; do sleep 1; done
  sleep 6
  say "bravo up 6 s after releasing db"
  sleep 60
  finish
  ;;
*)
  say "unknown scenario '$fwt'"
  finish
  ;;
esac
