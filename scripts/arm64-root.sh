#!/usr/bin/env bash
# Build, once, an emulated aarch64 board for the tests: a Debian bookworm arm64 root file
# system (python3 + numpy + ai-edge-litert 1.4.0, and tflite-runtime 2.14 in a venv) that the
# tests reach through the host's sshd with ChrootDirectory; its arm64 programs run under
# qemu-aarch64 via binfmt_misc, so `uname -m` says aarch64 and the python is the arm64 one.
#
#   bash scripts/arm64-root.sh          # builds into $EDGEKIT_ARM64_DIR (default /opt/edgekit-arm64)
#
# Layout: $dir/root (the root file system), $dir/complete (marker: written last, after a check),
# $dir/failed (why the last build failed), $dir/build.log.
# A completed build is kept and later runs only make sure binfmt is on (well under a second).
# Needs root (debootstrap, chroot, binfmt_misc). On any failure it says why and exits 0 with
# nothing marked complete: the arm64 tests then skip and name the reason.
set -uo pipefail

dir="${EDGEKIT_ARM64_DIR:-/opt/edgekit-arm64}"
root="$dir/root"
marker="$dir/complete"
suite=bookworm
mirror="${EDGEKIT_ARM64_MIRROR:-http://deb.debian.org/debian}"
litert="ai-edge-litert==1.4.0"     # ai-edge-litert 2.x publishes no Linux aarch64 wheel
tflite="tflite-runtime==2.14.0"    # the last tflite-runtime wheel
numpy="numpy<2"                    # tflite-runtime 2.14 is built against numpy 1.x
pyver=3.11                         # bookworm's python3
platforms=(--platform manylinux_2_17_aarch64 --platform manylinux2014_aarch64
           --platform manylinux_2_34_aarch64)

fail() {  # say why (and leave the reason in $dir/failed for the tests' skip message), exit 0
  echo "arm64 root not built: $*" >&2
  { mkdir -p "$dir" && echo "$*" >"$dir/failed"; } 2>/dev/null
  exit 0
}

binfmt_on() {  # mount binfmt_misc and enable qemu-aarch64 when needed
  local entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
  if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null \
      || { echo "cannot mount binfmt_misc (needs a privileged machine)"; return 1; }
  fi
  if [ ! -e "$entry" ] || ! grep -q '^enabled' "$entry"; then
    command -v update-binfmts >/dev/null 2>&1 || { echo "update-binfmts missing (binfmt-support)"; return 1; }
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  fi
  [ -e "$entry" ] && grep -q '^enabled' "$entry" || { echo "qemu-aarch64 is not registered with binfmt_misc"; return 1; }
  # F (fix-binary): the kernel keeps qemu open, so arm64 programs run inside a chroot that has no qemu
  grep -q '^flags:.*F' "$entry" || { echo "qemu-aarch64 binfmt entry lacks the F flag"; return 1; }
}

# all of it in one function: bash parses it whole before running, so editing this file during a
# build cannot derail the build
main() {
[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot, binfmt_misc); run as root"

if [ -f "$marker" ] && [ -x "$root/usr/bin/python3" ]; then
  why="$(binfmt_on)" || fail "$why"
  echo "arm64 root ready: $root"
  exit 0
fi

start=$(date +%s)
need=()
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
[ -x /usr/bin/qemu-aarch64-static ] || need+=(qemu-user-static)
command -v update-binfmts >/dev/null 2>&1 || need+=(binfmt-support)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  apt-get update -qq >/dev/null 2>&1 || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || fail "apt-get install ${need[*]} failed"
fi
why="$(binfmt_on)" || fail "$why"

mkdir -p "$dir" || fail "cannot create $dir"
rm -f "$marker"
partial="$dir/root.partial"
rm -rf "$partial" "$root"
log="$dir/build.log"
: >"$log"
echo "building the arm64 root in $root (debootstrap $suite, a few minutes; log: $log)"
debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv "$suite" "$partial" "$mirror" \
  >>"$log" 2>&1 || fail "debootstrap failed (see $log: $(tail -n 3 "$log" | tr '\n' ' '))"

# Python packages: pip inside the root cannot verify this network's TLS, and would run emulated;
# the host's pip installs the aarch64 wheels straight into the root's site directories.
host_pip=(python3 -m pip install -q --disable-pip-version-check --only-binary=:all:
          "${platforms[@]}" --python-version "$pyver" --implementation cp --abi "cp${pyver/./}")
"${host_pip[@]}" --target "$partial/usr/local/lib/python$pyver/dist-packages" "$litert" "$numpy" \
  >>"$log" 2>&1 || fail "pip could not install $litert for aarch64 (see $log)"
# tflite-runtime 2.14 in its own venv (made by the root's arm64 python, without pip)
chroot "$partial" /usr/bin/python3 -m venv --without-pip /opt/tflite-runtime-2.14 >>"$log" 2>&1 \
  || fail "the root's python3 cannot make a venv (is qemu-aarch64 working?)"
if ! "${host_pip[@]}" --target "$partial/opt/tflite-runtime-2.14/lib/python$pyver/site-packages" \
     "$tflite" "$numpy" >>"$log" 2>&1; then
  echo "note: $tflite not installed (see $log); ai-edge-litert alone is enough"
  rm -rf "$partial/opt/tflite-runtime-2.14"
fi

# the board's login: sshd (the host's, chrooted here) runs root's shell with HOME=/root
mkdir -p "$partial/root" && : >"$partial/root/.bashrc"
rm -f "$partial/root/.profile" "$partial/root/.bash_logout"
# device nodes that commands and python need (debootstrap may not have made them in a container)
for node in "null c 1 3" "zero c 1 5" "random c 1 8" "urandom c 1 9" "tty c 5 0"; do
  set -- $node
  [ -c "$partial/dev/$1" ] || { rm -f "$partial/dev/$1"; mknod -m 666 "$partial/dev/$1" "$2" "$3"; } \
    || fail "cannot create /dev/$1 in the root"
done
# ChrootDirectory wants every component root-owned and not writable by others
chown root:root "$dir" "$partial" && chmod 755 "$dir" "$partial"

# check it the way the tests use it: an arm64 python that imports both runtimes
got="$(chroot "$partial" /bin/sh -c 'uname -m; python3 -c "import platform, ai_edge_litert.interpreter as i; print(platform.machine())"' 2>>"$log")" \
  || fail "the root's python3 cannot import ai_edge_litert (see $log)"
[ "$(echo "$got" | tr '\n' ' ')" = "aarch64 aarch64 " ] || fail "the root does not run as aarch64 (got: $got)"
if [ -d "$partial/opt/tflite-runtime-2.14" ]; then
  chroot "$partial" /opt/tflite-runtime-2.14/bin/python -c "import tflite_runtime.interpreter" >>"$log" 2>&1 \
    || { echo "note: tflite-runtime 2.14 does not import in the root; removed"; rm -rf "$partial/opt/tflite-runtime-2.14"; }
fi
mv "$partial" "$root" || fail "cannot move $partial to $root"
rm -f "$dir/failed"
echo "debian $suite arm64, $litert, $numpy$([ -d "$root/opt/tflite-runtime-2.14" ] && echo ", $tflite in /opt/tflite-runtime-2.14")" >"$marker"
echo "arm64 root built in $(( $(date +%s) - start )) s: $root ($(du -sm "$root" | cut -f1) MB)"
}

main "$@"
