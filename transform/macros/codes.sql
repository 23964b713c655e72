{#- Country spellings seen in the sources, to ISO 3166-1 alpha-2 (portable SQL). -#}
{% macro country_code(column) -%}
    case
        when upper(trim({{ column }})) in ('US', 'USA', 'UNITED STATES', 'UNITED STATES OF AMERICA', 'U.S.', 'U.S.A.')
            then 'US'
        when {{ column }} is null or trim({{ column }}) = '' then null
        else upper(trim({{ column }}))
    end
{%- endmacro %}

{#-
  State names or codes in any casing, to the two-letter code (unknown values kept,
  upper-cased), looked up in the us_states seed by a correlated scalar subquery. DuckDB
  runs it as written; Spark and Snowflake want a correlated scalar subquery aggregated
  (one name or code matches at most one row of the seed, so max() changes nothing).
-#}
{% macro state_code(column) -%}
    {{ return(adapter.dispatch('state_code')(column)) }}
{%- endmacro %}

{% macro default__state_code(column) -%}
    coalesce(
        (select s.state_code from {{ ref('us_states') }} as s
         where upper(s.state_name) = upper(trim({{ column }})) or s.state_code = upper(trim({{ column }}))),
        nullif(upper(trim({{ column }})), '')
    )
{%- endmacro %}

{% macro spark__state_code(column) -%}
    coalesce(
        (select max(s.state_code) from {{ ref('us_states') }} as s
         where upper(s.state_name) = upper(trim({{ column }})) or s.state_code = upper(trim({{ column }}))),
        nullif(upper(trim({{ column }})), '')
    )
{%- endmacro %}

{% macro snowflake__state_code(column) -%}
    {{ spark__state_code(column) }}
{%- endmacro %}
