# shellcheck shell=bash
# scripts/lib/netns.sh - test hosts made of network namespaces on one LAN,
# shared by bench/compare.sh and bench/heartbeat-failover.sh. Source it;
# bash. Addresses must be in 198.18.0.0/15. The caller removes the
# namespaces it created (`ip netns del NS`).
#
#   netns_hub NS                 namespace NS holding bridge br0 (the LAN's
#                                switch; multicast snooping off, so multicast
#                                reaches every port)
#   netns_host HUB NS PORT ADDR  namespace NS plugged into HUB's br0: veth
#                                PORT in the hub, eth0 in NS with ADDR
#                                (a.b.c.d/prefix), multicast routed out of
#                                eth0, lo up with multicast on
# Both return 1 with a message on stderr when a step fails.

netns_hub() {
    local ns=$1
    ip netns add "$ns" || { echo "ip netns add $ns failed" >&2; return 1; }
    ip -n "$ns" link set lo up
    ip -n "$ns" link add br0 type bridge mcast_snooping 0 || { echo "bridge in $ns failed" >&2; return 1; }
    ip -n "$ns" link set br0 up
}

netns_host() {
    local hub=$1 ns=$2 port=$3 addr=$4
    ip netns add "$ns" || { echo "ip netns add $ns failed" >&2; return 1; }
    ip -n "$ns" link set lo up
    ip -n "$ns" link set lo multicast on
    ip -n "$hub" link add "$port" type veth peer name eth0 netns "$ns" || { echo "veth $hub:$port - $ns failed" >&2; return 1; }
    ip -n "$hub" link set "$port" master br0 up
    ip -n "$ns" addr add "$addr" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add 224.0.0.0/4 dev eth0
}
