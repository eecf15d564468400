#!/usr/bin/env bash
# Removes what scripts/install.sh installed: stops and disables the services, removes the
# programs, maps and queues lqosd put in the kernel (lqosd teardown), the binaries and the
# units. Your configuration (/etc/lqos.conf, /opt/lqos), state (/var/lib/lqos) and the group
# lqos stay unless --purge is given.
#
#   scripts/uninstall.sh [--destdir DIR] [--purge]
set -euo pipefail
destdir="" purge=no
while (($#)); do
    case "$1" in
        --destdir) destdir="$2"; shift 2 ;;
        --purge) purge=yes; shift ;;
        *) echo "uninstall: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then
    systemctl disable --now lqos_scheduler lqosd 2>/dev/null || true
fi
if [ -z "$destdir" ] && [ -x /usr/local/bin/lqosd ] && [ -e /etc/lqos.conf ]; then
    /usr/local/bin/lqosd --config /etc/lqos.conf teardown || true
fi
rm -f "$destdir/usr/local/bin/lqosd" "$destdir/usr/local/bin/lqos-scheduler" "$destdir/usr/local/bin/lqos" "$destdir/usr/local/bin/lqtop" \
    "$destdir/etc/systemd/system/lqosd.service" "$destdir/etc/systemd/system/lqos_scheduler.service"
rm -rf "$destdir/usr/share/doc/lqos"
for b in lqosd lqos-scheduler lqos lqtop; do
    rm -f "$destdir/usr/local/share/man/man8/$b".8 "$destdir/usr/local/share/man/man8/$b"-*.8 \
        "$destdir/usr/local/share/bash-completion/completions/$b" \
        "$destdir/usr/local/share/zsh/site-functions/_$b" \
        "$destdir/usr/local/share/fish/vendor_completions.d/$b.fish"
done
if [ "$purge" = yes ]; then
    rm -rf "$destdir/etc/lqos.conf" "$destdir/opt/lqos" "$destdir/var/lib/lqos"
    if [ -z "$destdir" ] && getent group lqos >/dev/null; then groupdel lqos || true; fi
fi
if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
fi
echo "uninstall: done$([ "$purge" = yes ] || echo "; kept ${destdir}/etc/lqos.conf, ${destdir}/opt/lqos and ${destdir}/var/lib/lqos (--purge removes them)")"
