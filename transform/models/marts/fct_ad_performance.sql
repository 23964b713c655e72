-- Daily ad performance per channel and campaign, from the ad platform's event feed.
-- Rates are exact decimals (macros/ratios.sql), never doubles: click-through rate as a
-- fraction to 6 decimals, cost per click and per thousand impressions to 4.
with daily as (
    select
        event_date,
        channel,
        campaign_id,
        count(*) as event_count,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(cost) as cost
    from {{ ref('stg_marketing__ad_events') }}
    group by event_date, channel, campaign_id
)

select
    {{ surrogate_key(['event_date', 'channel', 'campaign_id']) }} as ad_performance_key,
    {{ surrogate_key(['event_date']) }} as performance_date_key,
    event_date as performance_date,
    channel,
    campaign_id,
    event_count,
    impressions,
    clicks,
    cast(cost as decimal(18, 2)) as cost,
    {{ exact_ratio('clicks', 'impressions', 6) }} as click_through_rate,
    {{ exact_ratio('cost', 'clicks', 4, input_decimals=2) }} as cost_per_click,
    {{ exact_ratio('cost * 1000', 'impressions', 4, input_decimals=2) }} as cost_per_mille
from daily
