{#
  Where a bronze source is read from. The source's own relation on DuckDB (its
  `external_location` meta reads the Parquet files with `_bronze_file` and
  `file_row_number`) and on Snowflake (the table target-snowflake loaded). Spark reads the
  same Parquet files by path, `<lake_root>/<meta.lake_path with {name}>`, and takes the two
  lineage columns from the file metadata Spark keeps per row.
#}
{% macro bronze_relation(relation) -%}
    {{ return(adapter.dispatch('bronze_relation')(relation)) }}
{%- endmacro %}

{% macro default__bronze_relation(relation) -%}
    {{ relation }}
{%- endmacro %}

{% macro spark__bronze_relation(relation) -%}
    {%- set path = var('lake_root') ~ '/' ~ bronze_lake_path(relation) -%}
    (
        select *, _metadata.file_path as _bronze_file, _metadata.row_index as file_row_number
        from parquet.`{{ path }}`
    )
{%- endmacro %}

{#- `meta.lake_path` of the source table behind `relation` (source name = its schema). -#}
{% macro bronze_lake_path(relation) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- for node in graph.sources.values() -%}
        {%- if node.schema == relation.schema and node.identifier == relation.identifier -%}
            {%- set pattern = node.source_meta.get('lake_path') -%}
            {%- if not pattern -%}
                {{ exceptions.raise_compiler_error('source ' ~ node.source_name ~ ' has no meta.lake_path') }}
            {%- endif -%}
            {{ return(pattern | replace('{name}', node.name)) }}
        {%- endif -%}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error('no bronze source for ' ~ relation) }}
{%- endmacro %}
