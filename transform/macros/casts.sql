{#- Type names and casts that differ between engines. -#}

{#- The unbounded text type: `varchar` (DuckDB, Snowflake), `string` (Spark). -#}
{% macro string_type() -%}
    {{ return(adapter.dispatch('string_type')()) }}
{%- endmacro %}

{% macro default__string_type() -%}varchar{%- endmacro %}

{% macro spark__string_type() -%}string{%- endmacro %}

{#-
  A text field of a JSON object column, as text (NULL when absent). Bronze keeps
  free-form objects as JSON text in the lake; target-snowflake loads them as VARIANT.
-#}
{% macro json_text(column, field) -%}
    {{ return(adapter.dispatch('json_text')(column, field)) }}
{%- endmacro %}

{% macro default__json_text(column, field) -%}
    json_extract_string({{ column }}, '$.{{ field }}')
{%- endmacro %}

{% macro spark__json_text(column, field) -%}
    get_json_object({{ column }}, '$.{{ field }}')
{%- endmacro %}

{% macro snowflake__json_text(column, field) -%}
    {{ column }}:{{ field }}::varchar
{%- endmacro %}

{#-
  A column whose name is a reserved word (`date` in the marketing exports): quoted as the
  engine quotes (double quotes; backticks on Spark). target-snowflake creates columns
  upper-cased, so Snowflake's quoted name is upper case.
-#}
{% macro source_column(name) -%}
    {{ return(adapter.dispatch('source_column')(name)) }}
{%- endmacro %}

{% macro default__source_column(name) -%}{{ adapter.quote(name) }}{%- endmacro %}

{% macro snowflake__source_column(name) -%}{{ adapter.quote(name | upper) }}{%- endmacro %}
