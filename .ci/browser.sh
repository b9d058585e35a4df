# shellcheck shell=bash
# Headless browser for the web console's browser test
# (internal/console/browser_test.go). Source this file, then:
#
#   browser_install   install Debian's chromium when no browser is on PATH, and
#                     check that it starts headless
#
# The test finds `chromium` on PATH (or the binary FOLIO_CHROMIUM names); it
# skips loudly without one, and fails under CI (CI set), which is why .ci/run
# calls browser_install before the tests. Locally:
#
#   source .ci/browser.sh && browser_install && go test ./internal/console -run TestBrowser -v

browser_log() { echo "browser: $*" >&2; }

# browser_bin prints the browser the test will use, if there is one.
browser_bin() {
  if [ -n "${FOLIO_CHROMIUM:-}" ]; then
    echo "$FOLIO_CHROMIUM"
    return 0
  fi
  local name
  for name in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
  return 1
}

browser_install() {
  local bin
  if ! bin="$(browser_bin)"; then
    browser_log "installing Debian's chromium"
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y chromium
    bin="$(browser_bin)" || { browser_log "chromium is still not on PATH"; return 1; }
  fi
  # A quick headless start with the sandbox's flags (no network at all).
  local profile
  profile="$(mktemp -d)"
  if ! timeout 60 "$bin" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --dump-dom 'data:text/html,<p>ok</p>' 2>/dev/null | grep -q '<p>ok</p>'; then
    rm -rf "$profile"
    browser_log "$bin does not start headless"
    return 1
  fi
  rm -rf "$profile"
  browser_log "$("$bin" --version 2>/dev/null || echo "$bin") ready"
}
