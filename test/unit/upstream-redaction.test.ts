import { Upstream, UpstreamError, redactUrl, refuseTarget } from '../../engine/upstream/client';

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

describe('where upstream requests may go', () => {
  const redirectTo = (location: string) =>
    (async (url: string) =>
      url.startsWith('https://ghcr.io/') ? new Response(null, { status: 302, headers: { location } }) : new Response('ok', { status: 200 })) as unknown as typeof fetch;

  test.each([
    ['data:text/plain,hello', /refusing data: URLs \(http and https only\)/],
    ['file:///etc/passwd', /refusing file: URLs/],
    ['http://169.254.169.254/latest/meta-data/', /refusing link-local or metadata address 169\.254\.169\.254/],
    ['https://169.254.170.2/v2/credentials', /refusing link-local or metadata address/],
    ['https://[fd00:ec2::254]/latest/api/token', /refusing link-local or metadata address/],
    ['http://cdn.example/blob', /refusing plain http outside loopback \(https required\)/],
  ])('a redirect to %s is refused, permanently, before any request', async (location, message) => {
    const requested: string[] = [];
    const fetchStub = (async (url: string, init: RequestInit) => (requested.push(url), redirectTo(location)(url, init))) as unknown as typeof fetch;
    const failure = await new Upstream({ fetch: fetchStub }).get('https://ghcr.io/v2/homebrew/core/wget/blobs/sha256:ab').catch((e) => e);
    expect(failure).toBeInstanceOf(UpstreamError);
    expect(failure.permanent).toBe(true);
    expect(failure.message).toMatch(message);
    expect(requested).toEqual(['https://ghcr.io/v2/homebrew/core/wget/blobs/sha256:ab']);
  });

  test('plain http is allowed to loopback (a local fixture) and anywhere when explicitly allowed', async () => {
    expect(refuseTarget('http://127.0.0.1:8080/api/formula.jws.json')).toBeUndefined();
    expect(refuseTarget('http://localhost/x')).toBeUndefined();
    expect(refuseTarget('http://mirror.internal/x')).toMatch(/https required/);
    expect(refuseTarget('http://mirror.internal/x', 'any')).toBeUndefined();
    expect(refuseTarget('http://169.254.169.254/', 'any')).toMatch(/link-local/); // never, whatever is allowed
  });
});
