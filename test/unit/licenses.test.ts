import { licenseForbidden } from '../../engine/policy/licenses';

// brew's rule (utils/spdx.rb, licenses_forbid_installation?) on the API's license strings.
describe('HOMEBREW_FORBIDDEN_LICENSES', () => {
  test.each([
    ['AGPL-3.0-only', ['AGPL-3.0-only'], true],
    ['MIT', ['AGPL-3.0-only'], false],
    ['Apache-2.0 OR MIT', ['MIT'], false],
    ['Apache-2.0 OR MIT', ['MIT', 'Apache-2.0'], true],
    ['Apache-2.0 AND MIT', ['MIT'], true],
    ['(GPL-2.0-only OR MIT) AND BSD-3-Clause', ['GPL-2.0-only'], false],
    ['(GPL-2.0-only OR MIT) AND BSD-3-Clause', ['BSD-3-Clause'], true],
    ['GPL-2.0-only WITH Classpath-exception-2.0', ['GPL-2.0-only'], true],
    ['GPL-3.0-only', ['GPL-2.0-or-later'], true],
    ['GPL-2.0-only', ['GPL-3.0-or-later'], false],
    ['mit', ['MIT'], true],
    [undefined, ['MIT'], false],
    ['MIT OR', ['MIT'], false],
  ] as const)('%s with %j forbidden: %s', (expression, forbidden, expected) => {
    expect(licenseForbidden(expression, forbidden)).toBe(expected);
  });
});
