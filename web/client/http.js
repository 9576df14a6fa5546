// Built from clients/typescript/src/http.ts by `npm run web` in clients/typescript: edit the source, not this file.
/** Files over HTTP (protocol section 9): upload, download, the URL of a file or thumbnail. */
import { PalaverError } from './errors.js';
/** The http(s) base of a server from what the app gave: http(s)://, ws(s)://, with or without /ws. */
export function httpBase(url) {
    let base = url.trim().replace(/\/+$/, '');
    if (base.startsWith('ws://'))
        base = 'http://' + base.slice(5);
    else if (base.startsWith('wss://'))
        base = 'https://' + base.slice(6);
    if (!/^https?:\/\//.test(base))
        throw new TypeError(`the server URL must be http(s):// or ws(s)://, not ${JSON.stringify(url)}`);
    return base.replace(/\/ws$/, '');
}
export function wsUrl(base, token) {
    return `${base.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`;
}
/** An error answer of the HTTP endpoints (`{"error":{"code","message","retry_after_ms"}}`). */
export async function httpError(response) {
    const text = await response.text().catch(() => '');
    let code = `http_${response.status}`;
    let message = text || `HTTP ${response.status}`;
    let retryAfterMs;
    try {
        const parsed = JSON.parse(text);
        if (typeof parsed.error?.code === 'string')
            code = parsed.error.code;
        if (typeof parsed.error?.message === 'string')
            message = parsed.error.message;
        if (typeof parsed.error?.retry_after_ms === 'number')
            retryAfterMs = parsed.error.retry_after_ms;
    }
    catch {
        // Not JSON (a proxy's page): the text itself is the message.
    }
    if (retryAfterMs === undefined) {
        const header = Number(response.headers.get('retry-after'));
        if (Number.isFinite(header) && header > 0)
            retryAfterMs = header * 1000;
    }
    return new PalaverError(code, message, { retryAfterMs, status: response.status });
}
export async function upload(fetchFn, base, token, body, name, options = {}) {
    const retries = Math.min(Math.max(0, options.retries ?? 3), 10);
    for (let attempt = 0;; attempt += 1) {
        const response = await fetchFn(`${base}/files?name=${encodeURIComponent(name)}`, {
            method: 'POST',
            headers: {
                Authorization: `Bearer ${token}`,
                'Content-Type': options.contentType ?? 'application/octet-stream',
            },
            body,
        });
        if (response.status === 201) {
            const parsed = JSON.parse(await response.text());
            if (!parsed.file || typeof parsed.file.id !== 'string') {
                throw new PalaverError('protocol', 'the upload answer holds no file');
            }
            return parsed.file;
        }
        const error = await httpError(response);
        const retryable = error.code === 'rate_limited' || error.code === 'unavailable';
        if (!retryable || attempt >= retries)
            throw error;
        await sleep(Math.min(error.retryAfterMs ?? 1000 * 2 ** attempt, 60_000));
    }
}
export async function download(fetchFn, base, token, path) {
    const response = await fetchFn(`${base}${path}`, { headers: { Authorization: `Bearer ${token}` } });
    if (response.status !== 200)
        throw await httpError(response);
    return response.arrayBuffer();
}
export function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}
