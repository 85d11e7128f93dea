// The ids of the model's tables, as branded numbers (util/brand.ts): numbers at run time, kept apart by
// the type checker. Where they start matters (0 is a valid id, or means "none"), so the 1-based ones say
// so in their name.

import type { Brand } from '../util/brand.js';

/** An allocation site: a row of the SiteTable (0, 1, …). */
export type SiteId = Brand<number, 'SiteId'>;

/** A frame (function, file, line): an entry of the FrameTable (0, 1, …), Python and native alike. */
export type FrameId = Brand<number, 'FrameId'>;

/**
 * A Python stack node of the whole capture (a frame and its caller's node), 1-based: 0 is "none", the
 * parent of an outermost frame, or the stack of an allocation made outside Python.
 */
export type PyNodeId1 = Brand<number, 'PyNodeId1'>;

/** A native stack node of the whole capture (an instruction address and its caller's node), 1-based: 0 is "none". */
export type NativeNodeId1 = Brand<number, 'NativeNodeId1'>;

/** A thread's position in CaptureModel.threads (0, 1, …, in order of first appearance). */
export type ThreadIndex = Brand<number, 'ThreadIndex'>;

/** A capture stream's id, as the agent numbered it (one stream per thread); not an index. */
export type StreamId = Brand<number, 'StreamId'>;

/** "No Python stack" / "no native stack" (and the parent of an outermost frame). */
export const NO_PY_NODE = 0 as PyNodeId1;
export const NO_NATIVE_NODE = 0 as NativeNodeId1;
