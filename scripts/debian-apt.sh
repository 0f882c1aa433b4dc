# shellcheck shell=bash
# A private apt configuration over this machine's Debian mirrors, for fetching packages (kernels,
# source packages, old userspaces' parts) without touching the machine's own apt state: its own
# sources list, lists dir and cache, in a directory of the caller's choosing. Sourced, not run.
#
#   source scripts/debian-apt.sh
#   deb_apt_setup DIR "deb deb-src" "bullseye bookworm sid" [ARCH]   # sets DEB_APT, runs update
#   apt-get "${DEB_APT[@]}" download linux-image-5.10.0-30-amd64
#   apt-cache "${DEB_APT[@]}" showsrc libbpf
#
# The mirror URIs are the ones the machine's apt already uses (one-line and deb822 sources), so
# no registry host is ever written here. Every suite is tried on every mirror: a mirror that does
# not carry a suite (a security mirror and "sid", say) only makes `apt-get update` complain,
# which is ignored; what matters is what apt-cache finds afterwards. ARCH (default: the
# machine's) selects the binary architecture, e.g. arm64 for an arm64 guest's kernel. Release
# files are accepted past their Valid-Until date: a mirror may be a frozen snapshot, whose sid
# and testing Release files expire while their packages (and our pinned versions) stay right.

# Print the URIs of the machine's enabled 'deb' entries, one-line and deb822 formats.
deb_apt_mirror_uris() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        # deb [options] URI suite components...
        sed -n -E 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk '
            function flush() { if (deb && en && uris != "") print uris; deb = 0; en = 1; uris = "" }
            BEGIN { en = 1 }
            /^[[:space:]]*$/ { flush(); next }
            /^#/ { next }
            tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
            tolower($1) == "enabled:" { if (tolower($2) == "no") en = 0 }
            tolower($1) == "uris:" { for (i = 2; i <= NF; i++) uris = uris (uris == "" ? "" : "\n") $i }
            END { flush() }
        ' "$f"
    done
}

# deb_apt_setup DIR TYPES SUITES [ARCH]: write DIR/sources.list (every TYPE x mirror x SUITE,
# component main), set the DEB_APT array of apt options that use it, and read the indexes
# (DIR/update.log keeps apt's output). Returns 1 when no mirror URI is found.
deb_apt_setup() {
    local dir=$1 types=$2 suites=$3 arch=${4:-} uri suite type n=0
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
    : >"$dir/sources.list"
    for uri in $(deb_apt_mirror_uris | awk '!seen[$0]++'); do
        case "$uri" in http://* | https://* | file:/* | mirror+*) ;; *) continue ;; esac
        for suite in $suites; do
            for type in $types; do
                echo "$type $uri $suite main" >>"$dir/sources.list"
                n=$((n + 1))
            done
        done
    done
    [ "$n" -gt 0 ] || return 1
    DEB_APT=(-o "Dir::Etc::SourceList=$dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache"
        -o "Dir::State::status=/dev/null" -o "APT::Sandbox::User=root"
        -o "Acquire::Languages=none" -o "Acquire::Check-Valid-Until=false")
    if [ -n "$arch" ]; then
        DEB_APT+=(-o "APT::Architecture=$arch" -o "APT::Architectures=$arch")
    fi
    apt-get "${DEB_APT[@]}" update >"$dir/update.log" 2>&1 || true
}
