{#-
  Hashed surrogate key over one or more columns (dbt_utils is not reachable offline).
  A key with a NULL part identifies nothing, so it is NULL (not the hash of a placeholder):
  the `not_null` tests on foreign keys then fail for facts that point at nothing. Keys of
  non-NULL values are md5 of the values' text joined by '|'; md5, concat_ws and the text
  of integers, dates and strings are the same on DuckDB, Spark and Snowflake, so the keys
  are too (the cross-engine test compares them).
-#}
{% macro surrogate_key(columns) -%}
    case when {% for column in columns -%}
        {{ column }} is null{% if not loop.last %} or {% endif %}
    {%- endfor %} then null else md5(concat_ws('|', {% for column in columns -%}
        cast({{ column }} as {{ string_type() }}){% if not loop.last %}, {% endif %}
    {%- endfor %})) end
{%- endmacro %}
