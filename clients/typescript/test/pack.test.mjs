// `npm pack` makes a package whose entry points exist: ES modules and type declarations.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import * as client from '../dist/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

test('npm pack holds the built modules, their declarations and the README, nothing else', () => {
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }));
  const files = packed.files.map((file) => file.path).sort();
  for (const wanted of ['README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/client.d.ts', 'package.json']) {
    assert.ok(files.includes(wanted), `${wanted} is packed`);
  }
  assert.deepEqual(files.filter((path) => !/^(dist\/[a-z]+\.(js|d\.ts)|README\.md|package\.json)$/.test(path)), []);
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  assert.deepEqual(manifest.dependencies ?? {}, {}, 'no runtime dependencies');
  assert.equal(Number(manifest.version.split('.')[0]), client.PROTOCOL_VERSION, 'the major version is the protocol version');
  assert.equal(typeof client.PalaverClient, 'function');
});

test('the declarations type-check an app, and refuse a wrong command or field', () => {
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules/typescript/bin/tsc'),
      '--noEmit',
      '--strict',
      '--target',
      'ES2022',
      '--module',
      'ES2022',
      '--moduleResolution',
      'bundler',
      '--lib',
      'ES2022,DOM',
      join(root, 'support/consumer.ts'),
    ],
    { cwd: root, encoding: 'utf8' },
  );
});
