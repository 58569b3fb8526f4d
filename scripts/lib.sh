# shellcheck shell=bash
# Helpers shared by the scripts: installing Debian packages when missing, and
# a private ZooKeeper server that lives as long as the calling script.

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=
# apt_install PACKAGE...: installs the packages that are not installed yet.
apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "== installing ${missing[*]} (Debian packages)" >&2
    if [ -z "$apt_updated" ]; then
        as_root apt-get update -qq
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# free_port: prints a loopback port nobody listens on.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# four_letter PORT WORD: prints the server's answer to a four-letter word.
four_letter() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf '%s' "$2" >&3
        timeout 5 cat <&3
    ) 2>/dev/null
}

# zk_start DIR: starts a private standalone server with its data in DIR,
# waits until it serves, and sets ZK_HOSTS, ZK_PORT and ZK_PID. The server
# stops at zk_stop, or when this script exits (scripts/zk-server watches
# its stdin, which is this script's coprocess pipe).
zk_start() {
    local dir=$1 i
    ZK_PORT=$(free_port)
    coproc ZK_SERVER { exec "$ZKLOCK_ROOT/scripts/zk-server" "$dir" "$ZK_PORT"; }
    read -r ZK_PID <&"${ZK_SERVER[0]}"
    ZK_HOSTS=127.0.0.1:$ZK_PORT
    for i in $(seq 1 600); do
        if four_letter "$ZK_PORT" srvr | grep -q "^Mode:"; then
            return 0
        fi
        sleep 0.1
    done
    echo "ZooKeeper did not start; see $dir/server.log" >&2
    return 1
}

# zk_stop: stops the server zk_start started.
zk_stop() {
    if [ -n "${ZK_SERVER_PID:-}" ]; then
        local fd=${ZK_SERVER[1]}
        eval "exec $fd>&-"
        wait "$ZK_SERVER_PID" 2>/dev/null || true
    fi
}

ZKLOCK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ZKLOCK_ROOT
