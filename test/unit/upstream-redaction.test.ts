import { Upstream, UpstreamError, redactUrl } from '../../engine/sync/upstream';

// CDN redirects carry signed, short-lived tokens in the query string: no message or log may repeat them.
describe('upstream URLs in messages', () => {
  test('query strings, fragments and credentials are dropped', () => {
    expect(redactUrl('https://pkg-containers.githubusercontent.com/ghcr1/blobs/sha256:ab?se=2026&sig=SECRET')).toBe(
      'https://pkg-containers.githubusercontent.com/ghcr1/blobs/sha256:ab?…',
    );
    expect(redactUrl('https://user:pass@formulae.brew.sh/api/formula.jws.json')).toBe('https://formulae.brew.sh/api/formula.jws.json');
    expect(redactUrl('not a url')).toBe('(invalid URL)');
  });

  test('a failure after a redirect to a tokenized CDN URL reports it without the token', async () => {
    const fetchStub = (async (url: string) =>
      url.startsWith('https://ghcr.io/')
        ? new Response(null, { status: 307, headers: { location: 'https://cdn.example/blob?sig=SECRET-TOKEN' } })
        : new Response('denied', { status: 403 })) as unknown as typeof fetch;
    const failure = await new Upstream({ fetch: fetchStub }).get('https://ghcr.io/v2/homebrew/core/wget/blobs/sha256:ab').catch((e) => e);
    expect(failure).toBeInstanceOf(UpstreamError);
    expect(failure.message).toBe('GET https://cdn.example/blob?…: HTTP 403');
    expect(failure.message).not.toContain('SECRET');
  });
});
