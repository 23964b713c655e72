-- One row per calendar day (UTC) covering every order, payment, marketing, ad event and
-- budget plan date: from January 1st of the earliest fact's year to December 31st of the
-- year after the latest, so the range follows the data (no fixed end year) and leaves a
-- year of margin for facts that arrive before the next build. Without any fact it covers
-- the current year.
with fact_days as (
    select {{ utc_date('ordered_at') }} as day from {{ ref('stg_shop__orders') }}
    union all
    select {{ utc_date('created_at') }} from {{ ref('stg_stripe__charges') }}
    union all
    select spend_date from {{ ref('stg_marketing__spend') }}
    union all
    select performance_date from {{ ref('stg_marketing__campaign_performance') }}
    union all
    select event_date from {{ ref('stg_marketing__ad_events') }}
    union all
    select plan_date from {{ ref('stg_marketing__budget_plan') }}
),

bounds as (
    select
        {{ make_date('year(coalesce(min(day), current_date))', 1, 1) }} as first_day,
        {{ make_date('year(coalesce(max(day), current_date)) + 1', 12, 31) }} as last_day
    from fact_days
),

days as (
    {{ date_spine('bounds', 'first_day', 'last_day') }}
)

select
    date_day,
    {{ surrogate_key(['date_day']) }} as date_key,
    year(date_day) as year,
    quarter(date_day) as quarter,
    month(date_day) as month,
    {{ month_name('date_day') }} as month_name,
    dayofmonth(date_day) as day_of_month,
    {{ iso_day_of_week('date_day') }} as iso_day_of_week,
    {{ day_name('date_day') }} as day_name,
    {{ iso_day_of_week('date_day') }} in (6, 7) as is_weekend,
    {{ iso_year_week('date_day') }} as iso_year_week
from days
