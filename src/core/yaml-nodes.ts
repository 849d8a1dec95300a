/**
 * Where a value of a parsed YAML document is in its text: for problems reported as
 * file:line:column (pipeline definitions, jobs files, model configs all use it).
 */
import { type Document, isMap, isSeq, type Node } from 'yaml';

/**
 * The offset in the text of the value at `path` (keys and list indexes), or of its key
 * with `atKey`; a path that does not exist is reported at its deepest existing node (a
 * missing key at its parent). Undefined when the document has no such node at all.
 */
export function offsetOf(
  doc: Document,
  path: ReadonlyArray<string | number>,
  atKey = false,
): number | undefined {
  let node: unknown = doc.contents;
  let keyNode: Node | undefined;
  for (const step of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => (it.key as { value?: unknown })?.value === step);
      if (!pair) break;
      keyNode = pair.key as Node;
      node = pair.value;
    } else if (isSeq(node) && typeof step === 'number' && step < node.items.length) {
      keyNode = undefined;
      node = node.items[step];
    } else {
      break;
    }
  }
  const target = (atKey ? keyNode : undefined) ?? (node as Node | undefined) ?? keyNode;
  return target?.range ? target.range[0] : undefined;
}
