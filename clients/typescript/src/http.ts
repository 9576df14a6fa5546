/** Files over HTTP (protocol section 9): upload, download, the URL of a file or thumbnail. */
import { PalaverError } from './errors.js';
import type { FileInfo } from './frames.js';

/** The part of `fetch` this library uses (the platform's, or one passed in). */
export type FetchLike = (
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: unknown; signal?: unknown },
) => Promise<{
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
}>;

/** What an upload may be: bytes, or a Blob / File where the platform has them. */
export type UploadBody = ArrayBuffer | ArrayBufferView | Blob;

export interface UploadOptions {
  /** The type the client believes the file has; the server decides from the bytes anyway. */
  contentType?: string;
  /** `rate_limited` and `unavailable` answers waited out and tried again (default 3). */
  retries?: number;
}

/** The http(s) base of a server from what the app gave: http(s)://, ws(s)://, with or without /ws. */
export function httpBase(url: string): string {
  let base = url.trim().replace(/\/+$/, '');
  if (base.startsWith('ws://')) base = 'http://' + base.slice(5);
  else if (base.startsWith('wss://')) base = 'https://' + base.slice(6);
  if (!/^https?:\/\//.test(base)) throw new TypeError(`the server URL must be http(s):// or ws(s)://, not ${JSON.stringify(url)}`);
  return base.replace(/\/ws$/, '');
}

export function wsUrl(base: string, token: string): string {
  return `${base.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`;
}

/** An error answer of the HTTP endpoints (`{"error":{"code","message","retry_after_ms"}}`). */
export async function httpError(response: Awaited<ReturnType<FetchLike>>): Promise<PalaverError> {
  const text = await response.text().catch(() => '');
  let code = `http_${response.status}`;
  let message = text || `HTTP ${response.status}`;
  let retryAfterMs: number | undefined;
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; retry_after_ms?: unknown } };
    if (typeof parsed.error?.code === 'string') code = parsed.error.code;
    if (typeof parsed.error?.message === 'string') message = parsed.error.message;
    if (typeof parsed.error?.retry_after_ms === 'number') retryAfterMs = parsed.error.retry_after_ms;
  } catch {
    // Not JSON (a proxy's page): the text itself is the message.
  }
  if (retryAfterMs === undefined) {
    const header = Number(response.headers.get('retry-after'));
    if (Number.isFinite(header) && header > 0) retryAfterMs = header * 1000;
  }
  return new PalaverError(code, message, { retryAfterMs, status: response.status });
}

export async function upload(
  fetchFn: FetchLike,
  base: string,
  token: string,
  body: UploadBody,
  name: string,
  options: UploadOptions = {},
): Promise<FileInfo> {
  const retries = Math.min(Math.max(0, options.retries ?? 3), 10);
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetchFn(`${base}/files?name=${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': options.contentType ?? 'application/octet-stream',
      },
      body,
    });
    if (response.status === 201) {
      const parsed = JSON.parse(await response.text()) as { file?: FileInfo };
      if (!parsed.file || typeof parsed.file.id !== 'string') {
        throw new PalaverError('protocol', 'the upload answer holds no file');
      }
      return parsed.file;
    }
    const error = await httpError(response);
    const retryable = error.code === 'rate_limited' || error.code === 'unavailable';
    if (!retryable || attempt >= retries) throw error;
    await sleep(Math.min(error.retryAfterMs ?? 1000 * 2 ** attempt, 60_000));
  }
}

export async function download(fetchFn: FetchLike, base: string, token: string, path: string): Promise<ArrayBuffer> {
  const response = await fetchFn(`${base}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  if (response.status !== 200) throw await httpError(response);
  return response.arrayBuffer();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
