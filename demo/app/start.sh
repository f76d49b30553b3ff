#!/bin/busybox sh
# The demo app: GET /health answers 200 {"status":"healthy","version":"<VERSION>","checks":{"database":"ok"}}
# on 127.0.0.1:$PORT (8080), like the sandbox's test images (sandbox/docker.ts). The
# database check is a fixed value: busybox has no PostgreSQL client.
# A command given to the container (compose run web CMD ...) runs instead of the app.
set -eu
if [ "$#" -gt 0 ]; then exec "$@"; fi
PORT="${PORT:-8080}"
read -r VERSION < /VERSION
/bin/busybox mkdir -p /tmp/www
printf '{"status":"healthy","version":"%s","checks":{"database":"ok"}}' "$VERSION" > /tmp/www/health
printf '{"status":"healthy","version":"%s"}' "$VERSION" > /tmp/www/status
printf 'app %s\n' "$VERSION" > /tmp/www/index.html
echo "app $VERSION listening on 127.0.0.1:$PORT"
# As PID 1 the server would ignore SIGTERM: stop it on TERM like a well-behaved service.
/bin/busybox httpd -f -v -p "127.0.0.1:$PORT" -h /tmp/www &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid"; exit 0' TERM INT
wait "$pid"
