/** Files on a host over SFTP: created with their mode before any byte is written, replaced by rename. */
import type { SFTPWrapper } from 'ssh2';
import { SshError } from './errors.js';

/** SFTP paths are relative to the login directory; `~/x` is `x` there. */
export function sftpPath(p: string): string {
  if (p === '~') return '.';
  return p.startsWith('~/') ? p.slice(2) : p;
}

/**
 * Write a file, created with `mode` before any byte is written (0600 for secrets). With
 * `exclusive`, the file must not exist yet (O_EXCL: a symlink in its place is never followed).
 */
export function writeFile(sftp: SFTPWrapper, host: string, remote: string, content: string | Buffer, mode = 0o644, o: { exclusive?: boolean } = {}): Promise<void> {
  const p = sftpPath(remote);
  const fail = (e: Error) => new SshError('command', host, `host ${host}: cannot write ${remote}: ${e.message}`);
  return new Promise<void>((resolve, reject) => {
    sftp.open(p, o.exclusive ? 'wx' : 'w', { mode }, (e, handle) => {
      if (e) return reject(fail(e));
      sftp.fchmod(handle, mode, (e2) => {
        if (e2) return sftp.close(handle, () => reject(fail(e2)));
        const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
        const write = (off: number) => {
          if (off >= buf.length) return sftp.close(handle, (e3) => (e3 ? reject(fail(e3)) : resolve()));
          const n = Math.min(32 * 1024, buf.length - off);
          sftp.write(handle, buf, off, n, off, (e4) => (e4 ? sftp.close(handle, () => reject(fail(e4))) : write(off + n)));
        };
        write(0);
      });
    });
  });
}

/**
 * Replace a file atomically: written under a new temporary name (exclusive), then renamed
 * over `remote` (posix-rename). A symlink at `remote` is replaced, never followed.
 */
export async function replaceFile(sftp: SFTPWrapper, host: string, remote: string, content: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = `${remote}.${process.pid}.${Date.now().toString(36)}.tmp`;
  await writeFile(sftp, host, tmp, content, mode, { exclusive: true });
  await new Promise<void>((resolve, reject) =>
    sftp.ext_openssh_rename(sftpPath(tmp), sftpPath(remote), (e) => (e ? reject(new SshError('command', host, `host ${host}: cannot rename ${tmp} to ${remote}: ${e.message}`)) : resolve())),
  );
}
