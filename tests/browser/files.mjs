// files.mjs: amy (laptop) and bob (phone) exchange files through the web client: amy pastes
// a picture into the composer (upload progress in the tray), bob sees its thumbnail and
// opens it full size; amy attaches a PDF with the attach button and drops a text file on
// the chat, bob sees named download links with sizes and can download them; eve, who is in
// no room with them, gets 404 for the picture's direct URL.
// Env: PALAVER_URL, AMY_TOKEN, BOB_TOKEN, BOB_ID, EVE_TOKEN, SCREENSHOTS.

import {
  BASE, PHONE, check, eventually, newPage, openRoomNamed, requiredEnv, run, screenshot, signIn, startChat,
  waitForBody,
} from './lib.mjs';

const AMY = requiredEnv('AMY_TOKEN');
const BOB = { token: requiredEnv('BOB_TOKEN'), id: requiredEnv('BOB_ID') };
const EVE = requiredEnv('EVE_TOKEN');
const PHOTO = { width: 1200, height: 900 };
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');

await run(async (browser) => {
  const amy = await newPage(browser, 'amy');
  const bob = await newPage(browser, 'bob', PHONE);
  const eve = await newPage(browser, 'eve');
  await signIn(amy, AMY);
  await signIn(bob, BOB.token);
  await signIn(eve, EVE);

  await startChat(amy, 'direct', () => amy.fill('#direct-user', BOB.id));
  const picture = await pastePicture(amy);
  await openRoomNamed(bob, 'amy');
  await seeAndOpenThePicture(bob);
  await screenshot(amy, 'laptop-files');
  await sendPdf(amy);
  await dropTextFile(amy);
  await downloadTheFiles(bob);
  await screenshot(bob, 'phone-files');
  await outsiderGets404(eve, picture);
});

/** A picture drawn on a canvas, pasted into the composer as a clipboard file. */
async function pastePicture(amy) {
  await amy.evaluate(async ({ width, height }) => {
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext('2d');
    const gradient = context.createLinearGradient(0, 0, width, height);
    gradient.addColorStop(0, '#4f46e5');
    gradient.addColorStop(1, '#f59e0b');
    context.fillStyle = gradient;
    context.fillRect(0, 0, width, height);
    context.strokeStyle = '#fff';
    context.lineWidth = 16;
    context.beginPath();
    context.moveTo(200, 750);
    context.lineTo(1000, 750);
    context.lineTo(600, 150);
    context.closePath();
    context.stroke();
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
    const transfer = new DataTransfer();
    transfer.items.add(new File([blob], 'triangle.png', { type: 'image/png' }));
    const paste = new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true });
    document.getElementById('body').dispatchEvent(paste);
  }, PHOTO);
  await amy.waitForSelector('#tray .attachment progress');
  await amy.waitForSelector('#tray .attachment.uploaded');
  check((await amy.$eval('#tray progress', (node) => node.value)) === 1, 'the progress bar reached the end');
  await amy.fill('#body', 'Can you solve this one?');
  await amy.press('#body', 'Enter');
  await amy.waitForSelector('#message-list .msg.mine .file-image img');
  check(await amy.isHidden('#tray'), 'the tray empties once the message is sent');
  const frame = amy.sentFrames.find((sent) => sent.type === 'send' && Array.isArray(sent.files));
  check(frame && frame.files.length === 1 && frame.files[0].startsWith('f_'), `send carried the file id: ${JSON.stringify(frame)}`);
  return frame.files[0];
}

async function seeAndOpenThePicture(bob) {
  await waitForBody(bob, 'Can you solve this one?');
  const thumb = '#message-list .file-image img';
  await bob.waitForFunction((selector) => {
    const image = document.querySelector(selector);
    return image && image.complete && image.naturalWidth > 0;
  }, thumb);
  const size = await bob.$eval(thumb, (image) => [image.naturalWidth, image.naturalHeight]);
  check(size[0] === 320 && size[1] === 240, `the thumbnail is at most 320 px: ${size}`);
  await bob.click(thumb);
  await bob.waitForSelector('#viewer:not([hidden])');
  await bob.waitForFunction(() => document.getElementById('viewer-image').naturalWidth > 0);
  const full = await bob.$eval('#viewer-image', (image) => [image.naturalWidth, image.naturalHeight]);
  check(full[0] === PHOTO.width && full[1] === PHOTO.height, `the picture opens full size: ${full}`);
  check((await bob.textContent('#viewer-name')) === 'triangle.png', 'the viewer names the picture');
  await bob.keyboard.press('Escape');
  await bob.waitForSelector('#viewer', { state: 'hidden' });
}

async function sendPdf(amy) {
  await amy.setInputFiles('#attach', { name: 'worksheet.pdf', mimeType: 'application/pdf', buffer: PDF });
  await amy.waitForSelector('#tray .attachment.uploaded');
  await amy.fill('#body', 'and the worksheet');
  await amy.press('#body', 'Enter');
  await amy.waitForSelector('#message-list .file-link >> text=worksheet.pdf');
}

/** A file dropped on the chat goes into the tray; sent with no text. */
async function dropTextFile(amy) {
  await amy.evaluate(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File(['x = 3, y = 4\n'], 'answer.txt', { type: 'text/plain' }));
    const chat = document.getElementById('chat-view');
    chat.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    chat.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
  });
  await amy.waitForSelector('#tray .attachment.uploaded');
  await amy.click('#composer button[type="submit"]');
  await amy.waitForSelector('#message-list .file-link >> text=answer.txt');
}

/** "183 KB" as the client writes it (files.js). */
function formatted(bytes) {
  return bytes < 1000 ? `${bytes} bytes` : `${(bytes / 1000).toFixed(1)} KB`;
}

async function downloadTheFiles(bob) {
  await bob.waitForSelector('#message-list .file-link >> text=answer.txt');
  const links = await bob.$$eval('#message-list .file-link', (nodes) =>
    nodes.map((node) => ({
      name: node.querySelector('.file-name').textContent,
      size: node.querySelector('.file-size').textContent,
      href: node.getAttribute('href'),
      download: node.getAttribute('download'),
    })),
  );
  check(links.length === 2 && links[0].name === 'worksheet.pdf' && links[1].name === 'answer.txt', JSON.stringify(links));
  check(links[0].size === formatted(PDF.length) && links[0].download === 'worksheet.pdf', JSON.stringify(links[0]));
  const fetched = await bob.evaluate(async (href) => {
    const response = await fetch(href);
    const bytes = new Uint8Array(await response.arrayBuffer());
    return { status: response.status, disposition: response.headers.get('content-disposition'), length: bytes.length, head: String.fromCharCode(...bytes.slice(0, 5)) };
  }, links[0].href);
  check(fetched.status === 200 && fetched.head === '%PDF-' && fetched.length === PDF.length, JSON.stringify(fetched));
  check(fetched.disposition.startsWith('attachment'), `a PDF is a download: ${fetched.disposition}`);
  await eventually('the room list to preview the last message by its file', async () =>
    (await bob.textContent('#room-list .room-preview')) === 'amy: answer.txt',
  );
}

async function outsiderGets404(eve, fileId) {
  for (const path of [`/files/${fileId}`, `/files/${fileId}/thumbnail`]) {
    const response = await eve.goto(`${BASE}${path}?token=${encodeURIComponent(EVE)}`);
    check(response.status() === 404, `eve gets 404 for ${path}, not ${response.status()}`);
    const body = await response.json();
    check(body.error && body.error.code === 'not_found', JSON.stringify(body));
  }
}
