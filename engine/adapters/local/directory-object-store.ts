import { randomUUID } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import { ObjectStore } from '../../ports';
import { keySegments } from '../../store-layout';

/** Object store in a directory; keys map to paths under `root` and are validated to stay there. */
export class DirectoryObjectStore implements ObjectStore {
  constructor(private readonly root: string) {}

  private pathOf(key: string): string {
    return path.join(this.root, ...keySegments(key));
  }

  async getObject(key: string): Promise<Buffer | undefined> {
    return fs.readFile(this.pathOf(key)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
  }

  async readObject(key: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    const handle = await fs.open(this.pathOf(key), 'r').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    return handle?.createReadStream();
  }

  async hasObject(key: string): Promise<boolean> {
    return fs
      .stat(this.pathOf(key))
      .then((s) => s.isFile())
      .catch(() => false);
  }

  async putObject(key: string, body: Buffer): Promise<void> {
    const target = this.pathOf(key);
    const dir = path.dirname(target);
    await fs.mkdir(dir, { recursive: true });
    const partial = path.join(dir, `.partial-${randomUUID()}`);
    try {
      await fs.writeFile(partial, body, { flag: 'wx' });
      await fs.rename(partial, target);
    } catch (error) {
      await fs.rm(partial, { force: true });
      throw error;
    }
  }
}
