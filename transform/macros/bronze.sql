{#
  Bronze is append-only: every extraction appends the rows it read. Staging keeps the
  latest version of each key: highest replication key first, then the latest extraction.
#}
{% macro latest_version(relation, key, order_by) -%}
    select *
    from {{ relation }}
    qualify row_number() over (partition by {{ key }} order by {{ order_by }}) = 1
{%- endmacro %}

{#- Hashed surrogate key over one or more columns (dbt_utils is not reachable offline). -#}
{% macro surrogate_key(columns) -%}
    md5(concat_ws('|', {% for column in columns -%}
        coalesce(cast({{ column }} as varchar), '<null>'){% if not loop.last %}, {% endif %}
    {%- endfor %}))
{%- endmacro %}

{#- Stripe amounts are integer minor units; zero-decimal currencies are not divided. -#}
{% macro minor_units_to_amount(amount_column, currency_column) -%}
    case
        when lower({{ currency_column }}) in ('bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw',
            'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf')
            then cast({{ amount_column }} as decimal(18, 2))
        else cast({{ amount_column }} as decimal(18, 0)) * cast(0.01 as decimal(3, 2))
    end
{%- endmacro %}

{#- Country spellings seen in the sources, to ISO 3166-1 alpha-2. -#}
{% macro country_code(column) -%}
    case
        when upper(trim({{ column }})) in ('US', 'USA', 'UNITED STATES', 'UNITED STATES OF AMERICA', 'U.S.', 'U.S.A.')
            then 'US'
        when {{ column }} is null or trim({{ column }}) = '' then null
        else upper(trim({{ column }}))
    end
{%- endmacro %}

{#- State names or codes in any casing, to the two-letter code (unknown values kept, upper-cased). -#}
{% macro state_code(column) -%}
    coalesce(
        (select s.state_code from {{ ref('us_states') }} as s
         where upper(s.state_name) = upper(trim({{ column }})) or s.state_code = upper(trim({{ column }}))),
        nullif(upper(trim({{ column }})), '')
    )
{%- endmacro %}
