/**
 * The functions a sandboxed query may call (sandbox-tree.ts checks every call in the
 * parse tree against these lists). An allow-list, not a deny-list: a function DuckDB
 * adds in a later version is refused until someone reads what it does and adds it here.
 *
 * Admitted: functions that compute a value from their arguments and touch nothing
 * outside the query — arithmetic, text, dates and times, lists, structs, maps, JSON
 * values, aggregates and window functions, and the operators the parser turns
 * expressions into (`a LIKE b` is `~~`, `{'a': 1}` is `struct_pack`, EXTRACT is
 * `date_part`).
 *
 * Left out on purpose (DuckDB 1.5):
 * - anything that reads or writes outside the query: the file readers are table
 *   functions (read_csv, read_parquet, read_text, glob, ...) and never admitted;
 *   `write_log` writes to DuckDB's log;
 * - settings, session and catalog state: current_setting, getvariable, current_query,
 *   current_database, current_schema(s), in_search_path, version, stats, nextval and
 *   currval (sequences), txid_current, the pg_* and has_*_privilege compatibility macros;
 * - functions that take SQL or a function name as a string, so what they run is not in
 *   the parse tree: json_serialize_plan (plans a query text), json_serialize_sql,
 *   json_deserialize_sql, list_aggregate and its aliases (an aggregate named by a
 *   string; list_sum, list_avg, ... are admitted);
 * - stalling on purpose: sleep_ms, pg_sleep; raising on purpose: error;
 * - engine internals: __internal_*, finalize, combine, vector_type, the variant_*,
 *   st_* and icu_collate_* families (COLLATE is an expression of its own).
 */

function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== '');
}

/** Operators, as the parser names them (`a + b` calls `+`). */
const OPERATORS = words(`
  !__postfix !~~ !~~* % & && * ** + - ->> / // <-> << <=> <@ >> @ @> ^ ^@ | || ~ ~~ ~~* ~~~
`);

const MATH = words(`
  abs acos acosh add asin asinh atan atan2 atanh bit_count cbrt ceil ceiling cos cosh cot
  degrees divide equi_width_bins even exp factorial fdiv floor fmod gamma gcd greatest
  greatest_common_divisor isfinite isinf isnan lcm least least_common_multiple lgamma ln
  log log10 log2 mod multiply nextafter pi pow power radians random round round_even
  roundbankers sign signbit sin sinh sqrt subtract tan tanh trunc xor
`);

const TEXT = words(`
  ascii bar base64 bin bit_length bit_position bitstring char_length character_length chr
  concat concat_ws contains damerau_levenshtein decode editdist3 encode ends_with format
  format_bytes formatreadabledecimalsize formatreadablesize from_base64 from_binary from_hex
  get_bit hamming hash hex ilike_escape instr jaccard jaro_similarity
  jaro_winkler_similarity lcase left left_grapheme len length length_grapheme levenshtein
  like_escape lower lpad ltrim md5 md5_number md5_number_lower md5_number_upper mismatches
  nfc_normalize not_ilike_escape not_like_escape octet_length ord
  parse_dirname parse_dirpath parse_filename parse_formatted_bytes parse_path
  pg_size_pretty position prefix printf regexp_escape regexp_extract regexp_extract_all
  regexp_full_match regexp_matches regexp_replace regexp_split_to_array
  regexp_split_to_table repeat replace reverse right right_grapheme rpad rtrim set_bit sha1
  sha256 split split_part starts_with str_split str_split_regex string_split
  string_split_regex string_to_array strip_accents strlen strpos substr substring
  substring_grapheme suffix to_base to_base64 to_binary to_hex translate trim ucase unbin
  unhex unicode upper url_decode url_encode
`);

const TIME = words(`
  age ago century current_date current_localtime current_localtimestamp date_add date_diff
  date_part date_sub date_trunc datediff datepart datesub datetrunc day dayname dayofmonth
  dayofweek dayofyear days_in_month decade epoch epoch_ms epoch_ns epoch_us era
  get_current_time get_current_timestamp hour isodow isoyear julian last_day make_date
  make_time make_timestamp make_timestamp_ms make_timestamp_ns make_timestamptz microsecond
  millennium millisecond minute month monthname nanosecond normalized_interval now quarter
  second strftime strptime time_bucket timezone timezone_hour timezone_minute to_centuries
  to_days to_decades to_hours to_microseconds to_millennia to_milliseconds to_minutes
  to_months to_quarters to_seconds to_timestamp to_weeks to_years today
  transaction_timestamp try_strptime week weekday weekofyear year yearweek
`);

const NESTED = words(`
  apply array_append array_apply array_cat array_concat array_contains
  array_cosine_distance array_cosine_similarity array_cross_product array_distance
  array_distinct array_dot_product array_extract array_filter array_grade_up array_has
  array_has_all array_has_any array_indexof array_inner_product array_intersect
  array_length array_negative_dot_product array_negative_inner_product array_pop_back
  array_pop_front array_position array_prepend array_push_back array_push_front
  array_reduce array_resize array_reverse array_reverse_sort array_select array_slice
  array_sort array_to_string array_to_string_comma_default array_transform array_unique
  array_value array_where array_zip cardinality element_at filter flatten
  generate_series generate_subscripts grade_up list_any_value list_append
  list_approx_count_distinct list_avg list_bit_and list_bit_or list_bit_xor list_bool_and
  list_bool_or list_cat list_concat list_contains list_cosine_distance
  list_cosine_similarity list_count list_distance list_distinct list_dot_product
  list_element list_entropy list_extract list_filter list_first list_grade_up list_has
  list_apply list_has_all list_has_any list_histogram list_indexof list_inner_product list_intersect
  list_kurtosis list_kurtosis_pop list_last list_mad list_max list_median list_min
  list_mode list_negative_dot_product list_negative_inner_product list_pack list_position
  list_prepend list_product list_reduce list_resize list_reverse list_reverse_sort
  list_select list_sem list_skewness list_slice list_sort list_stddev_pop list_stddev_samp
  list_string_agg list_sum list_transform list_unique list_value list_var_pop list_var_samp
  list_where list_zip map map_concat map_contains map_contains_entry map_contains_value
  map_entries map_extract map_extract_value map_from_entries map_keys map_values range
  reduce remap_struct row struct_concat struct_contains struct_extract struct_extract_at
  struct_has struct_indexof struct_insert struct_keys struct_pack struct_position
  struct_update struct_values union_extract union_tag union_value unnest unpivot_list
`);

const JSON_VALUES = words(`
  array_to_json from_json from_json_strict json json_array json_array_length json_contains
  json_exists json_extract json_extract_path json_extract_path_text json_extract_string
  json_keys json_merge_patch json_object json_pretty json_quote json_structure
  json_transform json_transform_strict json_type json_valid json_value row_to_json to_json
`);

const OTHER_SCALARS = words(`
  alias can_cast_implicitly constant_or_null create_sort_key enum_code enum_first
  enum_last enum_range enum_range_boundary gen_random_uuid is_histogram_other_bin nullif
  typeof uuid uuid_extract_timestamp uuid_extract_version uuidv4 uuidv7
`);

/** Aggregates, and the functions that exist only over a window (row_number, lag, ...). */
const AGGREGATES = words(`
  any_value approx_count_distinct approx_quantile approx_top_k arbitrary arg_max
  arg_max_null arg_max_nulls_last arg_min arg_min_null arg_min_nulls_last argmax argmin
  array_agg avg bit_and bit_or bit_xor bitstring_agg bool_and bool_or corr count count_if
  count_star countif covar_pop covar_samp cume_dist dense_rank entropy favg fill first
  first_value fsum geomean geometric_mean group_concat histogram histogram_exact
  json_group_array json_group_object json_group_structure kahan_sum kurtosis kurtosis_pop
  lag last last_value lead list listagg mad max max_by mean median min min_by mode
  nth_value ntile percent_rank product quantile quantile_cont quantile_disc rank rank_dense
  regr_avgx regr_avgy regr_count regr_intercept regr_r2 regr_slope regr_sxx regr_sxy
  regr_syy reservoir_quantile row_number sem skewness stddev stddev_pop stddev_samp
  string_agg sum sum_no_overflow sumkahan var_pop var_samp variance wavg weighted_avg
`);

/** Scalar, aggregate and window functions a query may call (lower case). */
export const ALLOWED_FUNCTIONS: ReadonlySet<string> = new Set([
  ...OPERATORS,
  ...MATH,
  ...TEXT,
  ...TIME,
  ...NESTED,
  ...JSON_VALUES,
  ...OTHER_SCALARS,
  ...AGGREGATES,
]);

/**
 * Table functions a query may read from (`FROM range(10)`): each makes rows from its
 * arguments alone. Every other table function is refused — the file readers, `query()`
 * and `query_table()` (SQL in a string), the duckdb_* catalog functions, ...
 */
export const ALLOWED_TABLE_FUNCTIONS: ReadonlySet<string> = new Set(
  words('range generate_series unnest json_each json_tree'),
);

/** DuckDB lower-cases names with ASCII rules only; so does the check, so `ＲＥＡＤ_CSV` stays unknown. */
export function asciiLower(name: string): string {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}
