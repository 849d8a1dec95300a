/**
 * The dashboards the server offers: one page per scenario. A later scenario adds its
 * page by adding its definition here.
 */
import { CDC_DASHBOARD } from './cdc.ts';
import { CLICKSTREAM_DASHBOARD } from './clickstream.ts';
import type { DashboardDef } from './definition.ts';
import { ORDERS_DASHBOARD } from './orders.ts';
import { SAAS_DASHBOARD } from './saas.ts';

export type { DashboardDef, PanelDef } from './definition.ts';
export type { LivePipeline, LivePipelines } from './live.ts';

export const DASHBOARDS: readonly DashboardDef[] = [
  ORDERS_DASHBOARD,
  SAAS_DASHBOARD,
  CLICKSTREAM_DASHBOARD,
  CDC_DASHBOARD,
];
