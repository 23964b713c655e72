-- Budget against actual spend per channel and day: the plan (budget_plan), the ad
-- platform's cost (ad_events) and the spend export's spend (marketing_spend, summed over
-- its campaigns). Every day and channel any of the three knows has a row; a source that
-- has nothing for it contributes 0, so each column sums to its source's total.
with planned as (
    select plan_date as budget_date, channel, sum(planned_budget) as planned_budget
    from {{ ref('stg_marketing__budget_plan') }}
    group by plan_date, channel
),

platform as (
    select event_date as budget_date, channel, sum(cost) as ad_platform_cost
    from {{ ref('stg_marketing__ad_events') }}
    group by event_date, channel
),

exported as (
    select spend_date as budget_date, channel, sum(spend) as exported_spend
    from {{ ref('stg_marketing__spend') }}
    group by spend_date, channel
),

days as (
    select budget_date, channel from planned
    union
    select budget_date, channel from platform
    union
    select budget_date, channel from exported
),

joined as (
    select
        days.budget_date,
        days.channel,
        planned.planned_budget is not null as is_planned,
        cast(coalesce(planned.planned_budget, 0) as decimal(18, 2)) as planned_budget,
        cast(coalesce(platform.ad_platform_cost, 0) as decimal(18, 2)) as ad_platform_cost,
        cast(coalesce(exported.exported_spend, 0) as decimal(18, 2)) as exported_spend
    from days
    left join planned
        on days.budget_date = planned.budget_date and days.channel = planned.channel
    left join platform
        on days.budget_date = platform.budget_date and days.channel = platform.channel
    left join exported
        on days.budget_date = exported.budget_date and days.channel = exported.channel
)

select
    {{ surrogate_key(['budget_date', 'channel']) }} as budget_channel_day_key,
    {{ surrogate_key(['budget_date']) }} as budget_date_key,
    budget_date,
    channel,
    is_planned,
    planned_budget,
    ad_platform_cost,
    exported_spend,
    cast(ad_platform_cost - planned_budget as decimal(18, 2)) as ad_cost_over_plan,
    {{ exact_ratio('ad_platform_cost', 'planned_budget', 4, input_decimals=2) }} as plan_used_ratio
from joined
