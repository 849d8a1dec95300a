/**
 * A dashboard's promise about its SQL: each SQL panel's query (the `sql` it answers, its
 * versions pinned), run by a reader through POST /api/v1/sql (the read-only sandbox),
 * gives the panel's own columns and rows.
 */
import assert from 'node:assert/strict';
import { call } from './helpers.ts';

export async function assertSqlPanelsRerun(url: string, token: string, dashboard: string): Promise<number> {
  const res = await call(url, `/api/v1/dashboards/${dashboard}`, { token });
  assert.equal(res.status, 200, res.text);
  // biome-ignore lint/suspicious/noExplicitAny: panels as the server answers them
  const panels = res.body.panels.filter((p: any) => p.source === 'sql');
  for (const panel of panels) {
    assert.equal(panel.error, undefined, `${panel.id}: ${JSON.stringify(panel.error)}`);
    const again = await call(url, '/api/v1/sql', { token, body: { sql: panel.sql } });
    assert.equal(again.status, 200, `${panel.id}: ${again.text}`);
    assert.deepEqual(again.body.columns, panel.columns, panel.id);
    assert.deepEqual(again.body.rows, panel.rows, panel.id);
  }
  return panels.length;
}
