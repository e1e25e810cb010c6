/**
 * The request brew makes for a cask's url, from its signed `url_kwargs`
 * (`download_strategy/curl_download_strategy.rb`): the options that change
 * what a vendor answers become headers. What the sync cannot send the way
 * brew would (a POST, another download strategy) is named, and the cask is
 * reported instead of guessed at.
 */

/** brew's `user_agent: :fake`: a Safari on macOS (`utils/curl.rb`). */
export const FAKE_USER_AGENT = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15';

/** brew's own user agent when a cask asks for none (`HOMEBREW_USER_AGENT_CURL`, simplified). */
export const BREW_USER_AGENT = 'Homebrew/6.0.18 (Macintosh; Intel Mac OS X 15.0) curl/8.7.1';

/** Options that do not change the request's bytes. */
const IGNORED = new Set(['verified', 'only_path', 'trust_cert', 'header_redirect']);

export type CaskRequest = { readonly headers: Record<string, string> } | { readonly unsupported: string };

export function caskRequest(urlKwargs: Readonly<Record<string, unknown>>): CaskRequest {
  const headers: Record<string, string> = { 'user-agent': BREW_USER_AGENT };
  for (const [key, value] of Object.entries(urlKwargs)) {
    if (IGNORED.has(key)) continue;
    if (key === 'user_agent') {
      if (value === ':fake') headers['user-agent'] = FAKE_USER_AGENT;
      else if (value === ':default') continue;
      else if (typeof value === 'string' && isHeaderValue(value)) headers['user-agent'] = value;
      else return { unsupported: `user_agent ${JSON.stringify(value)}` };
    } else if (key === 'referer') {
      if (typeof value !== 'string' || !isHeaderValue(value)) return { unsupported: 'a referer that is not a string' };
      headers.referer = value;
    } else if (key === 'header' || key === 'headers') {
      for (const line of Array.isArray(value) ? value : [value]) {
        const match = typeof line === 'string' ? /^([A-Za-z0-9-]{1,64}):\s*(.*)$/.exec(line) : null;
        if (!match || !isHeaderValue(match[2])) return { unsupported: `header ${JSON.stringify(line)}` };
        headers[match[1].toLowerCase()] = match[2];
      }
    } else if (key === 'cookies') {
      if (typeof value !== 'object' || value === null) return { unsupported: 'cookies that are not a hash' };
      const pairs = Object.entries(value as Record<string, unknown>).map(([name, v]) => `${name}=${String(v)}`);
      if (!pairs.every(isHeaderValue)) return { unsupported: 'a cookie with control characters' };
      headers.cookie = pairs.join('; ');
    } else if (key === 'data') {
      return { unsupported: 'a POST download (url data:), which the sync does not send yet' };
    } else if (key === 'using') {
      return { unsupported: `download strategy ${JSON.stringify(value)}` };
    } else {
      return { unsupported: `url option ${JSON.stringify(key)}` };
    }
  }
  return { headers };
}

// eslint-disable-next-line no-control-regex
const isHeaderValue = (value: string): boolean => !/[\u0000-\u001f\u007f]/.test(value) && value.length <= 4096;
