// The only way the viewer makes elements: text is always a Text node (never parsed as HTML), so names
// that come from the profiled program stay data. The lint forbids innerHTML and friends in viewer/.

type Child = Node | string | null | undefined | false;

export interface Props {
  readonly class?: string;
  readonly id?: string;
  readonly title?: string;
  readonly type?: string;
  readonly role?: string;
  readonly ariaLabel?: string;
  readonly data?: Readonly<Record<string, string>>;
  readonly onclick?: (e: MouseEvent) => void;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (props.class !== undefined) e.className = props.class;
  if (props.id !== undefined) e.id = props.id;
  if (props.title !== undefined) e.title = props.title;
  if (props.type !== undefined) e.setAttribute('type', props.type);
  if (props.role !== undefined) e.setAttribute('role', props.role);
  if (props.ariaLabel !== undefined) e.setAttribute('aria-label', props.ariaLabel);
  if (props.data !== undefined) for (const [k, v] of Object.entries(props.data)) e.dataset[k] = v;
  if (props.onclick !== undefined) e.addEventListener('click', props.onclick as EventListener);
  append(e, ...children);
  return e;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

export function clear(e: Node): void {
  while (e.firstChild !== null) e.removeChild(e.firstChild);
}

export function replaceChildren(e: Node, ...children: Child[]): void {
  clear(e);
  append(e, ...children);
}

export function button(label: string, title: string, onclick: (e: MouseEvent) => void, cls = 'btn'): HTMLButtonElement {
  return el('button', { class: cls, type: 'button', title, onclick }, label);
}

/** A checkbox with its label; `onchange` gets the new state. */
export function checkbox(label: string, title: string, checked: boolean, onchange: (on: boolean) => void, id: string): HTMLLabelElement {
  const input = el('input', { type: 'checkbox', id });
  input.checked = checked;
  input.addEventListener('change', () => onchange(input.checked));
  return el('label', { class: 'check', title }, input, label);
}

/** Canvas sized to its CSS box at the device pixel ratio; returns the 2D context scaled to CSS pixels. */
export function sizeCanvas(canvas: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(width * dpr));
  const h = Math.max(1, Math.round(height * dpr));
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext('2d');
  if (ctx === null) throw new Error('this browser gives no 2D canvas');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}
