-- Campaign ROAS and revenue by channel and month: spend from the budget export,
-- attributed revenue and conversions from the campaign results export.
with spend as (
    select date_trunc('month', spend_date) as month, channel,
        sum(spend) as spend, sum(impressions) as impressions, sum(clicks) as clicks
    from {{ ref('stg_marketing__spend') }}
    group by 1, 2
),

performance as (
    select date_trunc('month', performance_date) as month, channel,
        sum(revenue_attributed) as revenue_attributed, sum(conversions) as conversions
    from {{ ref('stg_marketing__campaign_performance') }}
    group by 1, 2
)

select
    {{ surrogate_key(['coalesce(spend.month, performance.month)', 'coalesce(spend.channel, performance.channel)']) }} as channel_month_key,
    cast(coalesce(spend.month, performance.month) as date) as month,
    coalesce(spend.channel, performance.channel) as channel,
    coalesce(spend.spend, 0) as spend,
    coalesce(spend.impressions, 0) as impressions,
    coalesce(spend.clicks, 0) as clicks,
    coalesce(performance.conversions, 0) as conversions,
    coalesce(performance.revenue_attributed, 0) as revenue_attributed,
    case when spend.spend > 0 then cast(performance.revenue_attributed as double) / spend.spend end as roas
from spend
full outer join performance
    on spend.month = performance.month and spend.channel = performance.channel
