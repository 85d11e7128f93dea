// From the page's embedded payload to ReportData: base64 → bytes → inflate (the browser's own
// DecompressionStream: no code of ours, no network) → columns → validated ReportData.

import { decodePayload, PAYLOAD_ELEMENT_ID, type ReportData } from '../../src/report/html/payload.js';

export function base64ToBytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export async function inflateRaw(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export async function loadPayload(doc: Document): Promise<ReportData> {
  const holder = doc.getElementById(PAYLOAD_ELEMENT_ID);
  if (holder === null) throw new Error('this page has no memlens payload');
  const b64 = (holder.textContent ?? '').replace(/\s+/g, '');
  return decodePayload(await inflateRaw(base64ToBytes(b64)));
}
