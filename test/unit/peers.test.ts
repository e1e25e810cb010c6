import { startPeers } from '../fixtures/peers';
import { startLocalRedis } from '../fixtures/redis';
import { startFixtureUpstream } from '../fixtures/upstream-server';

// A test run on a machine without a peer fails with its failures and exits (#36 item 7):
// before, a suite whose redis-server was missing left its other peers listening and jest sat for 40 minutes.
const listeningServers = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;

describe('starting local peers', () => {
  test('when one peer cannot start, the ones that did are closed and the error is the failed one', async () => {
    const before = listeningServers();
    let stopped = 0;
    const fake = { stop: async () => void stopped++ };
    await expect(startPeers([startFixtureUpstream(), Promise.resolve(fake), Promise.reject(new Error('redis-server is required'))])).rejects.toThrow('redis-server is required');
    expect(stopped).toBe(1);
    // A closed server leaves the list in a later turn of the event loop (its close callbacks phase).
    for (let turn = 0; turn < 500 && listeningServers() !== before; turn++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(listeningServers()).toBe(before);
  });

  test('all started: each is handed back in order', async () => {
    const a = { close: async () => undefined };
    const b = { stop: async () => undefined };
    expect(await startPeers([Promise.resolve(a), Promise.resolve(b)])).toEqual([a, b]);
  });

  test('redis-server not installed: one line, at once, and nothing left open', async () => {
    const before = process.getActiveResourcesInfo().length;
    await expect(startLocalRedis('redis-server-not-installed')).rejects.toThrow(
      /^redis-server is required for these tests \(scripts\/system-packages\.sh installs it\): spawnSync redis-server-not-installed ENOENT$/,
    );
    expect(process.getActiveResourcesInfo().length).toBeLessThanOrEqual(before);
  });
});
