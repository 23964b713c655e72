{#
  Bronze is append-only: every extraction appends the rows it read. Staging keeps the
  latest version of each key, decided the same way every time:
    1. the replication key (when the stream has one besides the key), latest first;
    2. `_sdc_batched_at`, then `_sdc_received_at`: the latest extraction first;
    3. `_sdc_sequence`: within one extraction, the record the tap emitted last;
    4. the bronze file (`_bronze_file`, whose name starts with the run's UTC start time)
       and the row's position in it, last first: a unique final tiebreaker.
  NULLs sort last at every step. The sources add `_bronze_file` and `file_row_number`
  (read_parquet's filename / file_row_number options).
#}
{% macro latest_version(relation, key, replication_key=none) -%}
    select *
    from {{ relation }}
    qualify row_number() over (
        partition by {{ key }}
        order by
            {% if replication_key %}{{ replication_key }} desc nulls last,{% endif %}
            _sdc_batched_at desc nulls last,
            _sdc_received_at desc nulls last,
            _sdc_sequence desc nulls last,
            _bronze_file desc,
            file_row_number desc
    ) = 1
{%- endmacro %}

{#-
  Hashed surrogate key over one or more columns (dbt_utils is not reachable offline).
  A key with a NULL part identifies nothing, so it is NULL (not the hash of a placeholder):
  the `not_null` tests on foreign keys then fail for facts that point at nothing. Keys of
  non-NULL values are md5 of the values joined by '|', as before.
-#}
{% macro surrogate_key(columns) -%}
    case when {% for column in columns -%}
        {{ column }} is null{% if not loop.last %} or {% endif %}
    {%- endfor %} then null else md5(concat_ws('|', {% for column in columns -%}
        cast({{ column }} as varchar){% if not loop.last %}, {% endif %}
    {%- endfor %})) end
{%- endmacro %}

{#-
  The calendar day of a timestamp in UTC, whatever the session time zone: date keys must
  not move with the machine's TZ (the profile pins the session to UTC as well).
-#}
{% macro utc_date(column) -%}
    cast(timezone('UTC', {{ column }}) as date)
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
