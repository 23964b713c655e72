-- The ad feed's marts lose and invent nothing: impressions, clicks and cost of
-- fct_ad_performance, and every money column of rpt_budget_vs_actual, equal their staging
-- models' totals to the cent. One row per measure that differs.
with staged_events as (
    select sum(impressions) as impressions, sum(clicks) as clicks, sum(cost) as cost
    from {{ ref('stg_marketing__ad_events') }}
),

staged_plan as (
    select sum(planned_budget) as planned_budget from {{ ref('stg_marketing__budget_plan') }}
),

staged_spend as (
    select sum(spend) as spend from {{ ref('stg_marketing__spend') }}
),

performance as (
    select sum(impressions) as impressions, sum(clicks) as clicks, sum(cost) as cost
    from {{ ref('fct_ad_performance') }}
),

budget as (
    select
        sum(planned_budget) as planned_budget,
        sum(ad_platform_cost) as ad_platform_cost,
        sum(exported_spend) as exported_spend
    from {{ ref('rpt_budget_vs_actual') }}
),

measures as (
    select 'fct_ad_performance.impressions' as measure,
        cast(performance.impressions as decimal(38, 2)) as mart_total,
        cast(staged_events.impressions as decimal(38, 2)) as staging_total
    from performance cross join staged_events
    union all
    select 'fct_ad_performance.clicks', cast(performance.clicks as decimal(38, 2)),
        cast(staged_events.clicks as decimal(38, 2))
    from performance cross join staged_events
    union all
    select 'fct_ad_performance.cost', cast(performance.cost as decimal(38, 2)),
        cast(staged_events.cost as decimal(38, 2))
    from performance cross join staged_events
    union all
    select 'rpt_budget_vs_actual.ad_platform_cost', cast(budget.ad_platform_cost as decimal(38, 2)),
        cast(staged_events.cost as decimal(38, 2))
    from budget cross join staged_events
    union all
    select 'rpt_budget_vs_actual.planned_budget', cast(budget.planned_budget as decimal(38, 2)),
        cast(staged_plan.planned_budget as decimal(38, 2))
    from budget cross join staged_plan
    union all
    select 'rpt_budget_vs_actual.exported_spend', cast(budget.exported_spend as decimal(38, 2)),
        cast(staged_spend.spend as decimal(38, 2))
    from budget cross join staged_spend
)

select measure, mart_total, staging_total
from measures
where coalesce(mart_total, 0) <> coalesce(staging_total, 0)
