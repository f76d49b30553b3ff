import type { Target } from './target.js';
import { SshSession, type SshOptions } from './session.js';

/**
 * One connection per target, opened on first use and reused for all of that target's
 * commands; a jump host (proxy-jump) is connected once and shared by every target.
 */
export class SshPool {
  private sessions = new Map<string, Promise<SshSession>>();
  private jump?: Promise<SshSession>;

  constructor(readonly options: SshOptions) {}

  private key(t: Target): string {
    return `${t.user}@${t.host}:${t.port}`;
  }

  private bastion(): Promise<SshSession> | undefined {
    const pj = this.options.proxyJump;
    if (!pj) return undefined;
    this.jump ??= SshSession.connect({ ...pj, name: `${pj.name} (jump host)` }, this.options);
    this.jump.catch(() => (this.jump = undefined));
    return this.jump;
  }

  get(t: Target): Promise<SshSession> {
    const k = this.key(t);
    let s = this.sessions.get(k);
    if (!s) {
      const via = this.bastion();
      s = via ? via.then((b) => SshSession.connect(t, this.options, b)) : SshSession.connect(t, this.options);
      this.sessions.set(k, s);
      // A failed connection is not cached: the next use tries again.
      s.catch(() => this.sessions.delete(k));
    }
    return s;
  }

  async closeAll(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((p) => p.then((s) => s.close()).catch(() => {})));
    if (this.jump) {
      const j = this.jump;
      this.jump = undefined;
      await j.then((s) => s.close()).catch(() => {});
    }
  }
}
