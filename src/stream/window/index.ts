/**
 * Event-time windows over micro-batches: tumbling and hopping windows with a watermark,
 * aggregates kept as operator state in DuckDB, emitted on window close ('final') or on
 * every change ('update').
 *
 * Semantics (docs/runtime.md, "Windows"):
 *
 * - **Windows.** Tumbling: [k·size, (k+1)·size) for every integer k, aligned to the Unix
 *   epoch (UTC). Hopping: windows of `size` starting at every multiple of `slide` (epoch
 *   aligned); a row belongs to size/slide windows. Bounds are in microseconds, so a row
 *   at exactly a window's end belongs to the next window.
 * - **Watermark.** Unknown (null) until the first on-time row. After each batch it is
 *   max(previous, newest event time among the batch's on-time rows − delay). It never
 *   moves back.
 * - **Late rows.** A row is late when its event time is before the watermark as it stood
 *   *before* its batch: a batch cannot make its own rows late, so when the input's
 *   disorder stays within the delay (every row's time ≥ the newest earlier time − delay),
 *   no row is late under any batching and the outputs do not depend on how the input is
 *   cut into batches. Late rows are added to no window; they are returned (`late`: `_p`,
 *   `_o`, the time column) for the runtime to route per policy. A row whose event time
 *   is NULL fits no window and is returned in `late` too (its time NULL).
 * - **State.** Per open (window, group): count, sum, min, max partials (avg as sum and
 *   count); per count(DISTINCT x): the distinct non-NULL values per (window, group). A
 *   window whose end ≤ the watermark is closed: no on-time row can reach it any more, so
 *   it leaves the state in the batch that closes it, in both modes. State is therefore
 *   bounded by the windows open between the watermark and the newest event time.
 * - **Emit 'final'.** Each window (per group) once, in the batch whose watermark passes
 *   its end, with its complete value. A window still open when the input ends is not
 *   emitted until later input advances the watermark.
 * - **Emit 'update'.** Each batch emits, for every (window, group) its on-time rows
 *   touched, the full current value (not a delta): an upserting sink keyed by
 *   (window_start, group columns) converges to the final values. A window touched and
 *   closed by the same batch is emitted once, with its final value.
 * - **Output.** `window_start`, `window_end` (TIMESTAMPTZ for a TIMESTAMPTZ time column,
 *   TIMESTAMP otherwise), the group columns with their input types, then the aggregates:
 *   counts BIGINT; sum of integers BIGINT (exact; a sum past ±9.2·10^18 fails loudly
 *   rather than rounding; Delta has no 128-bit integer), of 64-bit unsigned or 128-bit
 *   integers DECIMAL(38,0), of DECIMAL(p,s) DECIMAL(38,s), of floats DOUBLE; min/max the
 *   argument's type; avg DOUBLE. Aggregates ignore NULL arguments as SQL does (sum, min,
 *   max, avg of nothing but NULLs: NULL; count: 0).
 * - **Restart.** `save` after a batch, then `open` with what it returned on a fresh
 *   connection, continues exactly as if uninterrupted: same outputs for the next batches.
 *   Sums of floats depend on the order of addition and may differ in the last bits
 *   between batchings; integer and decimal aggregates are exact.
 *
 * Cost: a few statements per batch, each over the batch or the open state: no
 * per-record JavaScript (bench/window-operator.ts).
 */
export { type OutputColumn, type WindowBatchResult, WindowOperator } from './operator.ts';
export {
  type AggregateFn,
  checkSpec,
  parseAggregate,
  WINDOW_COLUMNS,
  type WindowAggregate,
  type WindowSpec,
} from './spec.ts';
export type { SavedTable, SavedWindowState } from './state-io.ts';
