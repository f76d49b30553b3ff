/**
 * Every remote command builder's rendered text, pinned: a change to what runs on servers
 * shows up here. (As Kamal's test/commands do.)
 */
import { describe, expect, it } from 'vitest';
import { render, type Command } from '../../src/shell/index.js';
import * as c from '../../src/commands/index.js';

const r = (cmd: Command) => render(cmd);
const call: c.ComposeCall = { flavor: 'v2', dir: '/srv/apps/shop/releases/R1', project: 'shop-production', files: ['docker-compose.yml', 'prod.yml'] };

describe('compose', () => {
  it('v2 and v1 with project, files and env file', () => {
    expect(r(c.composeArgs(call))).toMatchInlineSnapshot(
      `"docker compose --project-name shop-production --project-directory /srv/apps/shop/releases/R1 -f /srv/apps/shop/releases/R1/docker-compose.yml -f /srv/apps/shop/releases/R1/prod.yml --env-file /srv/apps/shop/releases/R1/.env"`,
    );
    expect(r(c.composeArgs({ ...call, flavor: 'v1' }))).toMatchInlineSnapshot(
      `"docker-compose --project-name shop-production --project-directory /srv/apps/shop/releases/R1 -f /srv/apps/shop/releases/R1/docker-compose.yml -f /srv/apps/shop/releases/R1/prod.yml --env-file /srv/apps/shop/releases/R1/.env"`,
    );
  });
  it('pull, up, digests, image removal, containers', () => {
    expect(r(c.pullCommand(call, ['web']))).toMatchInlineSnapshot(
      `"docker compose --project-name shop-production --project-directory /srv/apps/shop/releases/R1 -f /srv/apps/shop/releases/R1/docker-compose.yml -f /srv/apps/shop/releases/R1/prod.yml --env-file /srv/apps/shop/releases/R1/.env pull --quiet web"`,
    );
    expect(r(c.upCommand(call, []))).toMatchInlineSnapshot(
      `"docker compose --project-name shop-production --project-directory /srv/apps/shop/releases/R1 -f /srv/apps/shop/releases/R1/docker-compose.yml -f /srv/apps/shop/releases/R1/prod.yml --env-file /srv/apps/shop/releases/R1/.env up -d --remove-orphans"`,
    );
    expect(r(c.repoDigestsCommand('reg:5000/shop:1'))).toMatchInlineSnapshot(`"docker image inspect --format '{{join .RepoDigests "\\n"}}' reg:5000/shop:1"`);
    expect(r(c.removeImagesCommand(['a:1', 'b:2']))).toMatchInlineSnapshot(`"docker image rm a:1 b:2"`);
    expect(r(c.containersCommand('shop-production'))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      ids=$(docker ps -aq --filter "label=com.docker.compose.project=$1")
      [ -n "$ids" ] || exit 0
      docker inspect --format '\\''{{index .Config.Labels "com.docker.compose.service"}}|{{index .Config.Labels "com.docker.compose.oneoff"}}|{{.Name}}|{{.State.Status}}|{{.RestartCount}}|{{.State.ExitCode}}|{{.HostConfig.RestartPolicy.Name}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}'\\'' $ids' ops shop-production"
    `);
  });
  it("migrations: one-off, the v1 copy, exec; the copy's override file", () => {
    expect(r(c.runOneOffCommand(call, 'app', 'alembic upgrade head', { OPS_RELEASE: 'R1' }))).toMatchInlineSnapshot(
      `"docker compose --project-name shop-production --project-directory /srv/apps/shop/releases/R1 -f /srv/apps/shop/releases/R1/docker-compose.yml -f /srv/apps/shop/releases/R1/prod.yml --env-file /srv/apps/shop/releases/R1/.env run --rm -T -e 'OPS_RELEASE=R1' app sh -c 'if command -v bash >/dev/null 2>&1; then exec bash --noprofile --norc -euo pipefail -c "$1" ops-script; elif (set -o pipefail) 2>/dev/null; then exec sh -eu -o pipefail -c "$1" ops-script; else exec sh -eu -c "$1" ops-script; fi' ops-script 'alembic upgrade head'"`,
    );
    expect(r(c.resolvedConfigCommand({ ...call, flavor: 'v1' }, '/srv/x/.cfg.yml'))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      f=$1; shift; umask 077; "$@" config > "$f"' ops /srv/x/.cfg.yml docker-compose --project-name shop-production --project-directory /srv/apps/shop/releases/R1 -f /srv/apps/shop/releases/R1/docker-compose.yml -f /srv/apps/shop/releases/R1/prod.yml --env-file /srv/apps/shop/releases/R1/.env"
    `);
    expect(r(c.runOneOffCopyCommand({ ...call, flavor: 'v1' }, { config: '/srv/x/.cfg.yml', override: '/srv/x/.ov.yml' }, 'app', 'echo "$X"', {}))).toMatchInlineSnapshot(
      `"docker-compose --project-name shop-production --project-directory /srv/apps/shop/releases/R1 -f /srv/x/.cfg.yml -f /srv/x/.ov.yml run --rm -T app-ops-oneoff sh -c 'if command -v bash >/dev/null 2>&1; then exec bash --noprofile --norc -euo pipefail -c "$1" ops-script; elif (set -o pipefail) 2>/dev/null; then exec sh -eu -o pipefail -c "$1" ops-script; else exec sh -eu -c "$1" ops-script; fi' ops-script 'echo "$X"'"`,
    );
    expect(r(c.execInServiceCommand(call, 'app', 'false | cat', { OPS_APP: 'shop' }))).toMatchInlineSnapshot(
      `"docker compose --project-name shop-production --project-directory /srv/apps/shop/releases/R1 -f /srv/apps/shop/releases/R1/docker-compose.yml -f /srv/apps/shop/releases/R1/prod.yml --env-file /srv/apps/shop/releases/R1/.env exec -T -e 'OPS_APP=shop' app sh -c 'if command -v bash >/dev/null 2>&1; then exec bash --noprofile --norc -euo pipefail -c "$1" ops-script; elif (set -o pipefail) 2>/dev/null; then exec sh -eu -o pipefail -c "$1" ops-script; else exec sh -eu -c "$1" ops-script; fi' ops-script 'false | cat'"`,
    );
    expect(c.oneOffOverride('/srv/x/.cfg.yml', 'app')).toMatchInlineSnapshot(`
      "services:
        app-ops-oneoff:
          extends:
            file: "/srv/x/.cfg.yml"
            service: "app"
      "
    `);
  });
});

describe('files, hooks, history, host', () => {
  it('release directory, extraction, shared paths', () => {
    expect(r(c.mkdirCommand('/srv/r/1'))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      mkdir -p "$1" && chmod 0750 "$1"' ops /srv/r/1"
    `);
    expect(r(c.extractCommand('/srv/r/1', false))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      mkdir -p "$1" && chmod 0750 "$1" && tar -xpf - --no-same-owner -C "$1"' ops /srv/r/1"
    `);
    expect(r(c.extractCommand('/srv/r/1', true))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      mkdir -p "$1" && chmod 0750 "$1" && tar -xzpf - --no-same-owner -C "$1"' ops /srv/r/1"
    `);
    expect(r(c.sharedPathsCommand('/srv/app', '/srv/app/releases/1', ['.env', 'storage/']))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      d=$1; r=$2; shift 2
      for p in "$@"; do
        case "$p" in
          */) p=\${p%/}; mkdir -p "$d/shared/$p" ;;
          *) if [ ! -e "$d/shared/$p" ]; then echo "shared file $d/shared/$p does not exist: create it on the host (it is declared in shared-paths)" >&2; exit 3; fi ;;
        esac
        # Never through a link: every parent of the path must be a real directory inside the release.
        q=$r; rest=$p
        while case "$rest" in */*) true ;; *) false ;; esac; do
          q="$q/\${rest%%/*}"; rest=\${rest#*/}
          if [ -L "$q" ]; then echo "shared path $p: $q is a symlink in the release; refusing to link through it" >&2; exit 3; fi
        done
        rm -rf "$r/$p"
        mkdir -p "$(dirname "$r/$p")"
        ln -s "$d/shared/$p" "$r/$p"
      done' ops /srv/app /srv/app/releases/1 .env storage/"
    `);
  });
  it('hooks get only the variables given, fail-fast', () => {
    expect(r(c.hookCommand('/srv/r/1', 'php bin/console cache:clear', { OPS_RELEASE: 'R1' }))).toMatchInlineSnapshot(`
      "env 'OPS_RELEASE=R1' sh -c 'set -eu
      cd "$1"; shift; exec "$@"' ops /srv/r/1 sh -c 'if command -v bash >/dev/null 2>&1; then exec bash --noprofile --norc -euo pipefail -c "$1" ops-script; elif (set -o pipefail) 2>/dev/null; then exec sh -eu -o pipefail -c "$1" ops-script; else exec sh -eu -c "$1" ops-script; fi' ops-script 'php bin/console cache:clear'"
    `);
  });
  it('history append, boot marker, facts, sudo', () => {
    expect(r(c.appendEvent('/srv/app/history.jsonl', { type: 'staged', release: 'R1' }))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      mkdir -p "$(dirname "$1")"
      umask 077
      if [ -s "$1" ] && [ -n "$(tail -c 1 "$1")" ]; then printf '\\''\\n'\\'' >> "$1"; fi
      printf '\\''%s\\n'\\'' "$2" >> "$1"
      chmod 600 "$1"' ops /srv/app/history.jsonl '{"type":"staged","release":"R1"}'"
    `);
    expect(r(c.bootMarkerCommand())).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      b=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)
      s=$(sed '\\''s/^.*) //'\\'' /proc/1/stat | cut -d'\\'' '\\'' -f20)
      printf '\\''%s:%s
      '\\'' "$b" "$s"' ops"
    `);
    expect(r(c.factsCommand())).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      command -v timeout >/dev/null 2>&1 && echo timeout
      command -v bash >/dev/null 2>&1 && echo bash
      echo "uid=$(id -u)"' ops"
    `);
    expect(r(c.sudo(['apt-get', 'update']))).toMatchInlineSnapshot(`"sudo -n -- apt-get update"`);
    expect(r(c.sudo(c.bootMarkerCommand()))).toMatchInlineSnapshot(`
      "sudo -n -- sh -c 'set -eu
      b=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)
      s=$(sed '\\''s/^.*) //'\\'' /proc/1/stat | cut -d'\\'' '\\'' -f20)
      printf '\\''%s:%s
      '\\'' "$b" "$s"' ops"
    `);
    expect(r(c.privileged(['id'], false))).toMatchInlineSnapshot(`"id"`);
    expect(r(c.identityCommand())).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      id -un; uname -srm' ops"
    `);
    expect(r(c.removeFilesCommand(['/a', '-b']))).toMatchInlineSnapshot(`"rm -f -- /a -b"`);
  });
});

describe('releases and locks', () => {
  it('state, switch, removal', () => {
    expect(r(c.readStateCommand('~/apps/shop-production'))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      d=$1
      case "$d" in "~") d=$HOME ;; "~/"*) d="$HOME/\${d#"~/"}" ;; esac
      printf '\\''%s\\n%s\\n'\\'' "$HOME" "$d"
      readlink "$d/current" 2>/dev/null || echo
      if docker compose version >/dev/null 2>&1; then echo v2; elif command -v docker-compose >/dev/null 2>&1; then echo v1; else echo none; fi
      cat /etc/machine-id 2>/dev/null || hostname 2>/dev/null || echo unknown
      cat "$d/color" 2>/dev/null || echo
      echo '\\''--- releases'\\''
      if [ -d "$d/releases" ]; then
        for r in "$d"/releases/*/; do
          [ -d "$r" ] || continue
          printf '\\''%s\\t'\\'' "$(basename "$r")"
          if [ -f "$r/release.json" ]; then tr -d '\\''\\n'\\'' < "$r/release.json"; fi
          echo
        done
      fi
      echo '\\''--- history'\\''
      h="$d/history.jsonl"
      if [ -f "$h" ]; then
        # Bounded however long the history grows: its end, the events of the releases still on
        # the host, and the newest backups (the reader merges and orders them by time).
        tail -n 5000 "$h"
        for r in "$d"/releases/*/; do
          [ -d "$r" ] || continue
          grep -F "\\"release\\":\\"$(basename "$r")\\"" "$h" | tail -n 200 || true
        done
        grep -F '\\''"type":"backup-completed"'\\'' "$h" | tail -n 50 || true
      fi' ops '~/apps/shop-production'"
    `);
    expect(r(c.switchCommand('/srv/app', 'R2'))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      ln -sfn "releases/$2" "$1/.current.$$" && mv -Tf "$1/.current.$$" "$1/current"' ops /srv/app R2"
    `);
    expect(r(c.removeReleasesCommand('/srv/app', ['R0', 'R1']))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      d=$1; shift
      for id in "$@"; do
        rm -f -- "$d/.tree/$id.json"
        if [ -d "$d/releases/$id" ]; then find "$d/releases/$id" -type d ! -perm -u+w -exec chmod u+w {} + 2>/dev/null || true; fi
        rm -rf -- "$d/releases/$id"
      done' ops /srv/app R0 R1"
    `);
  });
  it('acquire, renew, release, break', () => {
    expect(r(c.acquireCommand('/srv/app', { id: 'run-1' }))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      held() {
        now=$(date +%s)
        m=$(stat -c %Y "$1/.lock/owner.json" 2>/dev/null || stat -c %Y "$1/.lock" 2>/dev/null || echo "$now")
        echo "$2"
        echo "$((now - m))"
        cat "$1/.lock/owner.json" 2>/dev/null || true
      }
      g=
      if [ "$3" = yes ]; then g="\${OPS_ACTIONS_HOST_DIR:-/var/lib/ops-actions}/maintenance"; fi
      if [ -n "$g" ] && [ -d "$g/.lock" ]; then held "$g" held-guard; exit 0; fi
      mkdir -p "$1"
      if mkdir "$1/.lock" 2>/dev/null; then
        printf '\\''%s'\\'' "$2" > "$1/.lock/owner.json.tmp" && mv "$1/.lock/owner.json.tmp" "$1/.lock/owner.json"
        if [ -n "$g" ] && [ -d "$g/.lock" ]; then rm -rf "$1/.lock"; held "$g" held-guard; exit 0; fi
        echo acquired
      else
        held "$1" held
      fi' ops /srv/app '{"id":"run-1"}' no"
    `);
    expect(r(c.renewCommand('/srv/app', 'run-1', { id: 'run-1', expires: 'x' }))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      d=$(cd "$1" 2>/dev/null && pwd) || d=$1
      if cd "$d/.lock" 2>/dev/null && grep -qF -- "$2" owner.json 2>/dev/null; then
        printf '\\''%s'\\'' "$3" > "owner.json.renew.$$" && mv -f "owner.json.renew.$$" owner.json && echo renewed
      else
        echo lost
        cat "$d/.lock/owner.json" 2>/dev/null || true
      fi' ops /srv/app '"id":"run-1"' '{"id":"run-1","expires":"x"}'"
    `);
    expect(r(c.releaseCommand('/srv/app', 'run-1'))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      if grep -qF -- "$2" "$1/.lock/owner.json" 2>/dev/null; then rm -rf "$1/.lock"; echo released; else echo not-ours; fi' ops /srv/app '"id":"run-1"'"
    `);
    expect(r(c.breakCommand('/srv/app', 'run-1', 300))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      now=$(date +%s)
      b="$1/.lock.breaking.$$"
      mv -T "$1/.lock" "$b" 2>/dev/null || { echo changed; exit 0; }
      ok=no
      if [ -n "$2" ]; then
        if grep -qF -- "$2" "$b/owner.json" 2>/dev/null; then f="$b/owner.json"; ok=yes; fi
      elif [ ! -s "$b/owner.json" ]; then f="$b"; ok=yes; fi
      if [ "$ok" = yes ]; then
        m=$(stat -c %Y "$f" 2>/dev/null || echo "$now")
        [ "$((now - m))" -gt "$3" ] || ok=no
      fi
      if [ "$ok" = yes ]; then rm -rf "$b"; echo broken; exit 0; fi
      # Not the stale lock it was: put it back (unless a new one was taken meanwhile).
      mv -T "$b" "$1/.lock" 2>/dev/null || rm -rf "$b"
      echo changed' ops /srv/app '"id":"run-1"' 300"
    `);
  });
});

describe('backup sources and storage', () => {
  const conn: c.Connection = { database: 'shop', user: 'app', host: 'db.internal', port: 5433 };
  it('postgres and mysql tools, where they run; the password from a file', () => {
    expect(r(c.withSecretFromFile('PGPASSWORD', '/tmp/ops-x/pw', c.at({ kind: 'host' }, c.pgDumpArgs(conn, true))))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      v=$1; f=$2; shift 2; export "$v=$(cat "$f")"; exec "$@"' ops PGPASSWORD /tmp/ops-x/pw pg_dump -Fc -Z0 --no-password -U app -h db.internal -p 5433 -d shop"
    `);
    expect(r(c.at({ kind: 'container', container: 'db-1', env: ['PGPASSWORD'] }, c.pgRestoreArgs(conn)))).toMatchInlineSnapshot(
      `"docker exec -i -e PGPASSWORD db-1 pg_restore --no-owner --no-privileges --exit-on-error --no-password -U app -h db.internal -p 5433 -d shop"`,
    );
    expect(r(c.at({ kind: 'compose', composeArgs: ['docker', 'compose', '-p', 'shop'], service: 'db', env: [] }, c.pgValidateArgs()))).toMatchInlineSnapshot(
      `"docker compose -p shop exec -T db pg_restore -f /dev/null"`,
    );
    expect(r(c.mysqlTool('dump', c.mysqlDumpArgs(conn)))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      if command -v mariadb-dump >/dev/null 2>&1; then exec mariadb-dump "$@"; else exec mysqldump "$@"; fi' ops --single-transaction --routines --triggers --events --hex-blob '--default-character-set=utf8mb4' -u app -h db.internal -P 5433 shop"
    `);
  });
  it('sqlite, files and volumes', () => {
    expect(r(c.sqliteDumpCommand('/srv/app/db.sqlite'))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      t=$(mktemp "\${TMPDIR:-/tmp}/ops-sqlite.XXXXXX")
      trap '\\''rm -f "$t"'\\'' EXIT
      # A writer holding its lock makes the copy wait (up to 60 s), not fail with "database is locked".
      sqlite3 -cmd '\\''.timeout 60000'\\'' "$1" ".backup '\\''$t'\\''"
      cat "$t"' ops /srv/app/db.sqlite"
    `);
    expect(r(c.filesTarCommand(['/srv/media', '/etc/app']))).toMatchInlineSnapshot(`"tar -C / -cf - -- srv/media etc/app"`);
    expect(r(c.untarCommand('/restore'))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      mkdir -p "$1" && exec tar -C "$1" -xpf -' ops /restore"
    `);
    expect(r(c.volumeTarCommand('shop_data', 'busybox:1.36'))).toMatchInlineSnapshot(
      `"docker run --rm --network none --log-driver none -v shop_data:/source:ro --entrypoint tar busybox:1.36 -C /source -cf - ."`,
    );
    expect(r(c.volumeUntarCommand('shop_data', 'busybox:1.36'))).toMatchInlineSnapshot(
      `"docker run --rm --network none --log-driver none -i -v shop_data:/target --entrypoint tar busybox:1.36 -C /target -xpf -"`,
    );
  });
  it('storage on a backup host', () => {
    expect(r(c.writeStdinCommand('/vault/shop/production/postgres/20261201T020000Z/data.pgdump.zst.age'))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      umask 077
      mkdir -p "$(dirname "$1")"
      cat > "$1"' ops /vault/shop/production/postgres/20261201T020000Z/data.pgdump.zst.age"
    `);
    expect(r(c.removePathsCommand('/vault', ['shop/production/postgres/20261101T020000Z']))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      r=$1; shift; for p in "$@"; do rm -f -- "$r/$p"; rmdir -- "$(dirname "$r/$p")" 2>/dev/null || true; done' ops /vault shop/production/postgres/20261101T020000Z"
    `);
  });
});

describe('restore commands', () => {
  it('read the rest of stdin after the tool succeeds', () => {
    expect(r(c.drainStdinAfter(c.untarCommand('/restore', true)))).toMatchInlineSnapshot(`"{ tar -tf - ; } && cat > /dev/null"`);
  });
});
