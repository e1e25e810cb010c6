import { promises as fs } from 'fs';
import * as path from 'path';
import { randomUUID } from 'crypto';
import { TeamToken } from '../../keys/team-token';
import { TokenStore } from '../../ports';

const ID = /^[0-9a-f]{12}$/;

/**
 * Team tokens in the store directory (`<root>/state/tokens/<id>.json`), one
 * file per token, each written aside and renamed into place, so a reader
 * never sees half a record. Files are created readable by their owner only:
 * they hold no token, but their hashes are nobody else's business.
 */
export class FileTokenStore implements TokenStore {
  private readonly dir: string;

  constructor(root: string) {
    this.dir = path.join(root, 'state', 'tokens');
  }

  async putToken(token: TeamToken): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = this.file(token.id);
    if (await fs.stat(file).then(() => true, () => false)) throw new Error(`token ${token.id} exists`);
    await this.write(token);
  }

  async listTokens(): Promise<TeamToken[]> {
    const names = await fs.readdir(this.dir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error)));
    const tokens: TeamToken[] = [];
    for (const name of names) {
      if (!name.endsWith('.json') || !ID.test(name.slice(0, -5))) continue;
      const body = await fs.readFile(path.join(this.dir, name), 'utf8').catch(() => undefined);
      const used = await fs.readFile(path.join(this.dir, `${name.slice(0, -5)}.used`), 'utf8').catch(() => undefined);
      if (body) tokens.push({ ...(JSON.parse(body) as TeamToken), ...(used ? { lastUsedAt: used } : {}) });
    }
    return tokens.sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1));
  }

  async revokeToken(id: string, at: string): Promise<boolean> {
    const token = await this.read(id);
    if (!token) return false;
    if (!token.revokedAt) await this.write({ ...token, revokedAt: at });
    return true;
  }

  /** Beside the record, never in it: a use recorded while a revoke is written cannot undo the revoke. */
  async recordTokenUse(id: string, at: string): Promise<void> {
    if (!ID.test(id)) return;
    const temp = path.join(this.dir, `.${id}.${randomUUID()}.used.tmp`);
    await fs.writeFile(temp, at, { mode: 0o600 });
    await fs.rename(temp, path.join(this.dir, `${id}.used`));
  }

  private file(id: string): string {
    if (!ID.test(id)) throw new Error(`not a token id: ${JSON.stringify(id)}`);
    return path.join(this.dir, `${id}.json`);
  }

  private async read(id: string): Promise<TeamToken | undefined> {
    if (!ID.test(id)) return undefined;
    const body = await fs.readFile(this.file(id), 'utf8').catch(() => undefined);
    return body ? (JSON.parse(body) as TeamToken) : undefined;
  }

  private async write(token: TeamToken): Promise<void> {
    const temp = path.join(this.dir, `.${token.id}.${randomUUID()}.tmp`);
    await fs.writeFile(temp, JSON.stringify(token), { mode: 0o600 });
    await fs.rename(temp, this.file(token.id));
  }
}
