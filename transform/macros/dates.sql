{#-
  Calendar functions that differ between engines. The default is DuckDB's. Every engine's
  session runs in UTC (profiles.yml); `utc_date` does not depend on it anyway.
-#}

{#- The calendar day of a timestamp in UTC, whatever the session time zone. -#}
{% macro utc_date(column) -%}
    {{ return(adapter.dispatch('utc_date')(column)) }}
{%- endmacro %}

{% macro default__utc_date(column) -%}
    cast(timezone('UTC', {{ column }}) as date)
{%- endmacro %}

{% macro spark__utc_date(column) -%}
    cast(convert_timezone('UTC', {{ column }}) as date)
{%- endmacro %}

{#-
  target-snowflake loads `date-time` as TIMESTAMP_NTZ holding the UTC wall clock, so its
  date is the UTC day as is. convert_timezone('UTC', x) would read an NTZ value in the
  session's time zone (America/Los_Angeles unless the account says otherwise) and move
  02:00Z on New Year's day to December 31st.
-#}
{% macro snowflake__utc_date(column) -%}
    cast({{ column }} as date)
{%- endmacro %}

{% macro make_date(year, month, day) -%}
    {{ return(adapter.dispatch('make_date')(year, month, day)) }}
{%- endmacro %}

{% macro default__make_date(year, month, day) -%}make_date({{ year }}, {{ month }}, {{ day }}){%- endmacro %}

{% macro snowflake__make_date(year, month, day) -%}date_from_parts({{ year }}, {{ month }}, {{ day }}){%- endmacro %}

{#-
  The date spine: one row `date_day` per day from `first_day` to `last_day` (inclusive),
  columns of the one-row relation `bounds`.
-#}
{% macro date_spine(bounds, first_day, last_day) -%}
    {{ return(adapter.dispatch('date_spine')(bounds, first_day, last_day)) }}
{%- endmacro %}

{% macro default__date_spine(bounds, first_day, last_day) -%}
    select cast(t.day as date) as date_day
    from {{ bounds }}, generate_series({{ bounds }}.{{ first_day }}, {{ bounds }}.{{ last_day }}, interval 1 day) as t(day)
{%- endmacro %}

{% macro spark__date_spine(bounds, first_day, last_day) -%}
    select explode(sequence({{ first_day }}, {{ last_day }}, interval 1 day)) as date_day
    from {{ bounds }}
{%- endmacro %}

{#-
  Snowflake's generator needs a constant row count: 100,000 days is 273 years. dateadd of
  a DATE is a DATE on Snowflake; the cast keeps it one on fakesnow (DuckDB) as well.
-#}
{% macro snowflake__date_spine(bounds, first_day, last_day) -%}
    select cast(dateadd(day, n.i, {{ bounds }}.{{ first_day }}) as date) as date_day
    from {{ bounds }},
        (select row_number() over (order by seq4()) - 1 as i from table(generator(rowcount => 100000))) as n
    where n.i <= datediff(day, {{ bounds }}.{{ first_day }}, {{ bounds }}.{{ last_day }})
{%- endmacro %}

{#- Full English month name ('March'). -#}
{% macro month_name(column) -%}
    {{ return(adapter.dispatch('month_name')(column)) }}
{%- endmacro %}

{% macro default__month_name(column) -%}strftime({{ column }}, '%B'){%- endmacro %}

{% macro spark__month_name(column) -%}date_format({{ column }}, 'MMMM'){%- endmacro %}

{% macro snowflake__month_name(column) -%}to_char({{ column }}, 'MMMM'){%- endmacro %}

{#- Full English day name ('Sunday'). -#}
{% macro day_name(column) -%}
    {{ return(adapter.dispatch('day_name')(column)) }}
{%- endmacro %}

{% macro default__day_name(column) -%}strftime({{ column }}, '%A'){%- endmacro %}

{% macro spark__day_name(column) -%}date_format({{ column }}, 'EEEE'){%- endmacro %}

{% macro snowflake__day_name(column) -%}
    decode(dayofweekiso({{ column }}), 1, 'Monday', 2, 'Tuesday', 3, 'Wednesday', 4, 'Thursday',
        5, 'Friday', 6, 'Saturday', 7, 'Sunday')
{%- endmacro %}

{#- ISO day of week, Monday = 1 ... Sunday = 7. -#}
{% macro iso_day_of_week(column) -%}
    {{ return(adapter.dispatch('iso_day_of_week')(column)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(column) -%}isodow({{ column }}){%- endmacro %}

{% macro spark__iso_day_of_week(column) -%}extract(dayofweek_iso from {{ column }}){%- endmacro %}

{% macro snowflake__iso_day_of_week(column) -%}dayofweekiso({{ column }}){%- endmacro %}

{#- ISO year and week as one number: 2025-12-31 -> 202601. -#}
{% macro iso_year_week(column) -%}
    {{ return(adapter.dispatch('iso_year_week')(column)) }}
{%- endmacro %}

{% macro default__iso_year_week(column) -%}yearweek({{ column }}){%- endmacro %}

{% macro spark__iso_year_week(column) -%}
    extract(yearofweek from {{ column }}) * 100 + weekofyear({{ column }})
{%- endmacro %}

{% macro snowflake__iso_year_week(column) -%}
    yearofweekiso({{ column }}) * 100 + weekiso({{ column }})
{%- endmacro %}
