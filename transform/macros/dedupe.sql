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
