#!/usr/bin/env bash
# `make run`: serves ./ftp-root on 127.0.0.1:2121 with mtftpd, in the
# foreground (Ctrl-C stops it cleanly). Anonymous users may read; the user
# `demo` may also write, with a fresh random password printed below.
set -euo pipefail
build=${1:-build}
bin=$build/src/ftpd/mtftpd
root=ftp-root
state=$build/run
mkdir -p "$root" "$state"
if [ ! -e "$root/README" ]; then
  cat > "$root/README" <<'TXT'
Welcome to mtftpd, the FTP server of the multitask project.

Anonymous users can list and download. Log in as `demo` (password printed
by `make run`) to upload, rename, delete and make directories as well.
Try:
  curl ftp://127.0.0.1:2121/README
  curl -u demo:PASSWORD -T somefile ftp://127.0.0.1:2121/
  lftp -u demo -p 2121 127.0.0.1
TXT
fi
pass=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | head -c 16)
rm -f "$state/users"
printf '%s\n' "$pass" | "$bin" passwd --users "$state/users" add demo --perms elradfmwMT >/dev/null 2>&1
runas=()
if [ "$(id -u)" -eq 0 ]; then
  # Root binds, then serves as nobody: give nobody the tree it serves.
  chown -R nobody "$root" "$state/users"
  runas=(--run-as nobody)
fi
cat <<MSG
mtftpd: serving $(pwd)/$root on ftp://127.0.0.1:2121/
        anonymous: read-only
        user demo, password: $pass
        (config: $state/users; stop with Ctrl-C)
MSG
exec "$bin" --listen 127.0.0.1:2121 --root "$root" --users "$state/users" --anonymous=ro \
     --xferlog "$state/xferlog" "${runas[@]}"
