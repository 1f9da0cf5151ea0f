#!/usr/bin/env bash
# Installs the Debian packages that the reference tests use (R and every R package a test or
# benchmark loads, Chromium), when they are missing and we may install them (root with apt-get).
# Never fails the build: without them the tests that need them skip with a visible reason (CI
# sets REQUIRE_SYSTEM_DEPS=1 so that they fail instead).
#
# R is installed with --no-install-recommends, so nothing arrives "by recommendation" (r-base-core
# alone has no MASS, survival, ...): every R package used anywhere is listed here explicitly.
# tests/test_environment.py scans the R code of tests/ and benchmarks/ and fails when a package
# is used that R_PACKAGES does not list.
#
#   bash tools/system-deps.sh               install what is missing
#   bash tools/system-deps.sh --r-packages  print the R packages (one a line) and exit
#   bash tools/system-deps.sh --dry-run     print the Debian packages it would install and exit
set -u

# R package name -> Debian package r-cran-<name in lower case> (Debian's naming rule).
R_PACKAGES=(survival cmprsk MASS)

debian_name() { echo "r-cran-$(echo "$1" | tr '[:upper:]' '[:lower:]')"; }

case "${1:-}" in
  --r-packages) printf '%s\n' "${R_PACKAGES[@]}"; exit 0 ;;
  --dry-run|"") ;;
  *) echo "usage: $0 [--r-packages | --dry-run]" >&2; exit 2 ;;
esac

need=()
if command -v Rscript >/dev/null 2>&1; then
  for pkg in "${R_PACKAGES[@]}"; do
    Rscript -e "quit(status = !requireNamespace('$pkg', quietly = TRUE))" >/dev/null 2>&1 \
      || need+=("$(debian_name "$pkg")")
  done
else
  need+=(r-base-core)
  for pkg in "${R_PACKAGES[@]}"; do need+=("$(debian_name "$pkg")"); done
fi
command -v chromium >/dev/null 2>&1 || need+=(chromium)

if [ "${1:-}" = "--dry-run" ]; then
  [ ${#need[@]} -gt 0 ] && printf '%s\n' "${need[@]}"
  exit 0
fi
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
