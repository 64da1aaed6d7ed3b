#!/bin/busybox sh
# shellcheck shell=dash
# shellcheck disable=SC2154 # vmc_* come from the kernel command line
# /init of the cluster guests of scripts/vm-cluster.sh. The kernel command
# line names the node (vmc_node=n1) and the NIC model's module is already in
# the image. Sets up the two NICs (found by MAC: "pub" and "hb"), writes
# ha.cf/haresources, starts `heartbeat`, and serves the host's command
# channel on the second serial port (/dev/ttyS1). Markers on the console
# (ttyS0): "VMC: boot NODE", "VMC: heartbeat started".
/bin/busybox --install -s /bin
export PATH=/bin:/usr/sbin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /var/log /run/heartbeat /run/vmc /usr/sbin
node=${vmc_node:-n1}
hostname "$node"
echo "VMC: boot $node at $(cut -d ' ' -f 1 /proc/uptime)"
for m in $(cat /lib/modules/load-order); do insmod "/lib/modules/$m.ko" 2>/dev/null; done
ln -sf /bin/fence_xvm /usr/sbin/fence_xvm

# Addresses: node nK has .1K on both networks (pub 198.18.10.0/24, hb
# 198.18.11.0/24); the host is 198.18.10.1; the service 198.18.10.100.
n=${node#n}
ip link set lo up
for dev in /sys/class/net/*; do
  case $(cat "$dev/address") in
  52:54:00:12:0a:*) ip link set "${dev##*/}" name pub ;;
  52:54:00:12:0b:*) ip link set "${dev##*/}" name hb ;;
  esac
done
ip addr add "198.18.10.1$n/24" dev pub
ip addr add "198.18.11.1$n/24" dev hb
ip link set pub up
ip link set hb up
# fence_xvm's multicast requests leave through the public NIC.
ip route add 224.0.0.0/4 dev pub

# Command channel: one shell reads commands from ttyS1 and answers there.
# Raw and without echo: the host sees only the commands' output; the shell's
# output goes through a pipe, so it is not interactive (no line editing).
(while :; do
  stty raw -echo </dev/ttyS1
  sh </dev/ttyS1 2>&1 | cat >/dev/ttyS1
  sleep 0.1
done) &

mkdir -p /etc/ha.d/resource.d
cat >/etc/ha.d/ha.cf <<CONF
keepalive ${vmc_keepalive:-200ms}
deadtime ${vmc_deadtime:-1}
initdead ${vmc_initdead:-3}
ucast pub 198.18.10.11
ucast pub 198.18.10.12
ucast hb 198.18.11.11
ucast hb 198.18.11.12
ping 198.18.10.1
node n1 n2
auto_failback off
watchdog /dev/watchdog
watchdog_socket /run/no-fence-watchdog.sock
logfile /var/log/ha-log
stonith_host * fence_xvm key_file=/etc/cluster/fence_xvm.key host_map=n1:vmc-n1;n2:vmc-n2
CONF
[ -n "${vmc_stonith_delay:-}" ] && echo "stonith_delay $vmc_stonith_delay" >>/etc/ha.d/ha.cf
[ "${vmc_power_on:-}" = yes ] && echo "stonith_power_on yes" >>/etc/ha.d/ha.cf
echo "n1 vip::198.18.10.100/24::pub httpd-test::/run/vmc::198.18.10.100" >/etc/ha.d/haresources
cp /etc/vmc/authkeys /etc/ha.d/authkeys
chmod 600 /etc/ha.d/authkeys
ln -sf /etc/vmc/vip /etc/ha.d/resource.d/vip
ln -sf /etc/vmc/httpd-test /etc/ha.d/resource.d/httpd-test
cat >/bin/vmc-hb-start <<'SH'
#!/bin/sh
# Starts heartbeat in the background (its own session, log on the console).
setsid heartbeat run --node "$(hostname)" </dev/null >/dev/console 2>&1 &
echo "VMC: heartbeat started at $(cut -d ' ' -f 1 /proc/uptime)" >/dev/console
SH
chmod 755 /bin/vmc-hb-start
[ "${vmc_autostart:-1}" = 1 ] && vmc-hb-start
while :; do sleep 3600; done
