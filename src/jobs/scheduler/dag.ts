/**
 * A job's tasks as a graph: each task runs after the tasks it `depends_on`. Checked when
 * the job is loaded: unique names, known dependencies, no cycle.
 */
import type { Problem } from '../../pipeline/shape.ts';

interface Node {
  name: string;
  dependsOn: string[];
}

/** Problems of the graph, with paths relative to the job (`tasks[2].depends_on[0]`). */
export function dagProblems(tasks: readonly Node[]): Problem[] {
  const out: Problem[] = [];
  const index = new Map<string, number>();
  tasks.forEach((t, i) => {
    if (index.has(t.name)) {
      out.push({
        path: ['tasks', i, 'name'],
        message: `a second task named '${t.name}' (the first is tasks[${index.get(t.name)}]); task names must be unique in a job`,
      });
    } else {
      index.set(t.name, i);
    }
  });
  tasks.forEach((t, i) => {
    t.dependsOn.forEach((d, j) => {
      const path = ['tasks', i, 'depends_on', j];
      if (d === t.name) out.push({ path, message: `task '${t.name}' depends on itself` });
      else if (!index.has(d)) {
        out.push({
          path,
          message: `no task named '${d}' in this job; its tasks are ${[...index.keys()].join(', ')}`,
        });
      }
    });
  });
  if (out.length > 0) return out;
  const cycle = findCycle(tasks);
  if (cycle !== undefined) {
    const at = index.get(cycle[0])!;
    out.push({
      path: ['tasks', at, 'depends_on'],
      message: `the tasks ${cycle.join(' → ')} depend on each other in a cycle; a job's tasks must form a DAG`,
    });
  }
  return out;
}

/** A cycle as names (first name repeated at the end), or undefined. */
function findCycle(tasks: readonly Node[]): string[] | undefined {
  const deps = new Map(tasks.map((t) => [t.name, t.dependsOn]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, 'visiting');
    stack.push(name);
    for (const d of deps.get(name) ?? []) {
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const t of tasks) {
    const c = visit(t.name);
    if (c) return c;
  }
  return undefined;
}

/** The tasks in an order where each comes after its dependencies (stable: file order otherwise). */
export function topoOrder<T extends Node>(tasks: readonly T[]): T[] {
  const done = new Set<string>();
  const out: T[] = [];
  while (out.length < tasks.length) {
    const before = out.length;
    for (const t of tasks) {
      if (!done.has(t.name) && t.dependsOn.every((d) => done.has(d))) {
        out.push(t);
        done.add(t.name);
      }
    }
    if (out.length === before) throw new Error('topoOrder: the tasks form a cycle (checked at load)');
  }
  return out;
}

/** Every task that depends on `name`, directly or through others. */
export function dependantsOf(tasks: readonly Node[], name: string): Set<string> {
  const out = new Set<string>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const t of tasks) {
      if (!out.has(t.name) && t.dependsOn.some((d) => d === name || out.has(d))) {
        out.add(t.name);
        grew = true;
      }
    }
  }
  return out;
}
