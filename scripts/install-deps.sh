#!/usr/bin/env bash
# Installs hvsim's build and test dependencies from Debian's packages.
#
# Debian 12 ships Unicorn 2.0.1, which performs the guest page walk but
# discards the translation (see ../shared/DESIGN.md, "Version"). Unicorn 2.1
# is taken from Debian 13 (trixie) through an apt source pinned to priority 1
# for everything except libunicorn2t64 and libunicorn-dev, so no other
# package on the machine moves off Debian 12.
set -euo pipefail

SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi

# shellcheck source=/dev/null
. /etc/os-release
codename=${VERSION_CODENAME:-}

if [ "$codename" = bookworm ] && ! apt-cache policy libunicorn-dev 2>/dev/null | grep -q 'trixie'; then
	uri=$(grep -h -m1 -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -n1 || true)
	if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
		uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) {print $i; exit}}' /etc/apt/sources.list)
	fi
	: "${uri:=http://deb.debian.org/debian}"
	printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" |
		$SUDO tee /etc/apt/sources.list.d/hvsim-trixie.sources >/dev/null
	printf 'Package: *\nPin: release n=trixie\nPin-Priority: 1\n\nPackage: libunicorn2t64 libunicorn-dev\nPin: release n=trixie\nPin-Priority: 500\n' |
		$SUDO tee /etc/apt/preferences.d/hvsim-unicorn-from-trixie >/dev/null
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
	build-essential pkg-config meson ninja-build binutils \
	libunicorn-dev libcapstone-dev libsystemc-dev libcriterion-dev \
	zlib1g-dev libyaml-dev libjansson-dev libedit-dev >/dev/null

ver=$(pkg-config --modversion unicorn)
case "$ver" in
2.0.*|1.*) echo "install-deps: unicorn $ver is too old; hvsim needs 2.1 or newer" >&2; exit 1 ;;
esac
echo "install-deps: unicorn $ver, capstone $(pkg-config --modversion capstone), systemc $(pkg-config --modversion systemc)"
