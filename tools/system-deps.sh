#!/usr/bin/env bash
# Installs the Debian packages that the reference tests use (R survival/cmprsk, Chromium),
# when they are missing and we may install them (root with apt-get). Never fails the build:
# without them the tests that need them skip with a visible reason (CI sets REQUIRE_SYSTEM_DEPS=1
# so that they fail instead).
set -u
need=()
command -v Rscript >/dev/null 2>&1 || need+=(r-base-core)
if command -v Rscript >/dev/null 2>&1; then
  Rscript -e 'quit(status = !requireNamespace("survival", quietly = TRUE))' >/dev/null 2>&1 || need+=(r-cran-survival)
  Rscript -e 'quit(status = !requireNamespace("cmprsk", quietly = TRUE))' >/dev/null 2>&1 || need+=(r-cran-cmprsk)
else
  need+=(r-cran-survival r-cran-cmprsk)
fi
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing system packages for reference tests: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
    || echo "warning: could not install ${need[*]}; tests that need them will skip" >&2
else
  echo "note: missing ${need[*]} (not root or no apt-get); tests that need them will skip" >&2
fi
exit 0
