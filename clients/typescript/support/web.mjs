// Copies the built package (dist/*.js) into the web client (web/client/), which the server
// embeds and serves at /client/*.js: `npm run web` after a change to src/. With `--check` it
// only compares, and fails when web/client/ is not what a build of src/ makes (test/web.test.mjs).
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
export const webClient = join(root, '../../web/client');

/** What web/client/ must hold: each built module with a line saying where it comes from. */
export function expected() {
  const files = new Map();
  for (const name of readdirSync(dist).filter((file) => file.endsWith('.js')).sort()) {
    const source = `clients/typescript/src/${name.replace(/\.js$/, '.ts')}`;
    const header = `// Built from ${source} by \`npm run web\` in clients/typescript: edit the source, not this file.\n`;
    files.set(name, header + readFileSync(join(dist, name), 'utf8'));
  }
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = expected();
  for (const name of readdirSync(webClient)) if (!files.has(name)) rmSync(join(webClient, name));
  for (const [name, text] of files) writeFileSync(join(webClient, name), text);
  console.log(`web/client: ${files.size} modules`);
}
