{#
  Write-audit-publish on Snowflake (transform/scripts/wap, `dbt run-operation`): the
  build goes to the schema `<schema>__WAP`; once every error-severity test passed there,
  `wap_publish_schema` stamps it with `marts_publication` and swaps it with the published
  schema in one statement (`ALTER SCHEMA ... SWAP WITH`, atomic in Snowflake: a query
  sees the old schema's tables or the new one's). The old marts then sit in `<schema>__WAP`
  until the next run's `wap_drop_schema` (swap back to roll back).

  `emulate_swap` is for fakesnow only, which parses neither SWAP WITH nor
  ALTER SCHEMA RENAME: it copies the tables one by one, which is NOT atomic (README).
#}
{% macro wap_drop_schema(schema) %}
    {% set relation = api.Relation.create(database=target.database, schema=schema) %}
    {% do adapter.drop_schema(relation) %}
    {{ log('dropped schema ' ~ relation, info=True) }}
{% endmacro %}

{% macro wap_publish_schema(staging, published, run_id, published_at, emulate_swap=false) %}
    {#- Unquoted, as dbt-snowflake names schemas (case-insensitive). -#}
    {% set new = target.database ~ '.' ~ staging %}
    {% set old = target.database ~ '.' ~ published %}
    {% do run_query(
        'create or replace table ' ~ new ~ '.marts_publication as select '
        ~ "'" ~ run_id ~ "'::varchar as run_id, '" ~ published_at
        ~ "'::timestamp_tz as published_at"
    ) %}
    {% set exists = adapter.check_schema_exists(target.database, published) %}
    {% if emulate_swap %}
        {{ wap_emulated_swap(staging, published) }}
    {% elif exists %}
        {% do run_query('alter schema ' ~ new ~ ' swap with ' ~ old) %}
        {{ log('swapped ' ~ new ~ ' with ' ~ old, info=True) }}
    {% else %}
        {% do run_query('alter schema ' ~ new ~ ' rename to ' ~ old) %}
        {{ log('renamed ' ~ new ~ ' to ' ~ old ~ ' (first publication)', info=True) }}
    {% endif %}
{% endmacro %}

{#- fakesnow only: every table of `published` dropped, every table of `staging` copied
    into it (fakesnow's ALTER TABLE RENAME cannot change schema). Not atomic: a reader
    between two statements sees a mix. -#}
{% macro wap_emulated_swap(staging, published) %}
    {% set old = target.database ~ '.' ~ published %}
    {% do run_query('create schema if not exists ' ~ old) %}
    {% for name, kind in wap_relations(published) %}
        {% do run_query('drop ' ~ ('view' if kind == 'VIEW' else 'table') ~ ' ' ~ old ~ '.' ~ name) %}
    {% endfor %}
    {% for name, kind in wap_relations(staging) %}
        {% do run_query('create table ' ~ old ~ '.' ~ name ~ ' as select * from ' ~ target.database ~ '.' ~ staging ~ '.' ~ name) %}
    {% endfor %}
    {{ log('emulated swap of ' ~ staging ~ ' into ' ~ published ~ ' (fakesnow; not atomic)', info=True) }}
{% endmacro %}

{#- (name, VIEW | BASE TABLE) of every relation in one schema of the target database. -#}
{% macro wap_relations(schema) %}
    {% set rows = run_query(
        'select table_name, table_type from ' ~ target.database ~ '.information_schema.tables'
        ~ " where table_schema = upper('" ~ schema ~ "')"
    ) %}
    {{ return(rows.rows | map('list') | list) }}
{% endmacro %}
