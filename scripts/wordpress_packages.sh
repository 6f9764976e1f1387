#!/usr/bin/env bash
# Debian's WordPress, PHP-FPM and MariaDB for the end-to-end test of the WordPress plugin
# (tests/wordpress, marker `wordpress`). As root, installs whichever are missing, without starting
# their services (the test starts its own on free ports); otherwise names them. Exits 0 either way:
# without them the test says what is missing instead of failing the suite.
set -uo pipefail

NEEDS=(
    "/usr/share/wordpress/wp-login.php|wordpress"
    "/usr/sbin/php-fpm8.2|php-fpm"
    "/usr/sbin/mariadbd|mariadb-server"
    "/usr/lib/php/20220829/mysqli.so|php-mysql"
    "/usr/sbin/nginx|nginx"
)

missing=()
for need in "${NEEDS[@]}"; do
    IFS='|' read -r path package <<<"$need"
    [ -e "$path" ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing ${missing[*]} (for the WordPress end-to-end test)"
    apt-get update -qq
    # policy-rc.d 101: the packages' services are not started; the test runs its own.
    policy_added=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_added=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || \
        echo "Could not install ${missing[*]}: the WordPress end-to-end test will say so." >&2
    [ -n "$policy_added" ] && rm -f /usr/sbin/policy-rc.d
    exit 0
fi

echo "The WordPress end-to-end test needs: ${missing[*]} (Debian packages; as root: apt-get install ${missing[*]})." >&2
exit 0
