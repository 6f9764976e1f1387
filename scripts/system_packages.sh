#!/usr/bin/env bash
# The programs `make test` drives, from Debian's packages. As root, installs whichever are
# missing; otherwise names them, and how to point the tests at copies installed elsewhere.
set -euo pipefail

# variable name | default path | Debian package | what it is for
NEEDS=(
    "CHROMIUM|/usr/bin/chromium|chromium|the browser tests"
    "PG_BIN|/usr/lib/postgresql/15/bin|postgresql-15|the PostgreSQL run (initdb, pg_ctl; PG_BIN is the folder)"
    "NGINX|/usr/sbin/nginx|nginx|the multi-server topology"
    "REDIS_SERVER|/usr/bin/redis-server|redis-server|the multi-server topology"
    "OPENSSL|/usr/bin/openssl|openssl|the topology's TLS certificate"
    "NODE|/usr/bin/node|nodejs|the independent OpenID relying party (tests/identity, openid-client)"
    "NPM|/usr/bin/npm|npm|installing openid-client from tests/identity/package-lock.json (npm ci)"
    "PHP|/usr/bin/php|php-cli|the WordPress plugin's ID token check (tests/identity)"
    "PDFTOTEXT|/usr/bin/pdftotext|poppler-utils|reading back the giving statement's PDF"
)
# Shared libraries the app itself loads: WeasyPrint prints giving statements to PDF with Pango.
# soname | Debian package
LIBRARIES=(
    "libpango-1.0.so.0|libpango-1.0-0"
    "libpangoft2-1.0.so.0|libpangoft2-1.0-0"
    "libharfbuzz-subset.so.0|libharfbuzz-subset0"
)

missing_packages=()
report=()
for need in "${NEEDS[@]}"; do
    IFS='|' read -r name default package purpose <<<"$need"
    path="${!name:-$default}"
    [ "$name" = PG_BIN ] && probe="$path/initdb" || probe="$path"
    if [ ! -x "$probe" ]; then
        missing_packages+=("$package")
        report+=("  $probe  ($purpose): Debian package '$package', or $name=/path/to/it")
    fi
done

for library in "${LIBRARIES[@]}"; do
    IFS='|' read -r soname package <<<"$library"
    if ! /sbin/ldconfig -p | grep -q "$soname"; then
        missing_packages+=("$package")
        report+=("  $soname  (WeasyPrint, for giving statements as PDF): Debian package '$package'")
    fi
done

[ ${#missing_packages[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing ${missing_packages[*]} (Debian packages the tests need)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_packages[@]}" >/dev/null
    exit 0
fi

echo "make test needs these programs, which are not installed:" >&2
printf '%s\n' "${report[@]}" >&2
echo "Install them (as root: apt-get install ${missing_packages[*]}), or point at your own copies," >&2
echo "e.g. make test NGINX=/opt/nginx/sbin/nginx REDIS_SERVER=/usr/local/bin/redis-server" >&2
exit 1
