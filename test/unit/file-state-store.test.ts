import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FileStateStore } from '../../engine/adapters/local/file-state-store';

// Shared behaviour is in test/integration/state-store-contract.test.ts; this is what only the file adapter has.
describe('embedded file state store', () => {
  test('names cannot escape the state directory', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-state-'));
    const s = new FileStateStore(root);
    await expect(s.getRun('../../etc/passwd')).rejects.toThrow(/unsafe state name/);
    await expect(s.acquireLease('../x', 'me', 1000)).rejects.toThrow(/unsafe state name/);
    fs.rmSync(root, { recursive: true, force: true });
  });
});
