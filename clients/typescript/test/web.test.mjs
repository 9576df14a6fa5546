// The web client (web/client/, embedded in the server) runs this package as built from src/:
// the copy is checked against a build, so that it can never drift from the library.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { expected, webClient } from '../support/web.mjs';

test('web/client holds exactly the built package (npm run web makes it)', () => {
  const wanted = expected();
  assert.deepEqual(readdirSync(webClient).sort(), [...wanted.keys()].sort(), 'the same modules');
  for (const [name, text] of wanted) {
    assert.equal(readFileSync(join(webClient, name), 'utf8'), text, `web/client/${name} is the build of its source: run npm run web`);
  }
});
