{#
  Bronze is append-only: every extraction appends the rows it read. Staging keeps the
  latest version of each key, decided the same way every time and on every engine:
    1. the replication key (when the stream has one besides the key), latest first;
    2. `_sdc_batched_at`, then `_sdc_received_at`: the latest extraction first;
    3. `_sdc_sequence`: within one extraction, the record the tap emitted last;
    4. the bronze file (`_bronze_file`, whose name starts with the run's UTC start time)
       and the row's position in it, last first: a unique final tiebreaker.
  NULLs sort last at every step. `bronze_relation` adds `_bronze_file` and
  `file_row_number` on the lake engines (DuckDB, Spark). On Snowflake bronze is a table
  loaded by target-snowflake, which keeps no file: steps 1-3 decide there.
#}
{% macro latest_version(relation, key, replication_key=none) -%}
    {{ return(adapter.dispatch('latest_version')(relation, key, replication_key)) }}
{%- endmacro %}

{% macro latest_version_order(replication_key, file_tiebreak=true) -%}
            {% if replication_key %}{{ replication_key }} desc nulls last,{% endif %}
            _sdc_batched_at desc nulls last,
            _sdc_received_at desc nulls last,
            _sdc_sequence desc nulls last{% if file_tiebreak %},
            _bronze_file desc,
            file_row_number desc{% endif %}
{%- endmacro %}

{% macro default__latest_version(relation, key, replication_key) -%}
    select *
    from {{ bronze_relation(relation) }}
    qualify row_number() over (
        partition by {{ key }}
        order by
            {{ latest_version_order(replication_key) }}
    ) = 1
{%- endmacro %}

{% macro snowflake__latest_version(relation, key, replication_key) -%}
    select *
    from {{ bronze_relation(relation) }}
    qualify row_number() over (
        partition by {{ key }}
        order by
            {{ latest_version_order(replication_key, file_tiebreak=false) }}
    ) = 1
{%- endmacro %}

{#
  The current state of a table: one row per key that exists now.

  A stream read by replication key or in full has no deletes: `latest_version`.
  A LOG_BASED stream (tap-ecommerce-postgres' change capture, recognised by its
  `_sdc_lsn` column in bronze) holds a snapshot (rows without `_sdc_lsn`) and then the
  changes of later runs: full rows for inserts and updates, the key alone with
  `_sdc_deleted_at` for deletes, each with its WAL position `_sdc_lsn`. The latest
  version of a key is its latest change by change order:
    0. snapshot generations (`_sdc_snapshot_lsn`, where bronze has it): every snapshot
       row carries its snapshot's generation, and a complete snapshot ends with one
       record whose key is null. Only the rows of the latest complete snapshot (the
       generation of the latest end record) and the rows loaded after that end record
       count: a key the new snapshot does not hold is gone (deleted while no slot
       watched: a TRUNCATE, a lost slot, a state reset), even though no delete says so;
    1. the key's most recent snapshot row by load order (`latest_version_order`: a later
       run first) ends everything loaded before it (a new snapshot after a state reset
       replaces the old history; rows of a stream's INCREMENTAL past count as snapshots);
    2. after it, any change beats the snapshot row, and changes are ordered by
       `_sdc_lsn`: a change re-delivered by a later run (at-least-once: a killed run's
       changes come again from its last persisted bookmark) never undoes a newer change
       loaded earlier;
    3. equal `_sdc_lsn` (the same change loaded twice): the later load.
  A key whose latest change is a delete has no row. The history stays in bronze.
#}
{% macro current_state(relation, key, replication_key=none) -%}
    {%- set columns = bronze_columns(relation) -%}
    {%- if '_sdc_lsn' in columns -%}
        select * from ({{ latest_change(relation, key, '_sdc_snapshot_lsn' in columns) }}) as latest
        where _sdc_deleted_at is null
    {%- else -%}
        {{ latest_version(relation, key, replication_key) }}
    {%- endif -%}
{%- endmacro %}

{#
  Keys whose latest change is a delete, with the time of the delete (the commit time);
  no rows for a stream without change capture. Over the whole history: a delete
  recorded before a new snapshot stays a delete (a key the new snapshot retired without
  a recorded delete is in neither the current state nor here).
#}
{% macro deleted_keys(relation, key) -%}
    {%- if '_sdc_lsn' in bronze_columns(relation) -%}
        select {{ key }}, _sdc_deleted_at
        from ({{ latest_change(relation, key, false) }}) as latest
        where _sdc_deleted_at is not null
    {%- else -%}
        select {{ key }}, _sdc_deleted_at from {{ bronze_relation(relation) }} where 1 = 0
    {%- endif -%}
{%- endmacro %}

{% macro latest_change(relation, key, generations) -%}
    {{ return(adapter.dispatch('latest_change')(relation, key, generations)) }}
{%- endmacro %}

{% macro default__latest_change(relation, key, generations) -%}
    {{ latest_change_sql(relation, key, true, generations) }}
{%- endmacro %}

{% macro snowflake__latest_change(relation, key, generations) -%}
    {{ latest_change_sql(relation, key, false, generations) }}
{%- endmacro %}

{#-
  The rows of a LOG_BASED stream that count (rule 0 above), snapshot end records left
  out. An end record's `_sdc_batched_at` is its load time; the latest one is the latest
  complete snapshot's.
-#}
{% macro live_generation_rows(relation, key, generations) -%}
    {%- if generations %}
    select bronze.*
    from {{ bronze_relation(relation) }} as bronze
    cross join (
        select max(_sdc_batched_at) as completed_at
        from {{ bronze_relation(relation) }}
        where {{ key }} is null and _sdc_snapshot_lsn is not null
    ) as completion
    left join (
        select _sdc_snapshot_lsn as generation, max(_sdc_batched_at) as completed_at
        from {{ bronze_relation(relation) }}
        where {{ key }} is null and _sdc_snapshot_lsn is not null
        group by _sdc_snapshot_lsn
    ) as ends on bronze._sdc_snapshot_lsn = ends.generation
    where bronze.{{ key }} is not null
        and (
            completion.completed_at is null
            or bronze._sdc_batched_at > completion.completed_at
            or ends.completed_at = completion.completed_at
        )
    {%- else %}
    select * from {{ bronze_relation(relation) }} as bronze where {{ key }} is not null
    {%- endif %}
{%- endmacro %}

{#- Plain subqueries, no QUALIFY: the same SQL on every engine. -#}
{% macro latest_change_sql(relation, key, file_tiebreak, generations) -%}
    select *
    from (
        select
            live.*,
            row_number() over (
                partition by {{ key }}
                order by _sdc_lsn desc nulls last, _load_recency
            ) as _change_rank
        from (
            select
                loads.*,
                min(case when _sdc_lsn is null then _load_recency end)
                    over (partition by {{ key }}) as _snapshot_recency
            from (
                select
                    generation_rows.*,
                    row_number() over (
                        partition by {{ key }}
                        order by
                            {{ latest_version_order(none, file_tiebreak) }}
                    ) as _load_recency
                from ({{ live_generation_rows(relation, key, generations) }}) as generation_rows
            ) as loads
        ) as live
        where _snapshot_recency is null or _load_recency <= _snapshot_recency
    ) as changes
    where _change_rank = 1
{%- endmacro %}

{#
  The bronze columns of a source (lower case), read from the engine at run time; empty
  while dbt only parses.
#}
{% macro bronze_columns(relation) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set probe = run_query('select * from ' ~ bronze_relation(relation) ~ ' where 1 = 0') -%}
    {{ return(probe.column_names | map('lower') | list) }}
{%- endmacro %}
