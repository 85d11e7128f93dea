// How the page names a frame: its function, and where it is (file:line, or the file alone when the line
// is unknown). Shared by the breadcrumb, the tooltip and the view description.

import type { ReportData } from '../../src/report/html/payload.js';

export function frameName(data: ReportData, f: number): string {
  return data.strings[data.frames.name[f]!] ?? '';
}

export function frameWhere(data: ReportData, f: number): string {
  const file = data.strings[data.frames.file[f]!] ?? '';
  const line = data.frames.line[f]!;
  return line > 0 ? `${file}:${line}` : file;
}
