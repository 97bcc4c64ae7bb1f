#!/usr/bin/env bash
# Host firewall for a public-bee machine (nftables): only SSH from the operators'
# addresses and HTTP/HTTPS from anyone may come in. PostgreSQL, Redis, the application
# port and the metrics port are never reachable from outside, whatever a container
# publishes by mistake.
#
#   sudo ADMIN_CIDRS="203.0.113.0/24" ./firewall.sh           apply
#   ADMIN_CIDRS="203.0.113.0/24" ./firewall.sh --print        show the rules only
#
# Docker writes its own iptables rules for published ports; with the compose file in this
# folder only nginx publishes ports (80 and 443), which this ruleset allows anyway.
set -euo pipefail

ADMIN_CIDRS="${ADMIN_CIDRS:?set ADMIN_CIDRS to the operator networks, comma-separated}"
SSH_PORT="${SSH_PORT:-22}"

ruleset() {
    cat <<NFT
table inet public_bee
delete table inet public_bee
table inet public_bee {
    set admin_v4 {
        type ipv4_addr
        flags interval
        elements = { ${ADMIN_CIDRS} }
    }

    chain input {
        type filter hook input priority filter; policy drop;

        ct state invalid drop
        ct state { established, related } accept
        iif "lo" accept

        # Path MTU discovery and diagnostics need ICMP; rate-limited against floods.
        ip protocol icmp icmp type { echo-request, destination-unreachable, time-exceeded } limit rate 10/second accept
        ip6 nexthdr icmpv6 icmpv6 type { echo-request, destination-unreachable, packet-too-big, time-exceeded, nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept

        ip saddr @admin_v4 tcp dport ${SSH_PORT} ct state new accept
        tcp dport { 80, 443 } ct state new accept
        udp dport 443 accept

        limit rate 5/minute log prefix "public-bee drop: " level info
    }

    chain forward {
        type filter hook forward priority filter; policy accept;
    }

    chain output {
        type filter hook output priority filter; policy accept;
    }
}
NFT
}

if [[ "${1:-}" == "--print" ]]; then
    ruleset
    exit 0
fi
command -v nft >/dev/null || { echo "firewall.sh: nft is not installed" >&2; exit 1; }
ruleset | nft -c -f -
ruleset | nft -f -
echo "firewall.sh: rules applied (nft list table inet public_bee to see them)"
