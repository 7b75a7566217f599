/**
 * Root hooks: the real servers and the app are started lazily by the first test that needs them
 * (test/support/stack.ts, test/support/app.ts) and stopped here once every test has run.
 */
import { stopTestApp } from './support/app';
import { stopTestStack } from './support/stack';

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopTestApp();
    await stopTestStack({ force: true });
  },
};
