#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs the system programs the tests drive for real
# (tmux for run --tmux, git for run --worktree, strace to stall a writer's fsync in the lock tests,
# chromium for the board's browser tests, and Debian's postgresql for the PostgreSQL store's tests,
# which start their own server as the postgres user: see test/pg-server.ts), then builds and runs
# every test file, one at a time.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in tmux git strace chromium; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
# The server binaries live outside PATH (/usr/lib/postgresql/<version>/bin): look for them there.
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need+=(postgresql)
# ip (iproute2) makes the network namespaces of the multi-host PostgreSQL test.
command -v ip >/dev/null 2>&1 || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ${need[*]} (Debian packages the tests use)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "test.sh: the tests need ${need[*]}; install them (e.g. sudo apt-get install ${need[*]}) and run again" >&2
    exit 1
  fi
fi

[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build
node --test --test-concurrency=1 dist/test/*.test.js
